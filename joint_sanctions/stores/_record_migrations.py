"""The record store's schema: its migrations, oldest first, in each dialect (see :func:`record_migrations`).

Apart from :mod:`._sql_store` so that the statements reading and writing records stay together there; the
SQLite and PostgreSQL stores apply these on open.
"""

from __future__ import annotations

from typing import Any

from .._errors import StoreError
from ._sql import Dialect, Migration

__all__ = ["record_migrations"]


def record_migrations(d: Dialect) -> tuple[Migration, ...]:
    """The record store's schema in dialect ``d``, oldest first. Append; never edit an applied migration."""
    return (
        Migration("records-0001", (
            # SQLite: WITHOUT ROWID, the text primary key is the only key, so no second b-tree is kept.
            f"""CREATE TABLE credit_records (
                   record_id    {d.key_text} NOT NULL PRIMARY KEY,
                   list_type    {d.key_text} NOT NULL,
                   subject_id   {d.key_text} NOT NULL,
                   subject_name TEXT NOT NULL,
                   subject_type TEXT,
                   authority    TEXT NOT NULL,
                   document_no  TEXT NOT NULL,
                   listed_on    {d.date} NOT NULL,
                   expires_on   {d.date},
                   status       TEXT NOT NULL CHECK (status IN ('active', 'repaired', 'removed')),
                   reason       TEXT NOT NULL,
                   updated_at   {d.time} NOT NULL
               ){d.table_options(without_rowid=True)}""",
            "CREATE INDEX credit_records_subject_id ON credit_records (subject_id)",
            # Credit repair and removal are decisions someone must be able to trace later.
            f"""CREATE TABLE record_status_changes (
                   id         {d.serial_key},
                   record_id  TEXT NOT NULL,
                   status     TEXT NOT NULL,
                   reason     TEXT NOT NULL,
                   changed_at {d.time} NOT NULL
               )""",
            # Bumped first by every transaction that changes records, so data_version() moves on
            # changes from any process exactly when they become visible, and not on writes to other
            # tables (SQLite's PRAGMA data_version would also move on every case written, a sequence
            # before the commit). Bumped per transaction rather than by a per-row trigger, which
            # slowed imports by a third; in PostgreSQL the row lock makes record writers take turns,
            # so versions stamped on records follow commit order.
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
        # When each list type was last written (docs/failing-closed.md): checks refuse a store that never
        # received a record, or whose lists are older than allowed, and every result says how current it is.
        Migration("records-0003", (
            f"""CREATE TABLE record_data_as_of (
                   list_type  {d.key_text} NOT NULL PRIMARY KEY,
                   written_at {d.time} NOT NULL
               ){d.table_options(without_rowid=True)}""",
            # A database written before this table: each list type's latest write is the best it knows.
            ("INSERT INTO record_data_as_of (list_type, written_at) "
             "SELECT list_type, MAX(updated_at) FROM credit_records GROUP BY list_type"),
        )),
        # The ban of a record's own decision, its rectification deadline and its subject's area
        # (docs/record-import.md). Ban lists are kept as ';'-joined text (no item holds ';'), '' for none,
        # so both databases store them alike and a record without a ban costs nothing to read.
        Migration("records-0004", (
            "ALTER TABLE credit_records ADD COLUMN region_code TEXT",
            f"ALTER TABLE credit_records ADD COLUMN rectify_by {d.date}",
            "ALTER TABLE credit_records ADD COLUMN ban_matter_types TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE credit_records ADD COLUMN ban_item_codes TEXT NOT NULL DEFAULT ''",
            f"ALTER TABLE credit_records ADD COLUMN ban_until {d.date}",
        )),
        # Dated repairs and removals, and every change of a record (docs/record-import.md, "When a record counts"). Additive:
        # one nullable column and a table of its own, so other migrations of credit_records merge with it.
        Migration("records-0005", (
            f"ALTER TABLE credit_records ADD COLUMN ended_on {d.date}",
            f"""CREATE TABLE record_history (
                   id            {d.serial_key},
                   record_id     {d.key_text} NOT NULL,
                   action        TEXT NOT NULL,
                   effective_on  {d.date},
                   reason        TEXT NOT NULL,
                   decision_no   TEXT NOT NULL,
                   authority     TEXT NOT NULL,
                   early         INTEGER NOT NULL,
                   source        TEXT NOT NULL,
                   changed_at    {d.time} NOT NULL,
                   record_before TEXT,
                   record_after  TEXT NOT NULL
               )""",
            "CREATE INDEX record_history_record_id ON record_history (record_id, id)",
        )),
        # SQLite: records-0001's WITHOUT ROWID table becomes an ordinary one (docs/performance.md, "The records
        # table"). A WITHOUT ROWID table keeps whole rows in its inner pages as well as its leaves, and a
        # record of a few hundred bytes of Chinese text left ~15 per page: a million records made a b-tree
        # five levels deep, whose ~4,400 inner pages no page cache keeps, so a hit read 3.8 pages from the
        # file instead of 2.5. PostgreSQL has no such tables: nothing to do.
        Migration("records-0006", (_rowid_records,) if d.table_options(without_rowid=True) else ()),
    )


def _rowid_records(conn: Any) -> None:
    """Rebuild SQLite's credit_records as a table with rowids, keeping its columns, their order and
    constraints (its own definition, WITHOUT ROWID dropped), its rows, and every index on it, another
    stage's too (dropped with the old table, made again from their own definitions)."""
    table = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'credit_records'").fetchone()[0]
    head, sep, rest = table.partition("credit_records")
    body, _, options = rest.rpartition(")")
    if not sep or options.strip().upper() != "WITHOUT ROWID":
        raise StoreError(f"credit_records is not the table records-0001 made: {table!r}")
    indexes = [sql for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                              "AND tbl_name = 'credit_records' AND sql IS NOT NULL ORDER BY name")]
    conn.execute(f"{head}credit_records_rowid{body})")
    conn.execute("INSERT INTO credit_records_rowid SELECT * FROM credit_records ORDER BY record_id")
    conn.execute("DROP TABLE credit_records")
    conn.execute("ALTER TABLE credit_records_rowid RENAME TO credit_records")
    for sql in indexes:
        conn.execute(sql)
