"""A binary file wrapper that counts lines and refuses overlong ones while a parser streams it.

A parser handed a file with one 2 GB line would buffer all of it before failing; reading through this
wrapper fails after ``max_line`` bytes instead, naming the line, and reports how much of the file is read.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from dqn_sim.calibrate.errors import DataError

MAX_LINE_BYTES = 1 << 20  # no interaction or item line comes near 1 MiB


class GuardedFile(io.RawIOBase):
    """``open(path, "rb")`` with a line-length limit, a line counter and a read fraction."""

    def __init__(self, path: str | Path, max_line: int = MAX_LINE_BYTES) -> None:
        self.path = Path(path)
        self.max_line = max_line
        self.size = max(os.path.getsize(self.path), 1)
        self.lines = 0  # newlines read so far
        self.bytes_read = 0
        self._run = 0  # bytes since the last newline
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # reads never exceed max_line, so a line wholly inside one read is shorter than the limit
        view = memoryview(buffer)[: self.max_line]
        n = self._file.readinto(view)
        if n:
            self._check(bytes(view[:n]))
        return n

    def _check(self, block: bytes) -> None:
        first = block.find(b"\n")
        if first < 0:
            self._run += len(block)
        if (self._run if first < 0 else self._run + first) > self.max_line:
            raise DataError(self.path, f"line longer than {self.max_line // 1024} KiB (not a log of interactions?)",
                            self.lines + 1)
        if first >= 0:
            self._run = len(block) - block.rfind(b"\n") - 1
        self.lines += block.count(b"\n")
        self.bytes_read += len(block)

    @property
    def fraction(self) -> float:
        return min(self.bytes_read / self.size, 1.0)

    def close(self) -> None:
        self._file.close()
        super().close()
