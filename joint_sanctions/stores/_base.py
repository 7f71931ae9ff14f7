"""What every record store does alike, written once.

A repair is a status change, a store is its own context manager, and the SQL stores page through
their records by ``record_id`` the same way (each reads a page its own way).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

from .._errors import UnreadableRecordError
from .._models import CreditRecord, trusted
from ..vocabulary import LIST_TYPES, RECORD_STATUSES, SUBJECT_TYPES

#: Records per read in iter_records, so no lock or connection is held while the caller works.
PAGE_SIZE = 1_000


_TEXT_FIELDS = ("subject_id", "subject_name", "authority", "document_no", "reason")


def stored_record(values: dict[str, Any]) -> CreditRecord:
    """The record a stored row holds, built without pydantic once each value is one the engine knows.

    Rows were validated on the way in, so re-validating each would only parse every subject id again on
    every read. A row changed behind the store's back (raw SQL, a bad restore) is refused instead of
    being read as something it is not: an unknown list type would otherwise match no measure and let
    its subject be answered ``clear``.

    Raises:
        UnreadableRecordError: a value the engine does not know, naming the record and the field.
    """
    record_id = values["record_id"]
    problem = _problem(values)
    if problem is not None:
        raise UnreadableRecordError(record_id if type(record_id) is str else repr(record_id), *problem)
    return trusted(CreditRecord, values)


def _problem(values: dict[str, Any]) -> tuple[str, str] | None:
    """The first field of a stored row the engine cannot read, and why; None for a good row."""
    if type(values["record_id"]) is not str or not values["record_id"]:
        return "record_id", "empty or not text"
    if values["list_type"] not in LIST_TYPES:
        return "list_type", f"{_shown(values['list_type'])} is not a known list type"
    if values["subject_type"] is not None and values["subject_type"] not in SUBJECT_TYPES:
        return "subject_type", f"{_shown(values['subject_type'])} is not a known subject type"
    if values["status"] not in RECORD_STATUSES:
        return "status", f"{_shown(values['status'])} is not a known status"
    listed_on, expires_on = values["listed_on"], values["expires_on"]
    if type(listed_on) is not dt.date:
        return "listed_on", f"{_shown(listed_on)} is not a date"
    if expires_on is not None and (type(expires_on) is not dt.date or expires_on <= listed_on):
        return "expires_on", f"{_shown(expires_on)} is not a date after listed_on"
    for name in _TEXT_FIELDS:
        if type(values[name]) is not str or (name == "subject_id" and not values[name]):
            return name, "empty or not text" if name == "subject_id" else "not text"
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


class StoreBase:
    """The parts of :class:`~joint_sanctions.stores.RecordStore` that do not depend on the storage."""

    def set_status(self, record_id: str, status: str, reason: str = "") -> CreditRecord:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def repair(self, record_id: str) -> CreditRecord:
        """See :meth:`RecordStore.repair`."""
        return self.set_status(record_id, "repaired")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class PagedStore(StoreBase):
    """A store whose records are read in pages of :data:`PAGE_SIZE`, ordered by ``record_id``."""

    def _page(self, after: str) -> list[CreditRecord]:
        """Up to PAGE_SIZE records with ``record_id`` greater than ``after``, in ``record_id`` order."""
        raise NotImplementedError

    def iter_records(self) -> Iterator[CreditRecord]:
        """See :meth:`RecordStore.iter_records`; read in pages, so changes made meanwhile may show."""
        after = ""
        while True:
            page = self._page(after)
            yield from page
            if len(page) < PAGE_SIZE:
                return
            after = page[-1].record_id
