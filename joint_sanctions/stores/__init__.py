"""Where credit records live: the :class:`RecordStore` protocol and :func:`open_store`.

Backends plug in behind the protocol: :class:`~joint_sanctions.stores._sqlite.SqliteStore` (the
embedded default), :class:`~joint_sanctions.stores._postgres.PostgresStore` (production; needs the
``postgres`` extra) and :class:`~joint_sanctions.testing.MemoryStore` (for tests and examples).
:func:`open_store` is the one place that turns a database URL into a store.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from .._errors import StoreError
from .._models import CreditRecord
from .._text import redact_url
from ._sqlite import SqliteStore

if TYPE_CHECKING:
    from ._postgres import PostgresStore

__all__ = ["DEFAULT_URL", "BulkLoading", "RecordStore", "SqliteStore", "open_store", "postgres_store_type"]

#: Used when neither an argument nor ``JOINT_SANCTIONS_DB`` names a database (docs/cli.md).
DEFAULT_URL = "sqlite:///./joint_sanctions.db"

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@runtime_checkable
class RecordStore(Protocol):
    """Credit records by ``record_id``, queried by subject.

    Subject ids passed in are normalised ones (as :func:`~joint_sanctions._identifiers.parse_identifier`
    returns them); records hold them that way because :class:`CreditRecord` normalises on creation.
    """

    def upsert(self, records: Iterable[CreditRecord]) -> int:
        """Insert each record, or replace the stored one with the same ``record_id``.

        Records are written in order, so of two with the same id the later one wins.

        Returns:
            The number of records written.
        """
        ...

    def get(self, record_id: str) -> CreditRecord | None:
        """The record with this id, or None."""
        ...

    def active_records(self, subject_ids: Sequence[str], day: dt.date) -> list[CreditRecord]:
        """Records of any of ``subject_ids`` that count on ``day``.

        A record counts while its status is ``active`` and ``listed_on <= day < expires_on``
        (no ``expires_on`` = open-ended).

        Returns:
            The records ordered by (subject_id, list_type, record_id).
        """
        ...

    def set_status(self, record_id: str, status: str, reason: str = "") -> CreditRecord:
        """Change a record's status (credit repair, removal, or back to active).

        Args:
            record_id: the record to change.
            status: ``active``, ``repaired`` or ``removed``.
            reason: why, kept for audit where the backend can.

        Returns:
            The record as stored after the change.

        Raises:
            RecordError: unknown ``record_id`` or invalid ``status``.
        """
        ...

    def repair(self, record_id: str) -> CreditRecord:
        """Mark a record ``repaired`` (信用修复): it stops counting at once.

        Raises:
            RecordError: unknown ``record_id``.
        """
        ...

    def iter_records(self) -> Iterator[CreditRecord]:
        """Every stored record, ordered by ``record_id``."""
        ...

    def count(self) -> int:
        """How many records are stored, whatever their status."""
        ...

    def listed_subject_ids(self, day: dt.date | None = None) -> set[str]:
        """Subject ids with at least one ``active`` record (counting on ``day`` when given)."""
        ...

    def data_version(self) -> int:
        """A number that grows whenever a stored record changes, from any connection or process."""
        ...

    def data_as_of(self) -> dict[str, dt.datetime]:
        """When each list type was last written: ``{list_type: aware time}``.

        Every write of records stamps the list types it wrote (an upsert, also of unchanged records;
        a status change, such as a repair, stamps its record's list type). Empty while no record was
        ever written: checks then refuse to answer (docs/failing-closed.md).
        """
        ...

    def listed_since(self, version: int) -> tuple[int, set[str]]:
        """Catch up on listings: ``(data_version now, subject ids with an active record written after
        version)``. ``listed_since(-1)`` gives every subject with an active record."""
        ...

    @property
    def local_writes(self) -> int:
        """How many write transactions went through this store object; reading it costs no I/O,
        so an engine can notice its own process's writes on every check."""
        ...

    def close(self) -> None:
        """Release the backend's resources; closing twice is harmless."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


@runtime_checkable
class BulkLoading(Protocol):
    """What a :class:`RecordStore` may add to make large imports faster (optional).

    :func:`~joint_sanctions._records.import_records` runs its upserts inside :meth:`bulk_load` when
    the store has it.
    """

    def bulk_load(self) -> AbstractContextManager[None]:
        """A block of many upserts: the store may defer work (index upkeep) to its end. Whatever
        was written inside stays written when the block ends by an error, and the store is fully
        usable afterwards."""
        ...


def open_store(url: str | None = None, *, create: bool = False) -> RecordStore:
    """Open the record store a database URL names.

    A missing SQLite file is an error unless ``create`` is given: a mistyped path or another working
    directory must never turn into a new, empty database that answers every check ``clear``.

    Args:
        url: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, a bare path ending in
            ``.db``/``.sqlite``/``.sqlite3``, or ``postgresql://…``. ``None`` means the environment
            variable ``JOINT_SANCTIONS_DB``, else :data:`DEFAULT_URL`.
        create: create a missing SQLite file (never its folder). A PostgreSQL database is never
            created; its tables are, on every open.

    Returns:
        An open store, its schema up to date.

    Raises:
        StoreError: the URL is not supported, the SQLite file (without ``create``) or its folder is
            missing, or the database cannot be opened. Messages never show a password.
    """
    if url is None:
        url = os.environ.get("JOINT_SANCTIONS_DB") or DEFAULT_URL
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.lower().endswith(_SQLITE_SUFFIXES):
            return _open_sqlite(url, create)
        raise StoreError(redact_url(f"not a database URL: {url!r} (use sqlite:///path.db, a path ending "
                                    "in .db, or postgresql://…)"))
    scheme = scheme.lower()
    if scheme == "sqlite":
        # sqlite:///x.db → "/x.db" after the scheme; the first slash separates an (empty) host.
        if not rest.startswith("/") or rest == "/":
            raise StoreError(redact_url(f"malformed SQLite URL {url!r}: use sqlite:///relative/path.db or "
                                        "sqlite:////absolute/path.db"))
        return _open_sqlite(rest[1:], create)
    if scheme in ("postgresql", "postgres"):
        return _open_postgres(url)
    # Only the scheme is echoed: the rest of a URL may carry a password.
    raise StoreError(f"unsupported database URL scheme {scheme!r}: use sqlite:///path.db or "
                     "postgresql://…")


def _open_sqlite(path: str, create: bool) -> RecordStore:
    return SqliteStore(os.path.expanduser(path), create=create)


def _open_postgres(url: str) -> RecordStore:
    # psycopg is an optional dependency: only a PostgreSQL URL needs it.
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise StoreError(f"PostgreSQL support needs psycopg 3 ({exc}): "
                         "pip install 'joint-sanctions[postgres]'") from exc
    from ._postgres import PostgresStore

    return PostgresStore(url)


def postgres_store_type() -> type[PostgresStore] | None:
    """:class:`~joint_sanctions.stores._postgres.PostgresStore`, or None where psycopg is not installed.

    For ``isinstance`` tests of stages that support PostgreSQL without requiring psycopg.
    """
    try:
        from ._postgres import PostgresStore
    except ImportError:  # psycopg is not installed, so no PostgresStore can exist
        return None
    return PostgresStore
