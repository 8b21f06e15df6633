"""A Redis server of the test's own, on a free loopback port, that the test may stop and start.

The shared Redis (REDIS_URL) serves everyone's tests and is never stopped; outages are played
on one of these instead. No persistence: a restart comes back empty, as after a flush.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

from tests.conftest import require


def _free_port(first: int = 6390, last: int = 6490) -> int:
    """A free port of this xdist worker's own slice of the range (a port another worker found
    free at the same moment would start two servers on one port)."""
    from tests.conftest import worker_index

    width = 20
    start = first + (worker_index() * width) % (last - first)
    for port in [*range(start, min(start + width, last)), *range(first, last)]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for a Redis server")


class RedisServer:
    def __init__(self, directory) -> None:
        require(shutil.which("redis-server") is not None, "redis-server is not installed")
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self.started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        for _ in range(1 if self.started else 5):  # a restart keeps its port (its URL)
            if self._start():
                self.started = True
                return self
            self.port = _free_port()  # taken between the probe and the start: another port
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _start(self) -> bool:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    if self.process.poll() is None:
                        return True
            except OSError:
                pass
            if self.process.poll() is not None:  # exited: the port was taken after all
                self.process = None
                return False
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
