"""The subjects an engine knows to be listed, and when the store's data was written, kept current.

The membership set holds ``hash(subject id)`` of every subject with an active record (64-bit values,
not strings: a million subjects take 17 MB where compiled, :func:`~joint_sanctions._accel.membership`);
a check of a subject not in it answers ``clear`` without touching the database
(:mod:`~joint_sanctions._check`). It is kept current: this process's own writes are noticed on the
next check, other processes' writes within ``refresh_interval`` seconds (one indexed query for what
changed). The same refresh keeps the store's ``data_as_of``.
"""

from __future__ import annotations

import threading
import time

from ._accel import membership
from .stores import RecordStore

__all__ = ["ListedSubjects"]


class ListedSubjects:
    """hash(subject id) of every subject with an active record, and the store's data_as_of, kept
    current (module docstring)."""

    def __init__(self, store: RecordStore, refresh_interval: float) -> None:
        self._store = store
        self._interval = refresh_interval
        self._lock = threading.Lock()
        #: The store's ``local_writes`` as of the latest refresh: a check compares the two.
        self.local = store.local_writes
        self._version, ids = store.listed_since(-1)
        self.hashes = membership([hash(i) for i in ids])
        self._read_as_of()
        #: When (time.monotonic) other processes' writes are next looked for.
        self.next_poll = time.monotonic() + refresh_interval

    def _read_as_of(self) -> None:
        # Read after the version: a write in between shows here and again at the next refresh.
        # A new dict each time, never changed afterwards: results share it.
        as_of = self._store.data_as_of()
        self.oldest = min(as_of.values(), default=None)
        self.data_as_of = as_of

    def due(self) -> bool:
        return self._store.local_writes != self.local or time.monotonic() >= self.next_poll

    def refresh(self) -> None:
        with self._lock:
            local = self._store.local_writes  # read before the query: a write meanwhile is seen next time
            # Most polls find nothing new: one row read then, not a query over the records.
            if self._store.data_version() != self._version:
                self._version, ids = self._store.listed_since(self._version)
                self.hashes.update([hash(i) for i in ids])  # never removes: a stale member only costs a lookup
                self._read_as_of()
            self.local = local
            self.next_poll = time.monotonic() + self._interval
