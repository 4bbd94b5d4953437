"""Numbers, durations and names as people read them on a dashboard."""

from __future__ import annotations

import re

from dqn_sim.progress import format_duration as duration

__all__ = ["compact", "delta_color", "duration", "inert", "percent", "plain"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # ANSI escapes start with ESC (\x1b)
# emphasis, code, links and images, HTML, strike-through, math, tables, and Streamlit's :colour[...] and :icons:
_INLINE = re.compile(r"[\\`*_\[\]<>~$|]|:(?=[A-Za-z][\w/-]*[\[:])")
_BLOCK = re.compile(r"^(\s*\d*)([-+#>.)])")  # what makes a list, a heading or a quote of a text's start
# before a link's "(url)", an autolink's "<", a ":directive[" or ":icon:" (a line number's "file:12:" is left alone)
_ACTIVE = re.compile(r"(?<=\])(?=\()|(?=<)|(?=:[A-Za-z][\w/-]*[\[:])")


def compact(n: float) -> str:
    """``20000`` -> ``20k``, ``1500000`` -> ``1.5M``, ``0.1234`` -> ``0.123``: short enough for a metric card."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:.3g}"


def percent(x: float | None, *, signed: bool = False) -> str:
    """One way to write a share or a lift everywhere: ``29.5%``, ``+29.5%``, ``-28.4%``; "—" when unknown. (An
    ASCII minus: st.metric reads a delta's direction from its first character.)"""
    if x is None or x != x:
        return "—"
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def delta_color(lift: float) -> str:
    """A metric card's arrow colour: none for a change that rounds to nothing (no green arrow for +0.0%)."""
    return "off" if abs(lift) < 0.0005 else "normal"


PERCENT_COLUMN = "%+.1f%%"  # NumberColumn format of a lift given in percent points (values x 100)


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 21st: a place in a queue."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def plain(text: object) -> str:
    """A name someone typed or a file brought (a run's, a scenario's, a segment's) as literal text in Markdown:
    control characters dropped, markup escaped, so a name never renders as an image, a link or a colour."""
    escaped = _INLINE.sub(lambda m: "\\" + m.group(0), _CONTROL.sub("", str(text)))
    return _BLOCK.sub(r"\1\\\2", escaped)


def inert(message: object) -> str:
    """A message that may quote a name (an error about a file or a run) as Markdown that loads and links nothing:
    control characters dropped, links, images, autolinks and directives broken, the rest as written."""
    return _ACTIVE.sub(r"\\", _CONTROL.sub("", str(message)))
