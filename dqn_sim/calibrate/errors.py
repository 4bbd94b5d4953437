"""The one error a calibration input can raise: a single line naming the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A file that cannot be calibrated from; the CLI prints it as one line and exits 2."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {' '.join(problem.split())}")
