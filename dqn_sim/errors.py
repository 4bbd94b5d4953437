"""One line for any failure a user's input can cause: the CLI's exit-2 contract and the studio's messages share it.

Why one place: a bad config, file, zip or checkpoint raises many types (``ConfigError``, ``RecursionError`` for
100k-deep JSON, ``OverflowError``, a store's ``StoreError``...), and every entry point, command line or upload
handler, must answer each with the same short line instead of a traceback.
"""

from __future__ import annotations

MAX_ERROR_CHARS = 300
# What bad input can raise: refused values and files, unknown ids, unusable files or stores, hostile nesting or
# sizes. Anything else is a bug and keeps its traceback.
INPUT_ERRORS = (ValueError, KeyError, OSError, RuntimeError, RecursionError, OverflowError, MemoryError)


def one_line(e: BaseException) -> str:
    """The contract's error line: one line, at most ``MAX_ERROR_CHARS`` (a 50 MB config's value is not echoed)."""
    text = " ".join((str(e) or type(e).__name__).split())
    if isinstance(e, KeyError) and len(e.args) == 1 and text.startswith(("'", '"')):
        text = text[1:-1]
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"
