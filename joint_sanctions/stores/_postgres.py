"""The PostgreSQL record store, for production: psycopg 3 behind a connection pool.

Several service processes may share one database. Its schema comes from ordered, versioned
:class:`~joint_sanctions.stores._sqlite.Migration` lists (PostgreSQL dialect, same ids as SQLite's)
recorded in ``schema_migrations``; a transaction-level advisory lock makes processes that start at
once apply them one after the other. Later stages keep their tables (the case outbox) in the same
database: they pass their own migrations to :meth:`PostgresStore.migrate` and run their statements
through :meth:`PostgresStore.transaction` / :meth:`PostgresStore.connection`.

For PostgreSQL-compatible servers (openGauss, KingbaseES; tested here on PostgreSQL only) the SQL
keeps to PostgreSQL 9.5 features: ``INSERT … ON CONFLICT`` (which some openGauss releases lack),
``COPY``, advisory locks, ``BIGSERIAL`` rather than identity columns, ``information_schema`` rather
than newer catalog functions.

Every psycopg error leaves this module as a :class:`StoreError` (or a :class:`RecordError` when the
database refused the data itself), translated in :meth:`PostgresStore._translated`. Messages name
the database without its password and mask resident ids.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from .._errors import JointSanctionsError, RecordError, StoreError
from .._identifiers import mask_text
from .._logging import get_logger
from .._models import CreditRecord
from .._text import redact_url
from ..vocabulary import RECORD_STATUSES
from ._base import PAGE_SIZE, PagedStore, stored_record
from ._sqlite import Migration

__all__ = ["RECORD_MIGRATIONS", "PostgresStore", "apply_migrations"]

_log = get_logger()

Connection = psycopg.Connection[TupleRow]

#: The record store's schema in PostgreSQL, oldest first; ids match the SQLite list. Append; never
#: edit an applied migration.
RECORD_MIGRATIONS: tuple[Migration, ...] = (
    Migration("records-0001", (
        # COLLATE "C" on the keys: ordering and keyset paging then follow code points, as in SQLite
        # and Python, whatever collation the database was created with.
        """CREATE TABLE credit_records (
               record_id    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
               list_type    TEXT COLLATE "C" NOT NULL,
               subject_id   TEXT COLLATE "C" NOT NULL,
               subject_name TEXT NOT NULL,
               subject_type TEXT,
               authority    TEXT NOT NULL,
               document_no  TEXT NOT NULL,
               listed_on    DATE NOT NULL,
               expires_on   DATE,
               status       TEXT NOT NULL CHECK (status IN ('active', 'repaired', 'removed')),
               reason       TEXT NOT NULL,
               updated_at   TIMESTAMPTZ NOT NULL
           )""",
        "CREATE INDEX credit_records_subject_id ON credit_records (subject_id)",
        # Credit repair and removal are decisions someone must be able to trace later.
        """CREATE TABLE record_status_changes (
               id         BIGSERIAL PRIMARY KEY,
               record_id  TEXT NOT NULL,
               status     TEXT NOT NULL,
               reason     TEXT NOT NULL,
               changed_at TIMESTAMPTZ NOT NULL
           )""",
        # Bumped first in every transaction that changes records: data_version() moves exactly when
        # the change becomes visible (a sequence would move before the commit), and the row lock
        # makes record writers take their turns, so versions stamped on records follow commit order.
        """CREATE TABLE record_data_version (
               id      INTEGER PRIMARY KEY CHECK (id = 1),
               version BIGINT NOT NULL
           )""",
        "INSERT INTO record_data_version (id, version) VALUES (1, 0)",
    )),
    # The data version each record was last written at, so an engine's in-memory set of listed
    # subjects catches up with one indexed query instead of re-reading every record.
    Migration("records-0002", (
        "ALTER TABLE credit_records ADD COLUMN changed_version BIGINT NOT NULL DEFAULT 0",
        "CREATE INDEX credit_records_changed_version ON credit_records (changed_version)",
    )),
    # When each list type was last written (docs/failing-closed.md): checks refuse a store that never received
    # a record, or whose lists are older than allowed, and every result says how current it is.
    Migration("records-0003", (
        """CREATE TABLE record_data_as_of (
               list_type  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
               written_at TIMESTAMPTZ NOT NULL
           )""",
        # A database written before this table: each list type's latest write is the best it knows.
        ("INSERT INTO record_data_as_of (list_type, written_at) "
         "SELECT list_type, MAX(updated_at) FROM credit_records GROUP BY list_type"),
    )),
)

# Any fixed 64-bit key works; every process of this library must use the same one.
_MIGRATION_LOCK = 0x6A735F6D69677261  # "js_migra"

_FIELDS: tuple[str, ...] = tuple(CreditRecord.model_fields)
_COLUMNS = ", ".join(_FIELDS)
_SELECT = f"SELECT {_COLUMNS} FROM credit_records"
_LOAD_TABLE = "credit_records_load"
# WITH NO DATA copies the column types (and the "C" collation) without the constraints.
_CREATE_LOAD = (f"CREATE TEMP TABLE {_LOAD_TABLE} ON COMMIT DROP AS "
                f"SELECT {_COLUMNS} FROM credit_records WITH NO DATA")
_COPY_LOAD = f"COPY {_LOAD_TABLE} ({_COLUMNS}) FROM STDIN"
_MERGE_LOAD = (
    f"INSERT INTO credit_records ({_COLUMNS}, updated_at, changed_version) "
    f"SELECT {_COLUMNS}, now(), %s FROM {_LOAD_TABLE} "
    "ON CONFLICT (record_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in (*_FIELDS[1:], "updated_at", "changed_version"))
    # An unchanged record is not rewritten: a nightly re-import of a whole list leaves no dead rows.
    + f" WHERE ({', '.join(f'credit_records.{n}' for n in _FIELDS[1:])}) "
    f"IS DISTINCT FROM ({', '.join(f'excluded.{n}' for n in _FIELDS[1:])})"
)
_BUMP_VERSION = "UPDATE record_data_version SET version = version + 1 RETURNING version"
# now() is the transaction's start, the same instant for every list type of one write.
_STAMP_AS_OF = ("INSERT INTO record_data_as_of (list_type, written_at) SELECT unnest(%s::text[]), now() "
                "ON CONFLICT (list_type) DO UPDATE SET written_at = excluded.written_at")
_LIST_TYPE = _FIELDS.index("list_type")
_ACTIVE_ON = ("status = 'active' AND listed_on <= %(day)s "
              "AND (expires_on IS NULL OR %(day)s < expires_on)")
_BATCH_SIZE = 10_000  # records per COPY and transaction
#: The secondary indexes of credit_records (made by the migrations above). A bulk load into an
#: empty table drops them and builds each once at the end; every open builds any that are missing,
#: so a process that dies inside a bulk load leaves nothing for a person to repair.
_SECONDARY_INDEXES: dict[str, str] = {
    "credit_records_subject_id": "CREATE INDEX IF NOT EXISTS credit_records_subject_id ON credit_records (subject_id)",
    "credit_records_changed_version":
        "CREATE INDEX IF NOT EXISTS credit_records_changed_version ON credit_records (changed_version)",
}
_CONNECT_TIMEOUT = 10  # seconds, unless the URL sets connect_timeout
#: Seconds a pooled connection may sit idle and still be handed out without a probe.
RECHECK_AFTER = 1.0


class _ProbeWhenIdle:
    """The pool's ``check`` and ``reset`` callbacks: probe a connection only after it sat idle.

    A connection killed by the server (a restart, an idle timeout, a failover) must be replaced before
    a caller gets it, but probing each one at every checkout is a round trip on every hit check. A
    connection returned less than :data:`RECHECK_AFTER` seconds ago was alive then and is handed out
    as it is; the pool already drops one that came back broken.
    """

    def __init__(self) -> None:
        self._returned_at: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()

    def reset(self, conn: Connection) -> None:
        self._returned_at[conn] = time.monotonic()

    def check(self, conn: Connection) -> None:
        returned = self._returned_at.get(conn)
        if returned is None or time.monotonic() - returned >= RECHECK_AFTER or conn.broken:
            ConnectionPool.check_connection(conn)


def apply_migrations(connection: Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded in ``schema_migrations``, in list order.

    Safe when several processes start at once: the pending ones are applied in one transaction
    holding ``pg_advisory_xact_lock``, after looking again at what is recorded.

    Args:
        connection: a connection in autocommit mode.
        migrations: the ordered list; ids already applied are skipped.

    Returns:
        The ids applied by this call.

    Raises:
        ValueError: two migrations share an id.
        psycopg.Error: a statement failed; nothing of this call is kept.
    """
    ids = [m.id for m in migrations]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate migration ids in {ids}")
    # Looking first without the lock keeps every later start from queueing behind a migration.
    if set(ids) <= _applied_ids(connection):
        return []
    applied: list[str] = []
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                           "(id TEXT NOT NULL PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
        done = _applied_ids(connection)
        for migration in migrations:
            if migration.id in done:
                continue
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_migrations (id, applied_at) VALUES (%s, now())",
                               (migration.id,))
            applied.append(migration.id)
    return applied


def _applied_ids(connection: Connection) -> set[str]:
    exists = connection.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = "
                                "current_schema() AND table_name = 'schema_migrations'").fetchone()
    if exists is None:
        return set()
    return {row[0] for row in connection.execute("SELECT id FROM schema_migrations")}


def _first(cursor: psycopg.Cursor[TupleRow]) -> Any:
    """The first column of the one row a statement returns (an aggregate, the version row)."""
    row = cursor.fetchone()
    if row is None:
        # Only a damaged schema gets here; a psycopg error is translated like every other.
        raise psycopg.DatabaseError("expected a row, the database returned none")
    return row[0]


def _to_row(record: CreditRecord) -> tuple[Any, ...]:
    return (record.record_id, record.list_type, record.subject_id, record.subject_name,
            record.subject_type, record.authority, record.document_no, record.listed_on,
            record.expires_on, record.status, record.reason)


def _to_record(row: TupleRow) -> CreditRecord:
    return stored_record(dict(zip(_FIELDS, row, strict=True)))


def _password_of(url: str) -> str | None:
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        # Not parseable by libpq: still find a URL's password so that no message repeats it.
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
    return None if password is None else str(password)


def _display_name(url: str) -> str:
    """``postgresql://user@host:port/dbname``, built from the parsed parts: never the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://…"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host') or ''}{port}/{parts.get('dbname') or ''}"


class PostgresStore(PagedStore):
    """A :class:`~joint_sanctions.stores.RecordStore` in a PostgreSQL database.

    A pool of autocommit connections serves every thread of the process; other processes may use
    the same database at the same time. Opening applies :data:`RECORD_MIGRATIONS`.

    Args:
        url: ``postgresql://user:password@host:port/dbname?…`` (or a libpq ``key=value`` string).
        min_size: connections the pool keeps open.
        max_size: connections the pool opens at most; more callers wait for one.
        timeout: seconds a caller waits for a pooled connection before :class:`StoreError`.

    Raises:
        StoreError: the server cannot be reached, refuses the login, or a migration fails.
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 30.0) -> None:
        self.display_url = _display_name(url)
        self._local_writes = 0
        self._local_lock = threading.Lock()
        self._password = _password_of(url)
        options: dict[str, Any] = {"autocommit": True}
        with contextlib.suppress(psycopg.Error):  # an unparseable URL fails in connect() below
            if "connect_timeout" not in conninfo_to_dict(url):
                options["connect_timeout"] = _CONNECT_TIMEOUT
        with self._translated():
            # One direct connection first: a wrong host, password or database is reported at once,
            # where the pool would retry it in the background until its timeout.
            with psycopg.connect(url, **options) as first:
                self._migrate(first, RECORD_MIGRATIONS)
                self._restore_indexes(first)
            probe = _ProbeWhenIdle()
            self._pool: ConnectionPool[Connection] = ConnectionPool(
                url, min_size=min_size, max_size=max_size, timeout=timeout, kwargs=options,
                # A connection broken by a server restart is replaced before use, not handed out.
                check=probe.check, reset=probe.reset, open=True, name=self.display_url)

    @property
    def pool(self) -> ConnectionPool[Connection]:
        """The connection pool (autocommit connections); prefer :meth:`connection`."""
        return self._pool

    @contextlib.contextmanager
    def _translated(self, data_error: type[JointSanctionsError] = StoreError) -> Iterator[None]:
        """The one place where psycopg errors become ours.

        Args:
            data_error: raised when the data itself was refused (a data exception or integrity
                violation, e.g. a NUL character in text); :class:`StoreError` for everything else.
        """
        try:
            yield
        except psycopg.Error as exc:
            diag = exc.diag
            # libpq's connection messages span lines (a hint after the error): keep one line.
            detail = " ".join((diag.message_primary or str(exc) or type(exc).__name__).split())
            if self._password:
                detail = detail.replace(self._password, "***").replace(unquote(self._password), "***")
            # libpq quotes a URI it cannot parse whole, and then the password above is unknown.
            detail = redact_url(detail)
            code = f" (SQLSTATE {diag.sqlstate})" if diag.sqlstate else ""
            kind = data_error if isinstance(exc, psycopg.DataError | psycopg.IntegrityError) else StoreError
            raise kind(f"database {self.display_url}: {mask_text(detail)}{code}") from exc

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled connection in autocommit mode for the block; errors raise :class:`StoreError`."""
        with self._translated(), self._pool.connection() as conn:
            yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run the block in one transaction on a pooled connection (READ COMMITTED).

        Commits when the block ends, rolls back when it raises.

        Raises:
            StoreError: a psycopg error inside the block or at commit.
        """
        with self._transaction() as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, data_error: type[JointSanctionsError] = StoreError) -> Iterator[Connection]:
        with self._translated(data_error), self._pool.connection() as conn, conn.transaction():
            yield conn

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply another stage's migrations to this database (see :func:`apply_migrations`).

        Returns:
            The ids applied now; empty when all were applied before.

        Raises:
            StoreError: a statement failed; nothing of this call is kept.
        """
        with self.connection() as conn:
            return self._migrate(conn, migrations)

    def _migrate(self, connection: Connection, migrations: Sequence[Migration]) -> list[str]:
        applied = apply_migrations(connection, migrations)
        if applied:
            _log.info("schema_migrated", database=self.display_url, applied=applied)
        return applied

    def _restore_indexes(self, conn: Connection) -> None:
        """Build the secondary indexes that are missing (after a bulk load, or a crash inside one)."""
        def missing() -> list[str]:
            return [name for name in _SECONDARY_INDEXES
                    if conn.execute("SELECT to_regclass(%s) IS NULL", (name,)).fetchone() == (True,)]

        # Looked up first without a lock: CREATE INDEX would queue behind any write to the table.
        if not missing():
            return
        started = time.perf_counter()
        with conn.transaction():
            # Two processes creating one index at once can collide in the catalogue: take turns.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            built = missing()
            for name in built:
                conn.execute(_SECONDARY_INDEXES[name])
        if not built:
            return
        _log.info("indexes_built", database=self.display_url, indexes=built,
                  seconds=round(time.perf_counter() - started, 3))

    @contextlib.contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Upserts inside the block are a bulk load: into an empty table the secondary indexes are
        built once when the block ends instead of row by row. Batches commit as usual, so an error
        or a crash keeps those written; the indexes are rebuilt when the block ends however it ends,
        or by the next open after a crash. Into a table that holds records they stay.

        Raises:
            StoreError: the database failed.
        """
        with self._transaction() as conn:
            # The lock makes "empty" hold until the indexes are gone, against a concurrent import.
            conn.execute("LOCK TABLE credit_records IN SHARE ROW EXCLUSIVE MODE")
            deferred = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM credit_records)").fetchone() == (True,)
            if deferred:
                for name in _SECONDARY_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            yield
        finally:
            if deferred:
                with self.connection() as conn:
                    self._restore_indexes(conn)

    # --- RecordStore -----------------------------------------------------------------------------

    def upsert(self, records: Iterable[CreditRecord]) -> int:
        """See :meth:`RecordStore.upsert`; one COPY and one transaction per 10,000 records.

        Raises:
            RecordError: the database refused a record's data (e.g. a NUL character in text).
        """
        written = 0
        pending = iter(records)
        while batch := list(itertools.islice(pending, _BATCH_SIZE)):
            # ON CONFLICT may not touch one row twice in a statement; the last of repeated ids wins,
            # as it would written one by one.
            latest = {record.record_id: record for record in batch}
            with self._transaction(RecordError) as conn:
                version = self._bump(conn)
                conn.execute(_CREATE_LOAD)
                with conn.cursor() as cursor, cursor.copy(_COPY_LOAD) as copy:
                    for record in latest.values():
                        copy.write_row(_to_row(record))
                conn.execute(_MERGE_LOAD, (version,))
                # Stamped even when no row changed: a re-import of an unchanged list is current data.
                conn.execute(_STAMP_AS_OF, (sorted({record.list_type for record in latest.values()}),))
            self._count_local_write()
            written += len(batch)
        return written

    def get(self, record_id: str) -> CreditRecord | None:
        """See :meth:`RecordStore.get`."""
        with self.connection() as conn:
            row = conn.execute(f"{_SELECT} WHERE record_id = %s", (record_id,)).fetchone()
        return None if row is None else _to_record(row)

    def active_records(self, subject_ids: Sequence[str], day: dt.date) -> list[CreditRecord]:
        """See :meth:`RecordStore.active_records`; one query on the subject_id index."""
        if not subject_ids:
            return []
        # One array parameter, whatever the number of ids; the statement stays the same, so the
        # connection prepares it once.
        query = (f"{_SELECT} WHERE subject_id = ANY(%(ids)s) AND {_ACTIVE_ON} "
                 "ORDER BY subject_id, list_type, record_id")
        with self.connection() as conn:
            rows = conn.execute(query, {"ids": list(subject_ids), "day": day}).fetchall()
        return [_to_record(row) for row in rows]

    def set_status(self, record_id: str, status: str, reason: str = "") -> CreditRecord:
        """See :meth:`RecordStore.set_status`; the change and its reason are kept for audit."""
        if status not in RECORD_STATUSES:
            raise RecordError(f"invalid record status {mask_text(status)!r} "
                              f"(expected one of {', '.join(RECORD_STATUSES)})")
        with self._transaction(RecordError) as conn:
            version = self._bump(conn)
            row = conn.execute(f"UPDATE credit_records SET status = %s, updated_at = now(), "
                               f"changed_version = %s WHERE record_id = %s RETURNING {_COLUMNS}",
                               (status, version, record_id)).fetchone()
            if row is None:
                raise RecordError(f"unknown record id {mask_text(record_id)!r}")
            conn.execute("INSERT INTO record_status_changes (record_id, status, reason, changed_at) "
                         "VALUES (%s, %s, %s, now())", (record_id, status, reason))
            conn.execute(_STAMP_AS_OF, ([row[_LIST_TYPE]],))
        self._count_local_write()
        _log.info("record_status_changed", record_id=mask_text(record_id), status=status,
                  reason=mask_text(reason))
        return _to_record(row)

    def _page(self, after: str) -> list[CreditRecord]:
        with self.connection() as conn:
            rows = conn.execute(f"{_SELECT} WHERE record_id > %s ORDER BY record_id LIMIT %s",
                                (after, PAGE_SIZE)).fetchall()
        return [_to_record(row) for row in rows]

    def count(self) -> int:
        """See :meth:`RecordStore.count`."""
        return self._scalar("SELECT COUNT(*) FROM credit_records")

    def listed_subject_ids(self, day: dt.date | None = None) -> set[str]:
        """See :meth:`RecordStore.listed_subject_ids`."""
        with self.connection() as conn:
            if day is None:
                cursor = conn.execute("SELECT DISTINCT subject_id FROM credit_records "
                                      "WHERE status = 'active'")
            else:
                cursor = conn.execute(f"SELECT DISTINCT subject_id FROM credit_records WHERE {_ACTIVE_ON}",
                                      {"day": day})
            return {row[0] for row in cursor}

    def data_version(self) -> int:
        """See :meth:`RecordStore.data_version`; kept in the database, so every process's writes count."""
        return self._scalar("SELECT version FROM record_data_version")

    def data_as_of(self) -> dict[str, dt.datetime]:
        """See :meth:`RecordStore.data_as_of`."""
        with self.connection() as conn:
            rows = conn.execute("SELECT list_type, written_at FROM record_data_as_of").fetchall()
        return {list_type: written_at.astimezone(dt.UTC) for list_type, written_at in rows}

    def listed_since(self, version: int) -> tuple[int, set[str]]:
        """See :meth:`RecordStore.listed_since`."""
        with self.connection() as conn:
            # The version is read first, in its own snapshot: a write committed in between shows up
            # now and again next time, which is harmless; reading it last could skip that write.
            current = int(_first(conn.execute("SELECT version FROM record_data_version")))
            rows = conn.execute("SELECT DISTINCT subject_id FROM credit_records "
                                "WHERE changed_version > %s AND status = 'active'", (version,))
            return current, {subject_id for (subject_id,) in rows}

    @property
    def local_writes(self) -> int:
        """See :attr:`RecordStore.local_writes`."""
        return self._local_writes

    def _count_local_write(self) -> None:
        with self._local_lock:
            self._local_writes += 1

    @staticmethod
    def _bump(conn: Connection) -> int:
        return int(_first(conn.execute(_BUMP_VERSION)))

    def _scalar(self, query: str) -> int:
        with self.connection() as conn:
            return int(_first(conn.execute(query)))

    def close(self) -> None:
        """Close the pool's connections; later calls raise :class:`StoreError`."""
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.display_url!r})"
