"""A Redis server of its own, on a free loopback port, that a test (or the soak,
benchmarks/soak.py) may stop, start and restart.

The shared Redis (REDIS_URL) serves everyone's tests and is never stopped; outages are played
on one of these instead. By default nothing is kept: a restart comes back empty, as after a
flush. ``persistent=True`` keeps an append-only file in ``directory``, and ``stop`` is a
SIGTERM (Redis writes the file out), so a restart keeps the queue as a process manager's
restart does.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.processes import free_port, wait_for_port


class RedisServer:
    def __init__(self, directory, *, persistent: bool = False) -> None:
        if shutil.which("redis-server") is None:
            from tests.conftest import require

            require(False, "redis-server is not installed")
        self.directory = Path(directory)
        self.persistent = persistent
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        persistence = (["--appendonly", "yes", "--appendfsync", "everysec"] if self.persistent
                       else ["--appendonly", "no"])
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *persistence, "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.port, 10, "redis-server")
        return self

    def stop(self) -> None:
        """Persistent: SIGTERM (the append-only file is written out), else SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            if self.persistent:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
            else:
                self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, pause: float = 0.0) -> None:
        """Stop, stay down ``pause`` seconds, start again on the same port."""
        self.stop()
        time.sleep(pause)
        self.start()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
