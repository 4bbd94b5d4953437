"""Numbers and durations as people read them on a dashboard."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """``75.2`` -> ``1m 15s``; ``None`` (not known yet) -> ``—``."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def compact(n: float) -> str:
    """``20000`` -> ``20k``, ``1500000`` -> ``1.5M``, ``0.1234`` -> ``0.123``: short enough for a metric card."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:.3g}"
