"""The embedded SQLite record store, the default: one file, no server.

The file is created only when asked (``create``), never its folder; it runs in WAL mode so that
checks keep reading while an import writes.
It is a :class:`~joint_sanctions.stores.SqlStore` (dialect :data:`~._sql.SQLITE`): the record
statements, migrations and later stages' tables (cases, re-screening) are written once in
:mod:`._sql_store` and beside it; this module adds the file, its connection and lock, and the fastest
way SQLite writes a batch of records.

Every ``sqlite3`` error leaves this module as a :class:`StoreError`, translated in
:func:`_translated`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from .._errors import JointSanctionsError, StoreError
from .._models import CreditRecord
from ._record_migrations import record_migrations
from ._sql import SQLITE, Dialect, Migration
from ._sql_store import FIELDS, SqlStoreBase, joined

__all__ = ["RECORD_MIGRATIONS", "SqliteStore"]


#: The record store's schema in SQLite, oldest first (see :func:`~._record_migrations.record_migrations`).
RECORD_MIGRATIONS: tuple[Migration, ...] = record_migrations(SQLITE)

_UPSERT_COLUMNS = (*FIELDS, "updated_at", "changed_version")

#: Records per upsert statement: each is one ``sqlite3_step`` with the GIL released (see
#: :meth:`SqliteStore._write_records`); 500 × 19 parameters is within SQLite's limit since 3.32.
_ROWS_PER_STATEMENT = 500


@functools.lru_cache(maxsize=8)
def _upsert(rows: int) -> str:
    """The upsert of ``rows`` records in one statement."""
    values = "(" + ", ".join("?" * len(_UPSERT_COLUMNS)) + ")"
    return (f"INSERT INTO credit_records ({', '.join(_UPSERT_COLUMNS)}) VALUES {', '.join([values] * rows)} "
            "ON CONFLICT (record_id) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in _UPSERT_COLUMNS[1:]))


@contextlib.contextmanager
def _translated(path: str) -> Iterator[None]:
    """The one place where sqlite3 errors become :class:`StoreError`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"database {path}: {exc}") from exc


def _enable_wal(connection: sqlite3.Connection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            # Switching the journal mode fails at once, without the busy handler, while another
            # connection opens the same new file; that passes within milliseconds.
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _check_path(path: str, create: bool) -> None:
    """Refuse a missing file unless asked to create it, and a missing folder always (docs/failing-closed.md)."""
    if os.path.exists(path):
        return
    full = os.path.abspath(path)
    if not create:
        raise StoreError(f"database not found / 数据库不存在: {full}")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise StoreError(f"database folder not found / 数据库目录不存在: {folder} "
                         f"(create it first; {os.path.basename(full)} was not created)")


def _to_row(record: CreditRecord, now: str) -> tuple[Any, ...]:
    return (record.record_id, record.list_type, record.subject_id, record.subject_name,
            record.subject_type, record.authority, record.document_no, record.listed_on.isoformat(),
            record.expires_on.isoformat() if record.expires_on else None, record.status,
            record.reason, record.region_code, record.rectify_by.isoformat() if record.rectify_by else None,
            joined(record.ban_matter_types), joined(record.ban_item_codes),
            record.ban_until.isoformat() if record.ban_until else None,
            record.ended_on.isoformat() if record.ended_on else None, now)


#: The page cache of a store's connection, in KiB (it fills only as pages are read).
_CACHE_KIB = 16 * 1024

class SqliteStore(SqlStoreBase):
    """A :class:`~joint_sanctions.stores.SqlStore` in one SQLite file.

    One connection, guarded by a lock, serves every thread of the process; other processes may open
    the same file at the same time (WAL: readers never wait for the writer).

    Args:
        path: the database file (``:memory:`` for a private in-memory database).
        busy_timeout: seconds a write waits for another process's transaction before failing.
        create: create the file when it is missing. Its folder is never created: a mistyped path
            must not leave a new, empty database behind.

    Raises:
        StoreError: the file is missing (and ``create`` is false), its folder is missing, or it
            cannot be opened or is not a SQLite database.
    """

    dialect: Dialect = SQLITE

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0, create: bool = True) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._where = {"path": self.path}
        self._lock = threading.RLock()
        target: str = self.path
        uri = False
        if self.path not in ("", ":memory:"):
            _check_path(self.path, create)
            if not create:
                # mode=rw: a file removed since the look above fails to open instead of being made anew.
                target, uri = f"file:{urllib.parse.quote(os.path.abspath(self.path))}?mode=rw", True
        with _translated(self.path):
            self._conn = sqlite3.connect(target, timeout=busy_timeout, isolation_level=None,
                                         check_same_thread=False, uri=uri)
            try:
                _enable_wal(self._conn, busy_timeout)
                # In WAL mode NORMAL loses at most the last commits on power loss, never integrity.
                self._conn.execute("PRAGMA synchronous = NORMAL")
                # Room for the inner pages of both B-trees a check reads (records by id, and the subject
                # index): ~3 MB at a million records. With SQLite's 2 MB default they are read again
                # and again, 6.4 page reads a hit on a subject not seen before instead of 4.1.
                self._conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
                with self._lock:
                    self._migrate(self._conn, RECORD_MIGRATIONS)
                    self._restore_indexes(self._conn)
            except BaseException:
                self._conn.close()
                raise

    @property
    def connection(self) -> sqlite3.Connection:
        """The store's connection (autocommit mode); use it under :attr:`lock`."""
        return self._conn

    @property
    def lock(self) -> threading.RLock:
        """The lock every use of :attr:`connection` must hold."""
        return self._lock

    @contextlib.contextmanager
    def _writing(self, data_error: type[JointSanctionsError] = StoreError) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``) under :attr:`lock`; every sqlite3 error is a
        :class:`StoreError`."""
        with self._lock, _translated(self.path), self._schema_change(self._conn):
            yield self._conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection under :attr:`lock` (see :meth:`SqlStore.reading`)."""
        with self._lock, _translated(self.path):
            yield self._conn

    def _rows(self, query: str, params: Any) -> list[Any]:
        """:meth:`reading` for the one statement of a check's lookup, without its two generator
        context managers (~1.7 µs of a hit); sqlite3 errors become :class:`StoreError` alike."""
        with self._lock:
            try:
                return self._conn.execute(query, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"database {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _schema_change(self, conn: sqlite3.Connection) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock at once: one writer at a time, across processes.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def copy_rows(self, conn: sqlite3.Connection, table: str, columns: Sequence[str],
                  rows: Iterable[Sequence[Any]]) -> None:
        """See :meth:`SqlStore.copy_rows`: one prepared INSERT for every row."""
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                         rows)

    def _write_records(self, conn: sqlite3.Connection, records: Collection[CreditRecord], version: int,
                       clock: dict[str, Any]) -> None:
        now = clock["now"]
        rows = [(*_to_row(record, now), version) for record in records]
        per = min(_ROWS_PER_STATEMENT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(_UPSERT_COLUMNS))
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            conn.execute(_upsert(len(chunk)), list(itertools.chain.from_iterable(chunk)))

    def close(self) -> None:
        """Close the connection; later calls raise :class:`StoreError`."""
        with self._lock, _translated(self.path):
            self._conn.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
