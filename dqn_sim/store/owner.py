"""Which process owns a live run: a run marked running or paused whose owner has ended was interrupted."""

from __future__ import annotations

import os
import secrets

# Written by runs of this process: tells this process's runs apart from a previous process that had the same pid
# (a restarted container's server is often pid 1 again), which a pid alone cannot.
TOKEN = secrets.token_hex(8)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending anything; POSIX only)."""
    if pid <= 0:  # kill(0, ...) and kill(-1, ...) address process groups, not a process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def owner_gone(pid: object, token: object) -> bool:
    """Whether the process that owns a live run has ended (a run without a valid owner has none alive)."""
    if not isinstance(pid, int):
        return True
    if pid == os.getpid():
        return token != TOKEN
    return not _pid_alive(pid)


def mine() -> dict[str, object]:
    """The owner columns of a run this process trains."""
    return {"owner_pid": os.getpid(), "owner_token": TOKEN}
