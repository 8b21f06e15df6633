"""Fixtures for tests that drive real `rq worker` processes on a Redis server of their own
(tests/redis_server.py), never the shared one. Loaded by ``tests/conftest.py``."""

from __future__ import annotations

import pytest

from tests.processes import kill_whole
from tests.qbo_helpers import start_worker
from tests.redis_server import RedisServer


@pytest.fixture
def own_redis(app, tmp_path, request):
    """A Redis server of the test's own; ``persistent`` (indirect parameter) keeps its data
    over a restart, as a process manager's restart of a Redis with an append-only file."""
    server = RedisServer(tmp_path, persistent=getattr(request, "param", "") == "persistent")
    server.start()
    app.config["REDIS_URL"] = server.url
    app.extensions["changeorder.queue"] = None
    yield server
    server.stop()


@pytest.fixture
def workers(app, own_redis, tmp_path):
    """Start workers (each in its own process group); every one is killed at the end."""
    started = []

    def start(name: str):
        process = start_worker(app, own_redis.url, tmp_path / f"{name}.log", new_session=True)
        process.log_path = tmp_path / f"{name}.log"
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            kill_whole(process)
