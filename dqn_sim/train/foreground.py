"""Foreground work (a page a person is waiting for) goes first; training threads step aside meanwhile.

Python runs one thread at a time (the GIL). A training thread beside a web server takes about half of the
interpreter while a page is drawn, which a person feels as a slow click. So a render a person waits for (a
whole page, or a fragment run that answers a click) holds ``FOREGROUND``, and the training loop, between batch
steps, waits while it is held; periodic refreshes draw beside training. The OS may also lower the training
thread's CPU priority (``lower_thread_priority``) so that a browser on the same machine goes first.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import wraps
from typing import ParamSpec, TypeVar

MAX_STEP_ASIDE_S = 0.5  # a training thread never waits longer than this for one render
POLL_S = 0.005

P = ParamSpec("P")
R = TypeVar("R")


class Foreground:
    """A count of renders under way, shared by the threads of one process."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            self._count += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                if self._count == 0:
                    self._idle.set()

    def __call__(self, render: Callable[P, R]) -> Callable[P, R]:
        """Decorate a render function (a page, a fragment) so that it holds the foreground while it runs."""

        @wraps(render)
        def holding(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.held():
                return render(*args, **kwargs)

        return holding

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def step_aside(self, wake: Callable[[], bool] = lambda: False, most_s: float | None = None) -> None:
        """Wait while a render is under way: at most ``most_s`` (default ``MAX_STEP_ASIDE_S``), and not once
        ``wake()`` is true (the render may be waiting on this thread, e.g. for a stop or a policy copy)."""
        most_s = MAX_STEP_ASIDE_S if most_s is None else most_s
        t0 = time.perf_counter()
        while self.busy and time.perf_counter() - t0 < most_s and not wake():
            self._idle.wait(POLL_S)


FOREGROUND = Foreground()


def lower_thread_priority(niceness: int) -> None:
    """Raise the calling thread's nice value (Linux: per thread), so interactive processes on the same cores
    are scheduled first; elsewhere, or when refused, nothing changes."""
    if niceness <= 0 or sys.platform != "linux":
        return
    with suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
