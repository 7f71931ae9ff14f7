"""The PostgreSQL record store, for production: psycopg 3 behind a connection pool.

Several service processes may share one database. It is a :class:`~joint_sanctions.stores.SqlStore`
(dialect :data:`~._sql.POSTGRESQL`): the record statements, migrations and later stages' tables are
written once in :mod:`._sql_store` and beside it; this module adds the pool, error translation, a
transaction-level advisory lock that makes processes starting at once change the schema one after the
other, and ``COPY`` for batches of records.

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
import time
import weakref
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from .._errors import JointSanctionsError, StoreError
from .._identifiers import mask_text
from .._models import CreditRecord
from .._text import redact_url
from ._record_migrations import record_migrations
from ._sql import POSTGRESQL, Dialect, Migration
from ._sql_store import FIELDS, SqlStoreBase, joined

__all__ = ["RECORD_MIGRATIONS", "PostgresStore"]

Connection = psycopg.Connection[TupleRow]

#: The record store's schema in PostgreSQL, oldest first; the same ids as SQLite's.
RECORD_MIGRATIONS: tuple[Migration, ...] = record_migrations(POSTGRESQL)

# Any fixed 64-bit key works; every process of this library must use the same one.
_MIGRATION_LOCK = 0x6A735F6D69677261  # "js_migra"

_COLUMNS = ", ".join(FIELDS)
_LOAD_TABLE = "credit_records_load"
# WITH NO DATA copies the column types (and the "C" collation) without the constraints.
_CREATE_LOAD = (f"CREATE TEMP TABLE {_LOAD_TABLE} ON COMMIT DROP AS "
                f"SELECT {_COLUMNS} FROM credit_records WITH NO DATA")
_MERGE_LOAD = (
    f"INSERT INTO credit_records ({_COLUMNS}, updated_at, changed_version) "
    f"SELECT {_COLUMNS}, now(), %s FROM {_LOAD_TABLE} "
    "ON CONFLICT (record_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in (*FIELDS[1:], "updated_at", "changed_version"))
    # An unchanged record is not rewritten: a nightly re-import of a whole list leaves no dead rows.
    + f" WHERE ({', '.join(f'credit_records.{n}' for n in FIELDS[1:])}) "
    f"IS DISTINCT FROM ({', '.join(f'excluded.{n}' for n in FIELDS[1:])})"
)
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


def _to_row(record: CreditRecord) -> tuple[Any, ...]:
    return (record.record_id, record.list_type, record.subject_id, record.subject_name,
            record.subject_type, record.authority, record.document_no, record.listed_on,
            record.expires_on, record.status, record.reason, record.region_code, record.rectify_by,
            joined(record.ban_matter_types), joined(record.ban_item_codes), record.ban_until, record.ended_on)


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


class PostgresStore(SqlStoreBase):
    """A :class:`~joint_sanctions.stores.SqlStore` in a PostgreSQL database.

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

    dialect: Dialect = POSTGRESQL

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 30.0) -> None:
        super().__init__()
        self.display_url = _display_name(url)
        self._where = {"database": self.display_url}
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

    def reading(self) -> contextlib.AbstractContextManager[Connection]:
        """A pooled connection (see :meth:`SqlStore.reading`)."""
        return self.connection()

    @contextlib.contextmanager
    def _writing(self, data_error: type[JointSanctionsError] = StoreError) -> Iterator[Connection]:
        """One transaction on a pooled connection (READ COMMITTED)."""
        with self._translated(data_error), self._pool.connection() as conn, conn.transaction():
            yield conn

    @contextlib.contextmanager
    def _schema_change(self, conn: Connection) -> Iterator[None]:
        with conn.transaction():
            # Two processes changing the catalogue at once can collide in it: take turns.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            yield

    def copy_rows(self, conn: Connection, table: str, columns: Sequence[str],
                  rows: Iterable[Sequence[Any]]) -> None:
        """See :meth:`SqlStore.copy_rows`: one ``COPY``."""
        with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _write_records(self, conn: Connection, records: Collection[CreditRecord], version: int,
                       clock: dict[str, Any]) -> None:
        conn.execute(_CREATE_LOAD)
        self.copy_rows(conn, _LOAD_TABLE, FIELDS, map(_to_row, records))
        conn.execute(_MERGE_LOAD, (version,))

    def close(self) -> None:
        """Close the pool's connections; later calls raise :class:`StoreError`."""
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.display_url!r})"
