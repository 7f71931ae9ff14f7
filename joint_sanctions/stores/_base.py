"""What every record store does alike, written once.

A repair is a status change, a store is its own context manager, and the SQL stores page through
their records by ``record_id`` the same way (each reads a page its own way).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Self

from ..models import CreditRecord

#: Records per read in iter_records, so no lock or connection is held while the caller works.
PAGE_SIZE = 1_000


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
