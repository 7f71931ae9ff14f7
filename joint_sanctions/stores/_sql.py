"""The SQL seam: what a stage needs from a SQL store to keep its own tables in the store's database.

A :class:`SqlStore` names its :class:`Dialect` (everything SQLite and PostgreSQL spell differently),
applies a stage's :class:`Migration` list, and runs statements in a read or a write transaction.
Stages write each statement once, with ``:name`` parameters and the dialect's words for types and
functions; :meth:`Dialect.sql` turns it into the driver's spelling. The case tables
(:mod:`._case_tables`), re-screening (:mod:`joint_sanctions._rescreen`) and the record stores
themselves (:mod:`._sql_store`) all go through this seam, so there is one way of writing SQL for both
databases.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._errors import StoreError
from ._base import RecordStore

if TYPE_CHECKING:
    from .._case_model import CaseBackend

__all__ = ["POSTGRESQL", "SQLITE", "Dialect", "Migration", "SqlStore", "sql_store_of"]


@dataclass(frozen=True)
class Migration:
    """One schema change, applied once per database and recorded in ``schema_migrations``.

    Attributes:
        id: unique across every migration list that shares a database; prefix it with the stage
            (``records-0001``, ``cases-0001``) so lists never collide.
        statements: SQL statements run in order, in the same transaction as the record of the id; a
            step that fixed SQL cannot spell (one that reads the schema first) is a function given the
            connection.
    """

    id: str
    statements: tuple[str | Callable[[Any], object], ...]


_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@functools.lru_cache(maxsize=512)  # the statements are a small fixed set, translated once each
def _pyformat(statement: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s``."""
    return _NAMED_PARAMETER.sub(r"%(\1)s", statement)


@dataclass(frozen=True)
class Dialect:
    """Everything the SQL of this library spells differently in SQLite and in PostgreSQL.

    Attributes:
        name: ``sqlite`` or ``postgresql``.
        key_text: the type of a text column that is a key or sorted on: ordered by code point.
        serial_key: an integer primary key the database numbers itself.
        real: a double-precision number.
        date: a calendar day.
        time: an instant.
        now, stamp: SQL for the time of a write, to seconds (``updated_at``) and as precise as the
            database has it (``data_as_of``); their parameters come from :meth:`clock`.
        in_list: a condition that ``{column}`` is one of the ids in parameter ``:{name}`` (any number).
        lock_picked_row: appended to a claim's row selection so concurrent claimants pass each other.
        open_key_indexed: the expression of ``{}`` (the open key) that a unique index covers.
        lock_table: a statement that keeps other writers of table ``{}`` out until commit, or ``""``
            where a write transaction already admits one writer at a time.
        json_field: SQL reading text field ``{name}`` of the JSON text in ``{column}``.
        table_exists, index_exists: a query giving a row when the table (index) ``:name`` exists.
        lock_rows: appended to a selection of rows the transaction is about to change, so that no
            other writer changes them in between (``""`` where one writer at a time holds anyway).
    """

    name: str
    key_text: str
    serial_key: str
    real: str
    date: str
    time: str
    now: str
    stamp: str
    in_list: str
    lock_picked_row: str
    open_key_indexed: str
    lock_table: str
    json_field: str
    table_exists: str
    index_exists: str
    _placeholder: Callable[[str], str]
    _clock: Callable[[dt.datetime], dict[str, Any]]
    _day: Callable[[dt.date], Any]
    _ids: Callable[[Sequence[str]], Any]
    _read_day: Callable[[Any], Any]
    _read_time: Callable[[Any], dt.datetime]
    _without_rowid: str
    _fillfactor: str
    lock_rows: str = ""

    def sql(self, statement: str) -> str:
        """``statement`` with its ``:name`` parameters in the driver's spelling."""
        return self._placeholder(statement)

    def clock(self, stamp: dt.datetime) -> dict[str, Any]:
        """The parameters :attr:`now` and :attr:`stamp` take for a write at ``stamp``."""
        return self._clock(stamp)

    def day(self, day: dt.date) -> Any:
        """A date as the driver passes it."""
        return self._day(day)

    def ids(self, ids: Sequence[str]) -> Any:
        """A list of ids as the :attr:`in_list` parameter."""
        return self._ids(ids)

    @property
    def days_as_text(self) -> bool:
        """Whether a day is stored as ``YYYY-MM-DD`` text, which :meth:`read_day` reads back as a date."""
        return self.date == "TEXT"

    def read_day(self, value: Any) -> Any:
        """A stored date as a :class:`datetime.date`; a value that is none stays as it is (and the
        record reader refuses it)."""
        return self._read_day(value)

    def read_time(self, value: Any) -> dt.datetime:
        """A stored instant as an aware time in UTC."""
        return self._read_time(value)

    def table_options(self, *, without_rowid: bool = False, fillfactor: int | None = None) -> str:
        """What follows ``CREATE TABLE …(…)``: SQLite may keep a table by its key alone; PostgreSQL
        may leave room on each page so that a table updated whole keeps its rows in place."""
        options = self._without_rowid if without_rowid else ""
        return options + (self._fillfactor.format(fillfactor) if fillfactor is not None else "")


def _parsed_day(value: Any) -> Any:
    if type(value) is str:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _aware(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


SQLITE = Dialect(
    name="sqlite", key_text="TEXT", serial_key="INTEGER PRIMARY KEY", real="REAL", date="TEXT", time="TEXT",
    now=":now", stamp=":stamp",
    # json_each passes any number of ids as one parameter, under SQLite's variable limit.
    in_list="{column} IN (SELECT value FROM json_each(:{name}))",
    lock_picked_row="", open_key_indexed="{}", lock_table="",
    json_field="json_extract({column}, '$.{name}')",
    table_exists="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name",
    index_exists="SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = :name",
    _placeholder=lambda statement: statement,
    _clock=lambda stamp: {"now": stamp.isoformat(timespec="seconds"), "stamp": stamp.isoformat()},
    _day=lambda day: day.isoformat(),
    _ids=lambda ids: json.dumps(list(ids)),
    # SQLite keeps dates and times as ISO text.
    _read_day=lambda value: _parsed_day(value),
    _read_time=lambda value: _aware(value),
    _without_rowid=" WITHOUT ROWID", _fillfactor="",
)

POSTGRESQL = Dialect(
    # COLLATE "C": ordering and keyset paging follow code points, as in SQLite and Python, whatever
    # collation the database was created with.
    name="postgresql", key_text='TEXT COLLATE "C"', serial_key="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION",
    date="DATE", time="TIMESTAMPTZ",
    # now() is the transaction's start: the same instant for every row of one write.
    now="now()", stamp="now()",
    in_list="{column} = ANY(:{name})",
    lock_picked_row=" FOR UPDATE SKIP LOCKED",
    # A B-tree entry has a size limit that a long item code could pass: the digest has none.
    open_key_indexed="md5({})",
    lock_table="LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
    json_field="({column}::json ->> '{name}')",
    table_exists=("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                  "AND table_name = :name"),
    index_exists="SELECT 1 WHERE to_regclass(:name) IS NOT NULL",
    _placeholder=_pyformat,
    _clock=lambda stamp: {},
    _day=lambda day: day,
    _ids=list,
    _read_day=lambda value: value,
    _read_time=lambda value: value.astimezone(dt.UTC),
    _without_rowid="", _fillfactor=" WITH (fillfactor = {})",
    lock_rows=" FOR UPDATE",
)


@runtime_checkable
class SqlStore(RecordStore, Protocol):
    """A :class:`~joint_sanctions.stores.RecordStore` in a SQL database that later stages share.

    Stages keep their tables in the store's database: they apply their migrations with
    :meth:`migrate` and run their statements, spelt for :attr:`dialect`, in :meth:`reading` or
    :meth:`transaction` (both yield a DB-API connection; errors leave as :class:`StoreError`).
    """

    @property
    def dialect(self) -> Dialect:
        """How this database spells what differs (see :class:`Dialect`)."""
        ...

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not yet recorded in ``schema_migrations``, in order, in one
        transaction, one process at a time.

        Returns:
            The ids applied now; empty when all were applied before.

        Raises:
            StoreError: a statement failed (nothing of this call is kept), or two migrations share an id.
        """
        ...

    def reading(self) -> AbstractContextManager[Any]:
        """A connection for reads, for the block."""
        ...

    def transaction(self) -> AbstractContextManager[Any]:
        """A connection in one write transaction: committed when the block ends, rolled back when it
        raises."""
        ...

    def copy_rows(self, conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Write many rows into ``table`` (a load table) inside :meth:`transaction`, the fastest way
        the database has."""
        ...

    def case_backend(self) -> CaseBackend:
        """The case tables in this database (created on first use)."""
        ...


def sql_store_of(store: RecordStore, purpose: str) -> SqlStore:
    """``store`` as a :class:`SqlStore`.

    Raises:
        StoreError: it is not one (``purpose`` says what needed it), naming its type.
    """
    if not isinstance(store, SqlStore):
        raise StoreError(f"{purpose} needs a SQLite or PostgreSQL store, not {type(store).__name__}")
    return store


def temp_table(dialect: Dialect, name: str, columns: str, *, key: bool = False) -> str:
    """``CREATE TEMP TABLE`` for a load table of this transaction (dropped by the caller)."""
    return f"CREATE TEMP TABLE {name} ({columns}){dialect.table_options(without_rowid=key)}"
