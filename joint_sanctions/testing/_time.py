"""A settable clock and predictable ids to inject (re-exported by :mod:`joint_sanctions.testing`)."""

from __future__ import annotations

import datetime as dt
import threading


class Clock:
    """A clock that stands still until the test moves it: ``Engine(clock=Clock(...))``.

    Args:
        now: the time it shows, timezone-aware (a naive time is refused: the engine dates checks in
            China Standard Time, so the zone matters).
    """

    def __init__(self, now: dt.datetime) -> None:
        self._lock = threading.Lock()
        self._now = self._aware(now)

    @staticmethod
    def _aware(when: dt.datetime) -> dt.datetime:
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"Clock needs a timezone-aware time, got {when!r}")
        return when

    def __call__(self) -> dt.datetime:
        """The time it is set to."""
        with self._lock:
            return self._now

    def set(self, now: dt.datetime) -> None:
        """Show ``now`` from here on (earlier than before is allowed: a clock set back)."""
        with self._lock:
            self._now = self._aware(now)

    def advance(self, by: dt.timedelta | float) -> dt.datetime:
        """Move forward ``by`` (a timedelta or seconds); return the new time."""
        step = by if isinstance(by, dt.timedelta) else dt.timedelta(seconds=by)
        with self._lock:
            self._now += step
            return self._now

    def timestamp(self) -> float:
        """The time it is set to as epoch seconds, for code that takes a ``time.time``-like clock."""
        return self().timestamp()


class SequentialIds:
    """Predictable ids, ``prefix`` + 0, 1, 2…: ``Engine(new_id=SequentialIds("chk-"))``.

    Attributes:
        issued: every id handed out, in order.
    """

    def __init__(self, prefix: str = "", start: int = 0) -> None:
        self._lock = threading.Lock()
        self._prefix = prefix
        self._next = start
        self.issued: list[str] = []

    def __call__(self) -> str:
        """The next id."""
        with self._lock:
            new = f"{self._prefix}{self._next}"
            self._next += 1
            self.issued.append(new)
            return new
