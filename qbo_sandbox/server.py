"""Serve a sandbox on a loopback port in a background thread (tests) or in the foreground."""

from __future__ import annotations

import threading
from collections.abc import Callable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import API_PREFIX, DISCOVERY_PATH, create_sandbox_app
from .state import Sandbox


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class SandboxServer:
    """A sandbox served by werkzeug's threaded server.

    >>> server = SandboxServer().start()     # port 0: a free port is chosen
    >>> server.base_url, server.discovery_url, server.api_url_v3, server.sandbox
    >>> server.stop()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sandbox: Sandbox | None = None,
        quiet: bool = True,
        **sandbox_kwargs: object,
    ) -> None:
        self.host = host
        self.port = port
        self.sandbox = sandbox if sandbox is not None else Sandbox(**sandbox_kwargs)  # type: ignore[arg-type]
        self.app = create_sandbox_app(self.sandbox)
        self.quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self) -> BaseWSGIServer:
        handler = _QuietHandler if self.quiet else None
        server = make_server(self.host, self.port, self.app, threaded=True,
                             request_handler=handler)
        server.daemon_threads = True  # type: ignore[attr-defined]
        self.port = server.server_port
        return server

    def start(self) -> SandboxServer:
        """Start serving in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="qbo-sandbox", daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self, on_ready: Callable[[SandboxServer], None] | None = None) -> None:
        """Serve in the calling thread until interrupted (``on_ready`` once listening)."""
        self._server = self._make_server()
        if on_ready is not None:
            on_ready(self)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self._server = None

    def stop(self) -> None:
        if self._server is None:
            return
        with self.sandbox.lock:
            for realm in self.sandbox.realms.values():
                realm.paused = False
                realm.gate.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def discovery_url(self) -> str:
        return self.base_url + DISCOVERY_PATH

    @property
    def api_base_url(self) -> str:
        """``{base}/v3/company``: the API is at ``{api_base_url}/{realmId}/{entity}``."""
        return self.base_url + API_PREFIX

    @property
    def api_url_v3(self) -> str:
        """``{base}/v3``: the value for python-quickbooks' ``QuickBooks.api_url_v3`` and
        ``QuickBooks.sandbox_api_url_v3`` (the library appends ``/company/{realmId}/...``
        itself, so these must NOT end in ``/company``)."""
        return self.base_url + "/v3"
