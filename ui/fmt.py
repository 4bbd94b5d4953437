"""Numbers and durations as people read them on a dashboard."""

from __future__ import annotations

from dqn_sim.progress import format_duration as duration

__all__ = ["compact", "duration"]


def compact(n: float) -> str:
    """``20000`` -> ``20k``, ``1500000`` -> ``1.5M``, ``0.1234`` -> ``0.123``: short enough for a metric card."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:.3g}"
