"""The embedded SQLite record store, the default: one file, no server.

The file is created only when asked (``create``), never its folder; it runs in WAL mode so that
checks keep reading while an import writes.
Its schema comes from ordered, versioned :class:`Migration` lists recorded in ``schema_migrations``.
Later stages keep their tables (the case outbox) in the same file: they pass their own migrations to
:meth:`SqliteStore.migrate` and run their statements through :meth:`SqliteStore.transaction`, which
shares the store's connection and lock.

Every ``sqlite3`` error leaves this module as a :class:`StoreError`, translated in
:func:`_translated`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import RecordError, StoreError
from .._identifiers import mask_text
from .._logging import get_logger
from .._models import CreditRecord
from ..vocabulary import RECORD_STATUSES
from ._base import PAGE_SIZE, PagedStore, stored_record

__all__ = ["RECORD_MIGRATIONS", "Migration", "SqliteStore", "apply_migrations"]

_log = get_logger()


@dataclass(frozen=True)
class Migration:
    """One schema change, applied once per database and recorded in ``schema_migrations``.

    Attributes:
        id: unique across every migration list that shares a database; prefix it with the stage
            (``records-0001``, ``cases-0001``) so lists never collide.
        statements: SQL statements run in order, in the same transaction as the record of the id.
    """

    id: str
    statements: tuple[str, ...]


#: The record store's schema, oldest first. Append; never edit an applied migration.
RECORD_MIGRATIONS: tuple[Migration, ...] = (
    Migration("records-0001", (
        # WITHOUT ROWID: the text primary key is the only key, so no second b-tree is kept for it.
        """CREATE TABLE credit_records (
               record_id    TEXT NOT NULL PRIMARY KEY,
               list_type    TEXT NOT NULL,
               subject_id   TEXT NOT NULL,
               subject_name TEXT NOT NULL,
               subject_type TEXT,
               authority    TEXT NOT NULL,
               document_no  TEXT NOT NULL,
               listed_on    TEXT NOT NULL,
               expires_on   TEXT,
               status       TEXT NOT NULL CHECK (status IN ('active', 'repaired', 'removed')),
               reason       TEXT NOT NULL,
               updated_at   TEXT NOT NULL
           ) WITHOUT ROWID""",
        "CREATE INDEX credit_records_subject_id ON credit_records (subject_id)",
        # Credit repair and removal are decisions someone must be able to trace later.
        """CREATE TABLE record_status_changes (
               id         INTEGER PRIMARY KEY,
               record_id  TEXT NOT NULL,
               status     TEXT NOT NULL,
               reason     TEXT NOT NULL,
               changed_at TEXT NOT NULL
           )""",
        # Bumped by every transaction that changes records, so data_version() moves on changes
        # from any process, and not on writes to other tables of this file (PRAGMA data_version
        # would also move on every case written, emptying record caches for nothing). Bumped per
        # transaction rather than by a per-row trigger, which slowed imports by a third.
        """CREATE TABLE record_data_version (
               id      INTEGER PRIMARY KEY CHECK (id = 1),
               version INTEGER NOT NULL
           )""",
        "INSERT INTO record_data_version (id, version) VALUES (1, 0)",
    )),
    # The data version each record was last written at, so an engine's in-memory set of listed
    # subjects catches up with one indexed query instead of re-reading every record.
    Migration("records-0002", (
        "ALTER TABLE credit_records ADD COLUMN changed_version INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX credit_records_changed_version ON credit_records (changed_version)",
    )),
    # When each list type was last written (docs/failing-closed.md): checks refuse a store that never received
    # a record, or whose lists are older than allowed, and every result says how current it is.
    Migration("records-0003", (
        """CREATE TABLE record_data_as_of (
               list_type  TEXT NOT NULL PRIMARY KEY,
               written_at TEXT NOT NULL
           ) WITHOUT ROWID""",
        # A database written before this table: each list type's latest write is the best it knows.
        ("INSERT INTO record_data_as_of (list_type, written_at) "
         "SELECT list_type, MAX(updated_at) FROM credit_records GROUP BY list_type"),
    )),
)

#: The secondary indexes of credit_records (made by the migrations above). A bulk load into an
#: empty store drops them and builds each once at the end, and every open rebuilds any that are
#: missing, so a process that dies inside a bulk load leaves nothing for a person to repair.
_SECONDARY_INDEXES: dict[str, str] = {
    "credit_records_subject_id": "CREATE INDEX credit_records_subject_id ON credit_records (subject_id)",
    "credit_records_changed_version":
        "CREATE INDEX credit_records_changed_version ON credit_records (changed_version)",
}

_FIELDS: tuple[str, ...] = tuple(CreditRecord.model_fields)
_SELECT = f"SELECT {', '.join(_FIELDS)} FROM credit_records"
_UPSERT = (
    f"INSERT INTO credit_records ({', '.join(_FIELDS)}, updated_at, changed_version) "
    f"VALUES ({', '.join('?' * len(_FIELDS))}, ?, ?) "
    f"ON CONFLICT (record_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in (*_FIELDS[1:], "updated_at", "changed_version"))
)
_BUMP_VERSION = "UPDATE record_data_version SET version = version + 1 RETURNING version"
_STAMP_AS_OF = ("INSERT INTO record_data_as_of (list_type, written_at) VALUES (?, ?) "
                "ON CONFLICT (list_type) DO UPDATE SET written_at = excluded.written_at")
_LIST_TYPE = _FIELDS.index("list_type")
_ACTIVE_ON = "status = 'active' AND listed_on <= :day AND (expires_on IS NULL OR :day < expires_on)"
_BATCH_SIZE = 10_000  # rows per write transaction: large enough to amortise the commit


@contextlib.contextmanager
def _translated(path: str) -> Iterator[None]:
    """The one place where sqlite3 errors become :class:`StoreError`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"database {path}: {exc}") from exc


def apply_migrations(connection: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded in ``schema_migrations``, in list order.

    Safe when several processes open a new file at once: the pending ones are applied in one
    ``BEGIN IMMEDIATE`` transaction (one writer at a time) after looking again at what is recorded.

    Args:
        connection: a connection in autocommit mode (``isolation_level=None``).
        migrations: the ordered list; ids already applied are skipped.

    Returns:
        The ids applied by this call.

    Raises:
        ValueError: two migrations share an id.
        sqlite3.Error: a statement failed; nothing of this call is kept.
    """
    ids = [m.id for m in migrations]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate migration ids in {ids}")
    # Looking first without the write lock keeps every later open from queueing behind writers.
    if set(ids) <= _applied_ids(connection):
        return []
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                            "(id TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = _applied_ids(connection)
        applied: list[str] = []
        for migration in migrations:
            if migration.id in done:
                continue
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)",
                                (migration.id, _now()))
            applied.append(migration.id)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return applied


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


def _applied_ids(connection: sqlite3.Connection) -> set[str]:
    if connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                          "AND name = 'schema_migrations'").fetchone() is None:
        return set()
    return {row[0] for row in connection.execute("SELECT id FROM schema_migrations")}


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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _aware(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _to_row(record: CreditRecord, now: str) -> tuple[Any, ...]:
    return (record.record_id, record.list_type, record.subject_id, record.subject_name,
            record.subject_type, record.authority, record.document_no, record.listed_on.isoformat(),
            record.expires_on.isoformat() if record.expires_on else None, record.status,
            record.reason, now)


def _to_record(row: tuple[Any, ...]) -> CreditRecord:
    values = dict(zip(_FIELDS, row, strict=True))
    # SQLite keeps dates as text: one that does not parse stays text, and stored_record refuses it.
    for name in ("listed_on", "expires_on"):
        if type(values[name]) is str:
            with contextlib.suppress(ValueError):
                values[name] = dt.date.fromisoformat(values[name])
    return stored_record(values)


class SqliteStore(PagedStore):
    """A :class:`~joint_sanctions.stores.RecordStore` in one SQLite file.

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

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0, create: bool = True) -> None:
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._local_writes = 0
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
                self._migrate(RECORD_MIGRATIONS)
                self._restore_indexes()
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
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction (``BEGIN IMMEDIATE``) under :attr:`lock`.

        Commits when the block ends, rolls back when it raises.

        Raises:
            StoreError: a sqlite3 error inside the block or at commit.
        """
        with self._lock, _translated(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock, _translated(self.path):
            yield self._conn

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply another stage's migrations to this database (see :func:`apply_migrations`).

        Returns:
            The ids applied now; empty when all were applied before.

        Raises:
            StoreError: a statement failed; nothing of this call is kept.
        """
        with self._lock, _translated(self.path):
            return self._migrate(migrations)

    def _migrate(self, migrations: Sequence[Migration]) -> list[str]:
        applied = apply_migrations(self._conn, migrations)
        if applied:
            _log.info("schema_migrated", path=self.path, applied=applied)
        return applied

    def _missing_indexes(self) -> list[str]:
        present = {name for (name,) in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'credit_records'")}
        return [name for name in _SECONDARY_INDEXES if name not in present]

    def _restore_indexes(self) -> None:
        """Build the secondary indexes that are missing (after a bulk load, or a crash inside one)."""
        if not self._missing_indexes():
            return  # the common case: read-only, no write lock taken
        started = time.perf_counter()
        with self.transaction() as conn:
            missing = self._missing_indexes()  # again under the write lock: another process may have built them
            for name in missing:
                conn.execute(_SECONDARY_INDEXES[name])
        if missing:
            _log.info("indexes_built", path=self.path, indexes=missing,
                      seconds=round(time.perf_counter() - started, 3))

    @contextlib.contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Upserts inside the block are a bulk load: into an empty store, the secondary indexes are
        built once when the block ends instead of row by row (a 1,000,000-record import takes ~30 %
        less time). Batches commit as usual, so an error or a crash keeps those written; the indexes
        are rebuilt when the block ends however it ends, or by the next open after a crash. Into a
        store that holds records the indexes stay, so lookups running meanwhile stay fast.

        Raises:
            StoreError: the database failed.
        """
        with self.transaction() as conn:
            deferred = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM credit_records)").fetchone()[0] == 1
            if deferred:
                for name in _SECONDARY_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            yield
        finally:
            if deferred:
                self._restore_indexes()

    # --- RecordStore -----------------------------------------------------------------------------

    def upsert(self, records: Iterable[CreditRecord]) -> int:
        """See :meth:`RecordStore.upsert`; one transaction per 10,000 records."""
        written = 0
        pending = iter(records)
        while batch := list(itertools.islice(pending, _BATCH_SIZE)):
            stamp = dt.datetime.now(dt.UTC)
            now = stamp.isoformat(timespec="seconds")
            with self.transaction() as conn:
                version = conn.execute(_BUMP_VERSION).fetchone()[0]
                conn.executemany(_UPSERT, [(*_to_row(record, now), version) for record in batch])
                written_at = stamp.isoformat()
                conn.executemany(_STAMP_AS_OF, [(list_type, written_at)
                                                for list_type in {record.list_type for record in batch}])
            self._local_writes += 1
            written += len(batch)
        return written

    def get(self, record_id: str) -> CreditRecord | None:
        """See :meth:`RecordStore.get`."""
        with self._reading() as conn:
            row = conn.execute(f"{_SELECT} WHERE record_id = ?", (record_id,)).fetchone()
        return None if row is None else _to_record(row)

    def active_records(self, subject_ids: Sequence[str], day: dt.date) -> list[CreditRecord]:
        """See :meth:`RecordStore.active_records`; one query on the subject_id index."""
        if not subject_ids:
            return []
        # json_each passes any number of ids as one parameter, under SQLite's variable limit.
        query = (f"{_SELECT} WHERE subject_id IN (SELECT value FROM json_each(:ids)) "
                 f"AND {_ACTIVE_ON} ORDER BY subject_id, list_type, record_id")
        params = {"ids": json.dumps(list(subject_ids)), "day": day.isoformat()}
        with self._reading() as conn:
            rows = conn.execute(query, params).fetchall()
        return [_to_record(row) for row in rows]

    def set_status(self, record_id: str, status: str, reason: str = "") -> CreditRecord:
        """See :meth:`RecordStore.set_status`; the change and its reason are kept for audit."""
        if status not in RECORD_STATUSES:
            raise RecordError(f"invalid record status {mask_text(status)!r} "
                              f"(expected one of {', '.join(RECORD_STATUSES)})")
        stamp = dt.datetime.now(dt.UTC)
        now = stamp.isoformat(timespec="seconds")
        with self.transaction() as conn:
            version = conn.execute(_BUMP_VERSION).fetchone()[0]
            changed = conn.execute("UPDATE credit_records SET status = ?, updated_at = ?, changed_version = ? "
                                   "WHERE record_id = ?", (status, now, version, record_id)).rowcount
            if not changed:
                raise RecordError(f"unknown record id {mask_text(record_id)!r}")
            conn.execute("INSERT INTO record_status_changes (record_id, status, reason, changed_at) "
                         "VALUES (?, ?, ?, ?)", (record_id, status, reason, now))
            row = conn.execute(f"{_SELECT} WHERE record_id = ?", (record_id,)).fetchone()
            conn.execute(_STAMP_AS_OF, (row[_LIST_TYPE], stamp.isoformat()))
        self._local_writes += 1
        _log.info("record_status_changed", record_id=mask_text(record_id), status=status,
                  reason=mask_text(reason))
        return _to_record(row)

    def _page(self, after: str) -> list[CreditRecord]:
        with self._reading() as conn:
            rows = conn.execute(f"{_SELECT} WHERE record_id > ? ORDER BY record_id LIMIT ?",
                                (after, PAGE_SIZE)).fetchall()
        return [_to_record(row) for row in rows]

    def count(self) -> int:
        """See :meth:`RecordStore.count`."""
        with self._reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM credit_records").fetchone()[0])

    def listed_subject_ids(self, day: dt.date | None = None) -> set[str]:
        """See :meth:`RecordStore.listed_subject_ids`."""
        with self._reading() as conn:
            if day is None:
                rows = conn.execute("SELECT DISTINCT subject_id FROM credit_records "
                                    "WHERE status = 'active'")
            else:
                rows = conn.execute(f"SELECT DISTINCT subject_id FROM credit_records WHERE {_ACTIVE_ON}",
                                    {"day": day.isoformat()})
            return {row[0] for row in rows}

    def data_version(self) -> int:
        """See :meth:`RecordStore.data_version`; kept in the file, so other processes' writes count."""
        with self._reading() as conn:
            return int(conn.execute("SELECT version FROM record_data_version").fetchone()[0])

    def data_as_of(self) -> dict[str, dt.datetime]:
        """See :meth:`RecordStore.data_as_of`."""
        with self._reading() as conn:
            rows = conn.execute("SELECT list_type, written_at FROM record_data_as_of").fetchall()
        return {list_type: _aware(written_at) for list_type, written_at in rows}

    def listed_since(self, version: int) -> tuple[int, set[str]]:
        """See :meth:`RecordStore.listed_since`."""
        with self._reading() as conn:
            # The version is read first: a write committed in between shows up now and again
            # next time, which is harmless; reading it last could skip that write for good.
            current = int(conn.execute("SELECT version FROM record_data_version").fetchone()[0])
            # No DISTINCT (the set removes repeats): with it SQLite walks the whole subject_id
            # index instead of the range of changed_version, seconds at a million records.
            rows = conn.execute("SELECT subject_id FROM credit_records "
                                "WHERE changed_version > ? AND status = 'active'", (version,))
            return current, {row[0] for row in rows}

    @property
    def local_writes(self) -> int:
        """See :attr:`RecordStore.local_writes`."""
        return self._local_writes

    def close(self) -> None:
        """Close the connection; later calls raise :class:`StoreError`."""
        with self._lock, _translated(self.path):
            self._conn.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
