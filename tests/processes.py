"""Processes the tests and the soak kill whole: a process and everything under it, found
through /proc (RQ puts its work horse in a session of its own, so a process group would miss
it)."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import suppress


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


def kill_whole(process: subprocess.Popen) -> None:
    """kill -9 of the process and everything under it (RQ's work horse is in a session of its
    own, so the process group alone would miss it)."""
    for pid in [process.pid, *descendants(process.pid)]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
