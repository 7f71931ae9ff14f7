"""MemoryStore: the record store contract, held in memory (re-exported by :mod:`joint_sanctions.testing`)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence

from .._case_model import CaseBackend
from .._models import CreditRecord, RecordChange, RecordEvent, trusted
from ..stores._base import StoreBase, Validator, merged, status_changed, unknown_record
from ..stores._sqlite import SqliteStore


class MemoryStore(StoreBase):
    """A :class:`~joint_sanctions.stores.RecordStore` held in a dict.

    Args:
        records: records to start with.

    Attributes:
        status_changes: every status change that succeeded (:meth:`set_status`, :meth:`change_status`),
            as ``(record_id, status, reason)``, oldest first, so tests can assert on credit repair.
    """

    def __init__(self, records: Iterable[CreditRecord] = ()) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, CreditRecord] = {}
        # Record ids per subject, so active_records does not scan every record.
        self._by_subject: dict[str, set[str]] = {}
        self._version = 0
        self._changed: dict[str, int] = {}  # record id → data version it was last written at
        self.local_writes = 0  # RecordStore.local_writes: an attribute, read on every check
        self._as_of: dict[str, dt.datetime] = {}  # list type → when it was last written
        self.status_changes: list[tuple[str, str, str]] = []
        self._history: dict[str, list[RecordEvent]] = {}
        self._cases: SqliteStore | None = None
        self.upsert(records)

    def upsert_checked(self, records: Iterable[CreditRecord]) -> tuple[int, dict[str, str]]:
        """See :meth:`RecordStore.upsert_checked`."""
        written = 0
        refused: dict[str, str] = {}
        with self._lock:
            list_types = set()
            for record in records:
                list_types.add(record.list_type)
                old = self._records.get(record.record_id)
                new, why, action = merged(old, record)
                if new is None:
                    refused[record.record_id] = why
                    continue
                refused.pop(record.record_id, None)
                self._put(new)
                written += 1
                if action is not None:
                    self._event(new, action, old, new.listed_on if action == "relisted" else None, "import")
            self._stamp(list_types)
            self.local_writes += 1
        return written, refused

    def _event(self, record: CreditRecord, action: str, before: CreditRecord | None, effective_on: dt.date | None,
               source: str, change: RecordChange | None = None) -> None:
        self._history.setdefault(record.record_id, []).append(trusted(RecordEvent, {
            "record_id": record.record_id, "action": action, "effective_on": effective_on,
            "reason": change.reason if change else "", "decision_no": change.decision_no if change else "",
            "authority": change.authority if change else "", "early": change.early if change else False,
            "source": source, "changed_at": dt.datetime.now(dt.UTC), "before": before, "after": record}))

    def _stamp(self, list_types: Iterable[str]) -> None:
        # Strictly later than any earlier stamp, as two writes a database commits one after the other.
        latest = max(self._as_of.values(), default=dt.datetime.min.replace(tzinfo=dt.UTC))
        now = max(dt.datetime.now(dt.UTC), latest + dt.timedelta(microseconds=1))
        for list_type in list_types:
            self._as_of[list_type] = now

    def _put(self, record: CreditRecord) -> None:
        old = self._records.get(record.record_id)
        if old is not None and old.subject_id != record.subject_id:
            self._by_subject[old.subject_id].discard(record.record_id)
        self._records[record.record_id] = record
        self._by_subject.setdefault(record.subject_id, set()).add(record.record_id)
        self._version += 1
        self._changed[record.record_id] = self._version

    def get(self, record_id: str) -> CreditRecord | None:
        """See :meth:`RecordStore.get`."""
        with self._lock:
            return self._records.get(record_id)

    def active_records(self, subject_ids: Sequence[str], day: dt.date) -> list[CreditRecord]:
        """See :meth:`RecordStore.active_records`."""
        with self._lock:
            found = [self._records[record_id]
                     for subject_id in set(subject_ids)
                     for record_id in self._by_subject.get(subject_id, ())]
        return sorted((r for r in found if r.is_active(day)),
                      key=lambda r: (r.subject_id, r.list_type, r.record_id))

    def change_status(self, record_id: str, change: RecordChange, validate: Validator | None = None) -> CreditRecord:
        """See :meth:`RecordStore.change_status`."""
        with self._lock:
            old = self._records.get(record_id)
            if old is None:
                raise unknown_record(record_id)
            if validate is not None:
                validate(old, change)
            record, action = status_changed(old, change)
            self._put(record)
            self._event(record, action, old, change.on, "decision", change)
            self._stamp([record.list_type])
            self.status_changes.append((record_id, record.status, change.reason))
            self.local_writes += 1
        return record

    def history(self, record_id: str) -> list[RecordEvent]:
        """See :meth:`RecordStore.history`."""
        with self._lock:
            return list(self._history.get(record_id, ()))

    def records_of(self, subject_id: str) -> list[CreditRecord]:
        """See :meth:`RecordStore.records_of`."""
        with self._lock:
            found = [self._records[record_id] for record_id in self._by_subject.get(subject_id, ())]
        return sorted(found, key=lambda r: (r.listed_on, r.record_id))

    def iter_records(self) -> Iterator[CreditRecord]:
        """See :meth:`RecordStore.iter_records`; a snapshot taken when iteration starts."""
        with self._lock:
            snapshot = sorted(self._records.values(), key=lambda r: r.record_id)
        yield from snapshot

    def count(self) -> int:
        """See :meth:`RecordStore.count`."""
        with self._lock:
            return len(self._records)

    def listed_subject_ids(self, day: dt.date | None = None) -> set[str]:
        """See :meth:`RecordStore.listed_subject_ids`."""
        with self._lock:
            return {r.subject_id for r in self._records.values()
                    if r.status == "active" and (day is None or r.is_active(day))}

    def data_version(self) -> int:
        """See :meth:`RecordStore.data_version`."""
        with self._lock:
            return self._version

    def data_as_of(self) -> dict[str, dt.datetime]:
        """See :meth:`RecordStore.data_as_of`."""
        with self._lock:
            return dict(self._as_of)

    def listed_since(self, version: int) -> tuple[int, set[str]]:
        """See :meth:`RecordStore.listed_since`."""
        with self._lock:
            return self._version, {r.subject_id for rid, r in self._records.items()
                                   if (r.status == "active" or r.ended_on is not None) and self._changed[rid] > version}


    def case_backend(self) -> CaseBackend:
        """The case tables of this store, in a private in-memory SQLite database it owns: every engine
        and case book over the same store sees the same cases."""
        return self.sql_tables().case_backend()

    def sql_tables(self) -> SqliteStore:
        """The private in-memory SQLite database that keeps this store's case and audit tables."""
        with self._lock:
            if self._cases is None:
                self._cases = SqliteStore(":memory:")
            return self._cases

    def close(self) -> None:
        """Nothing to release; the records stay readable."""
