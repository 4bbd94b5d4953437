"""What the run store raises: each message is one line that names the store or the file concerned."""

from __future__ import annotations


class RunNotFound(KeyError):
    """No run with this id in the store."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class RunIdTaken(ValueError):
    """A run id the caller chose is already a run's."""


class RunImportError(ValueError):
    """An export zip that was refused; the message says why. The store is left unchanged."""


class StoreError(RuntimeError):
    """The store cannot be used as asked: unwritable, read-only, busy beyond the wait, or damaged.

    Raised instead of ``sqlite3`` and ``OSError`` exceptions, so a caller needs one ``except`` to tell the user.
    """


class StoreVersionError(StoreError):
    """The database was written by a newer dqn_sim than this one."""


def short(value: object, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters: messages quote untrusted values and must stay one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cut(message: str, limit: int = 300) -> str:
    """A message cut to ``limit`` characters (a config error quotes the value it refused, which may be huge)."""
    return message if len(message) <= limit else message[: limit - 1] + "…"
