"""A small progress bar on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Self


class Progress:
    """Counts done items; redraws at most ten times a second; silent when stderr is not a tty."""

    def __init__(self, label: str, total: int | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._enabled = sys.stderr.isatty()
        self._last = 0.0

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self._enabled and now - self._last >= 0.1:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            width = 30
            filled = int(width * min(self.done, self.total) / self.total)
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        else:
            sys.stderr.write(f"\r{self.label} {self.done}")
        sys.stderr.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._enabled and self.done:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()
