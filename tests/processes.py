"""Processes the tests and the soak start and kill: a free loopback port for one, waiting for
it to listen, and killing a process and everything under it, found through /proc (RQ puts its
work horse in a session of its own, so a process group would miss it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import suppress


def free_port() -> int:
    """A loopback port no one listens on now (the kernel's pick: parallel test processes do
    not race for the same one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds} s")


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _process_group(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def work_horses(worker: subprocess.Popen) -> list[int]:
    """The work horse of an ``rq worker`` started in a session of its own (the forked process
    running a job, in a process group of its own; the scheduler stays in the worker's)."""
    return [pid for pid in descendants(worker.pid)
            if _process_group(pid) not in (None, worker.pid)]


def kill_horse(worker: subprocess.Popen, seconds: float = 3.0) -> bool:
    """SIGKILL of the worker's work horse alone, when one runs within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        horses = work_horses(worker)
        if horses:
            for pid in horses:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return True
        time.sleep(0.05)
    return False


def kill_whole(process: subprocess.Popen) -> None:
    """kill -9 of the process and everything under it (RQ's work horse is in a session of its
    own, so the process group alone would miss it)."""
    for pid in [process.pid, *descendants(process.pid)]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
