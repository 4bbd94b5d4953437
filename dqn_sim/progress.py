"""A stderr progress bar with rate and ETA for long CLI work (silent for work under a second)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float | None) -> str:
    """``75.2`` -> ``1m 15s``; ``None`` or NaN (not known yet) -> ``—``. Shared by the CLI and the studio."""
    if seconds is None or seconds != seconds:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


class ProgressBar:
    """``update(fraction, detail)``; draws only once the work has run for ``delay`` seconds."""

    def __init__(self, label: str, stream: TextIO | None = None, delay: float = 1.0, width: int = 28) -> None:
        self.label, self.stream, self.delay, self.width = label, stream or sys.stderr, delay, width
        self.t0 = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, fraction: float, detail: str = "", *, final: bool = False) -> None:
        """Redraws at most five times a second, except ``final``: the closing state is always drawn (once the
        work has run for ``delay``)."""
        now = time.perf_counter()
        elapsed = now - self.t0
        if elapsed < self.delay or (now - self._last_draw < 0.2 and not final):
            return
        self._last_draw = now
        fraction = min(max(fraction, 0.0), 1.0)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        extra = f" · {detail}" if detail else ""
        self.stream.write(
            f"\r{self.label} [{bar}] {100 * fraction:5.1f}%{extra} · "
            f"elapsed {format_duration(elapsed)} · ETA {format_duration(eta)}  "
        )
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
