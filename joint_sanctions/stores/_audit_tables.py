"""Where the audit log lives: its tables, their migrations (``audit-0001``…), and
:class:`SqlAuditTables`, the statements :class:`joint_sanctions._audit.AuditLog` runs in a
:class:`~._sql.SqlStore`'s database.

Two tables: ``audit_log`` (one row per entry, numbered from 1 without gaps) and ``audit_head`` (one
row: the number and hash of the last entry). Appending takes the head row's lock first — ``FOR
UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite — so appenders in any number of processes take
turns and the chain never forks; the unique index on ``prev_hash`` refuses a fork even from a writer
that skipped the lock. Every column the hash covers is text or an integer, stored as written, so the
hash recomputed from a row read back is the hash computed before it was written, in both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .._errors import StoreError
from ._base import RecordStore
from ._sql import Dialect, Migration, SqlStore

__all__ = ["AUDIT_COLUMNS", "GENESIS", "SqlAuditTables", "audit_migrations", "audit_tables_of"]

#: The columns of an audit entry in their canonical order (the hash covers all but the last).
AUDIT_COLUMNS: tuple[str, ...] = (
    "seq", "recorded_at", "caller", "check_id", "case_id", "checked_at", "subject_id", "subject_type",
    "matter_type", "decision", "revision", "result_digest", "prev_hash", "algorithm", "entry_hash",
)
#: The ``prev_hash`` of the first entry: no entry comes before it.
GENESIS = "0" * 64


def audit_migrations(d: Dialect) -> tuple[Migration, ...]:
    """The audit log's schema in dialect ``d``, oldest first. Append; never edit an applied migration."""
    return (
        Migration("audit-0001", (
            # Times are ISO text, not the dialect's time type: a TIMESTAMPTZ read back is spelt
            # differently from what was hashed.
            f"""CREATE TABLE audit_log (
                   seq           BIGINT NOT NULL PRIMARY KEY,
                   recorded_at   TEXT NOT NULL,
                   caller        TEXT,
                   check_id      {d.key_text} NOT NULL,
                   case_id       TEXT,
                   checked_at    TEXT NOT NULL,
                   subject_id    TEXT NOT NULL,
                   subject_type  TEXT NOT NULL,
                   matter_type   TEXT NOT NULL,
                   decision      TEXT NOT NULL,
                   revision      TEXT NOT NULL,
                   result_digest TEXT NOT NULL,
                   prev_hash     {d.key_text} NOT NULL,
                   algorithm     TEXT NOT NULL,
                   entry_hash    {d.key_text} NOT NULL
               )""",
            "CREATE UNIQUE INDEX audit_log_prev_hash ON audit_log (prev_hash)",
            "CREATE INDEX audit_log_check_id ON audit_log (check_id)",
            """CREATE TABLE audit_head (
                   id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
                   seq        BIGINT NOT NULL,
                   entry_hash TEXT NOT NULL
               )""",
            f"INSERT INTO audit_head (id, seq, entry_hash) VALUES (1, 0, '{GENESIS}')",
        )),
    )


_INSERT = (f"INSERT INTO audit_log ({', '.join(AUDIT_COLUMNS)}) "
           f"VALUES ({', '.join(':' + c for c in AUDIT_COLUMNS)})")
_SELECT = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log"

#: Builds the rows of one append from the head it follows: ``(last seq, last hash) → rows``.
RowBuilder = Callable[[int, str], Sequence[Mapping[str, Any]]]


class SqlAuditTables:
    """The audit log's tables in a :class:`~._sql.SqlStore`'s database (created on first use).

    Raises:
        StoreError: the migrations or any later statement fail.
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        d = self._dialect = store.dialect
        store.migrate(audit_migrations(d))
        self._lock_head = d.sql(f"SELECT seq, entry_hash FROM audit_head WHERE id = 1{d.lock_rows}")
        self._insert = d.sql(_INSERT)
        self._move_head = d.sql("UPDATE audit_head SET seq = :seq, entry_hash = :entry_hash WHERE id = 1")
        self._page = d.sql(f"{_SELECT} WHERE seq > :after ORDER BY seq LIMIT :limit")
        self._last = d.sql(f"{_SELECT} ORDER BY seq DESC LIMIT :limit")
        self._following = d.sql(f"{_SELECT} WHERE prev_hash = :prev_hash")

    def append(self, build: RowBuilder) -> list[dict[str, Any]]:
        """Append the rows ``build`` makes from the current head, in one transaction that holds the
        head's lock from reading it to moving it.

        Returns:
            The rows written (``build``'s), in order.
        """
        with self._store.transaction() as conn:
            head = conn.execute(self._lock_head).fetchone()
            if head is None:
                raise StoreError("the audit log's head row is missing (audit_head was tampered with) / "
                                 "审计日志头记录缺失")
            rows = [dict(row) for row in build(int(head[0]), str(head[1]))]
            for row in rows:
                conn.execute(self._insert, row)
            if rows:
                conn.execute(self._move_head, {"seq": rows[-1]["seq"], "entry_hash": rows[-1]["entry_hash"]})
        return rows

    def head(self) -> tuple[int, str] | None:
        """The number and hash of the last entry as the head row says; None when the row is gone."""
        with self._store.reading() as conn:
            row = conn.execute("SELECT seq, entry_hash FROM audit_head WHERE id = 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def page(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` entries numbered above ``after``, in order (columns :data:`AUDIT_COLUMNS`)."""
        with self._store.reading() as conn:
            return [tuple(r) for r in conn.execute(self._page, {"after": after, "limit": limit}).fetchall()]

    def last(self, limit: int) -> list[tuple[Any, ...]]:
        """The ``limit`` latest entries, newest first."""
        with self._store.reading() as conn:
            return [tuple(r) for r in conn.execute(self._last, {"limit": limit}).fetchall()]

    def following(self, prev_hash: str) -> list[tuple[Any, ...]]:
        """The entries that name ``prev_hash`` as their predecessor's hash (one, unless tampered with)."""
        with self._store.reading() as conn:
            return [tuple(r) for r in conn.execute(self._following, {"prev_hash": prev_hash}).fetchall()]

    def count(self) -> int:
        """How many entries the table holds."""
        with self._store.reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])



@runtime_checkable
class _KeepsSqlTables(Protocol):
    """A store that is not SQL itself but keeps later stages' tables in a SQL database of its own (the
    test kit's MemoryStore)."""

    def sql_tables(self) -> SqlStore: ...


def audit_tables_of(store: RecordStore) -> SqlAuditTables:
    """The audit tables in ``store``'s database.

    Raises:
        StoreError: the store keeps no SQL tables (naming its type), or the database failed.
    """
    if isinstance(store, SqlStore):
        return SqlAuditTables(store)
    if isinstance(store, _KeepsSqlTables):
        return SqlAuditTables(store.sql_tables())
    raise StoreError(f"the audit log needs a SQLite or PostgreSQL store, not {type(store).__name__} "
                     "/ 审计日志需要 SQLite 或 PostgreSQL 数据库")
