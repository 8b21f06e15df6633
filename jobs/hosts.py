"""Whether a worker process is gone: the outbox and the worker ask it of a job's holder."""

from __future__ import annotations

import os
import socket


def process_is_gone(hostname: str | None, pid: int | str | None) -> bool:
    """True only when the process ran on this host and no longer exists."""
    try:
        pid = int(pid or 0)
    except ValueError:
        return False
    if not pid or hostname != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    try:  # a zombie (dead, its parent killed too, not yet reaped) is gone as well
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False
