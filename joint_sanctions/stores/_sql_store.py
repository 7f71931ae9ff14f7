"""The record store written once over the SQL seam: what the SQLite and PostgreSQL stores share.

Every statement here is spelt with ``:name`` parameters and the :class:`~._sql.Dialect`'s words, and
runs in a connection the concrete store hands out (:meth:`SqlStoreBase.reading`,
:meth:`SqlStoreBase.transaction`). A concrete store adds how it connects, how it translates its
driver's errors, how it takes the schema lock, and how it writes a batch of records fastest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import operator
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._accel import compiled_helper
from .._errors import JointSanctionsError, RecordError, StoreError
from .._identifiers import mask_text
from .._logging import get_logger
from .._models import CreditRecord, RecordAction, RecordChange, RecordEvent, fields_set
from ..vocabulary import LIST_TYPES, RECORD_STATUSES, SUBJECT_TYPES
from ._base import StoreBase, Validator, merged, status_changed, stored_record, unknown_record
from ._case_tables import SqlCaseBackend
from ._sql import Dialect, Migration

if TYPE_CHECKING:
    from .._case_model import CaseBackend

__all__ = ["FIELDS", "PAGE_SIZE", "SECONDARY_INDEXES", "SqlStoreBase"]

_log = get_logger()

#: Records per read in iter_records, so no lock or connection is held while the caller works.
PAGE_SIZE = 1_000
#: Records per write transaction: large enough to amortise the commit.
BATCH_SIZE = 10_000

FIELDS: tuple[str, ...] = tuple(CreditRecord.model_fields)
_COLUMNS = ", ".join(FIELDS)
_SELECT = f"SELECT {_COLUMNS} FROM credit_records"
# A repaired or removed record still counts before its end date (NULL: date unknown, counts on no day).
_ACTIVE_ON = ("listed_on <= :day AND (expires_on IS NULL OR :day < expires_on) "
              "AND (status = 'active' OR :day < ended_on)")
_HISTORY_COLUMNS = ("record_id", "action", "effective_on", "reason", "decision_no", "authority", "early", "source",
                    "changed_at", "record_before", "record_after")
#: Bumped first in every transaction that changes records (see records-0001).
BUMP_VERSION = "UPDATE record_data_version SET version = version + 1 RETURNING version"

#: The secondary indexes of credit_records (made by the record migrations). A bulk load into an
#: empty store drops them and builds each once at the end, and every open builds any that are
#: missing, so a process that dies inside a bulk load leaves nothing for a person to repair.
SECONDARY_INDEXES: dict[str, str] = {
    "credit_records_subject_id":
        "CREATE INDEX IF NOT EXISTS credit_records_subject_id ON credit_records (subject_id)",
    "credit_records_changed_version":
        "CREATE INDEX IF NOT EXISTS credit_records_changed_version ON credit_records (changed_version)",
}


def joined(items: Sequence[str]) -> str:
    """A ban list as its column holds it."""
    return ";".join(items)


def _items(text: Any) -> Any:
    """A ban list read back from its column (:func:`joined`); anything but text is left for
    :func:`~._base.stored_record` to refuse."""
    if text == "":
        return ()
    return tuple(text.split(";")) if type(text) is str else text


#: ``_record``'s usual path, compiled where the package was built with a C compiler (_accel).
_stored_row = compiled_helper("stored_row", "setup_rows", CreditRecord, FIELDS, fields_set(CreditRecord),
                              frozenset(LIST_TYPES), frozenset(SUBJECT_TYPES), frozenset(RECORD_STATUSES))


#: The most ids a check's lookup passes as parameters of their own: a check names its subject and
#: a related party or two; a list of ids in one parameter (json_each in SQLite) costs a third more.
_FEW = 4
_FEW_NAMES = tuple(f":id{i}" for i in range(_FEW))
_FEW_KEYS = tuple(name[1:] for name in _FEW_NAMES)
#: The order of ``active``'s rows (subject_id, list_type, record_id), by their places in a row.
_ACTIVE_ORDER = operator.itemgetter(*(FIELDS.index(name) for name in ("subject_id", "list_type", "record_id")))


@dataclass(frozen=True)
class _Statements:
    """The record store's statements in one dialect's spelling, translated once."""

    get: str
    get_many: str
    get_locked: str
    of_subject: str
    history: str
    end: str
    active: str
    #: ``active`` for 1 to :data:`_FEW` ids, each its own parameter (``id0``, ``id1``…), unordered.
    active_few: tuple[str, ...]
    page: str
    listed: str
    listed_on: str
    listed_since: str
    status_change: str
    stamp_as_of: str
    migrated: str


@functools.lru_cache(maxsize=4)
def _statements(d: Dialect) -> _Statements:
    return _Statements(
        get=d.sql(f"{_SELECT} WHERE record_id = :record_id"),
        # Locked: a repair committed between this read and the write would otherwise be undone.
        get_many=d.sql(f"{_SELECT} WHERE {d.in_list.format(column='record_id', name='ids')}{d.lock_rows}"),
        get_locked=d.sql(f"{_SELECT} WHERE record_id = :record_id{d.lock_rows}"),
        of_subject=d.sql(f"{_SELECT} WHERE subject_id = :subject_id ORDER BY listed_on, record_id"),
        history=d.sql(f"SELECT {', '.join(_HISTORY_COLUMNS)} FROM record_history WHERE record_id = :record_id "
                      "ORDER BY id"),
        end=d.sql(f"UPDATE credit_records SET status = :status, ended_on = :ended_on, updated_at = {d.now}, "
                  "changed_version = :version WHERE record_id = :record_id"),
        active=d.sql(f"{_SELECT} WHERE {d.in_list.format(column='subject_id', name='ids')} AND {_ACTIVE_ON} "
                     "ORDER BY subject_id, list_type, record_id"),
        # Unordered: sorting a check's few rows in Python costs a tenth of SQLite's sorter.
        active_few=tuple(d.sql(f"{_SELECT} WHERE subject_id IN ({', '.join(_FEW_NAMES[:n])}) AND {_ACTIVE_ON}")
                         for n in range(1, _FEW + 1)),
        page=d.sql(f"{_SELECT} WHERE record_id > :after ORDER BY record_id LIMIT :limit"),
        listed="SELECT DISTINCT subject_id FROM credit_records WHERE status = 'active'",
        listed_on=d.sql(f"SELECT DISTINCT subject_id FROM credit_records WHERE {_ACTIVE_ON}"),
        # No DISTINCT (the set removes repeats): with it SQLite walks the whole subject_id index
        # instead of the range of changed_version, seconds at a million records.
        # A record ended on a known date still counts for checks of earlier days: its subject stays listed.
        listed_since=d.sql("SELECT subject_id FROM credit_records "
                           "WHERE changed_version > :version AND (status = 'active' OR ended_on IS NOT NULL)"),
        status_change=d.sql("INSERT INTO record_status_changes (record_id, status, reason, changed_at) "
                            f"VALUES (:record_id, :status, :reason, {d.now})"),
        stamp_as_of=d.sql(f"INSERT INTO record_data_as_of (list_type, written_at) VALUES (:list_type, {d.stamp}) "
                          "ON CONFLICT (list_type) DO UPDATE SET written_at = excluded.written_at"),
        migrated=d.sql(f"INSERT INTO schema_migrations (id, applied_at) VALUES (:id, {d.now})"),
    )


def first(cursor: Any) -> Any:
    """The first column of the one row a statement returns (an aggregate, the version row)."""
    rows = cursor.fetchall()
    if not rows:
        raise StoreError("expected a row, the database returned none (is the schema damaged?)")
    return rows[0][0]


class SqlStoreBase(StoreBase):
    """A :class:`~joint_sanctions.stores.SqlStore` holding records in ``credit_records``.

    Subclasses set :attr:`dialect` and supply :meth:`reading`, :meth:`_writing`,
    :meth:`_schema_change`, :meth:`copy_rows`, :meth:`_write_records` and :attr:`_where` (how logs
    name the database).
    """

    dialect: Dialect
    _where: dict[str, str]

    def __init__(self) -> None:
        self.local_writes = 0  # RecordStore.local_writes: an attribute, read on every check
        self._local_lock = threading.Lock()

    # --- what a concrete store supplies ------------------------------------------------------------

    def reading(self) -> AbstractContextManager[Any]:
        """See :meth:`SqlStore.reading`."""
        raise NotImplementedError

    def _rows(self, query: str, params: Any) -> list[Any]:
        """The rows of one read statement (a check's lookup of its few ids), as :meth:`reading` reads
        them; a store may read them more cheaply."""
        with self.reading() as conn:
            return list(conn.execute(query, params).fetchall())

    def _writing(self, data_error: type[JointSanctionsError] = StoreError) -> AbstractContextManager[Any]:
        """A write transaction; ``data_error`` is raised where the database refused the data itself."""
        raise NotImplementedError

    def _schema_change(self, conn: Any) -> AbstractContextManager[None]:
        """A transaction on ``conn`` (autocommit) in which one process at a time changes the schema."""
        raise NotImplementedError

    def copy_rows(self, conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """See :meth:`SqlStore.copy_rows`."""
        raise NotImplementedError

    def _write_records(self, conn: Any, records: Collection[CreditRecord], version: int,
                       clock: dict[str, Any]) -> None:
        """Insert or replace ``records`` (ids unique) inside :meth:`_writing`, stamped ``version``."""
        raise NotImplementedError

    # --- the seam ----------------------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[Any]:
        """See :meth:`SqlStore.transaction`."""
        return self._writing()

    def case_backend(self) -> CaseBackend:
        """See :meth:`SqlStore.case_backend`."""
        return SqlCaseBackend(self)

    @functools.cached_property
    def _q(self) -> _Statements:
        return _statements(self.dialect)

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """See :meth:`SqlStore.migrate`.

        Raises:
            ValueError: two migrations share an id.
        """
        with self.reading() as conn:
            return self._migrate(conn, migrations)

    def _migrate(self, conn: Any, migrations: Sequence[Migration]) -> list[str]:
        ids = [m.id for m in migrations]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate migration ids in {ids}")
        # Looking first without the lock keeps every later open from queueing behind a migration.
        if set(ids) <= self._applied_ids(conn):
            return []
        applied: list[str] = []
        with self._schema_change(conn):
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         f"(id TEXT NOT NULL PRIMARY KEY, applied_at {self.dialect.time} NOT NULL)")
            done = self._applied_ids(conn)
            clock = self.dialect.clock(dt.datetime.now(dt.UTC))
            for migration in migrations:
                if migration.id in done:
                    continue
                for statement in migration.statements:
                    if callable(statement):
                        statement(conn)
                    else:
                        conn.execute(statement)
                conn.execute(self._q.migrated, {"id": migration.id, **clock})
                applied.append(migration.id)
        if applied:
            _log.info("schema_migrated", **self._where, applied=applied)
        return applied

    def _applied_ids(self, conn: Any) -> set[str]:
        if not conn.execute(self.dialect.sql(self.dialect.table_exists), {"name": "schema_migrations"}).fetchall():
            return set()
        return {row[0] for row in conn.execute("SELECT id FROM schema_migrations")}

    def _missing_indexes(self, conn: Any) -> list[str]:
        exists = self.dialect.sql(self.dialect.index_exists)
        return [name for name in SECONDARY_INDEXES if not conn.execute(exists, {"name": name}).fetchall()]

    def _restore_indexes(self, conn: Any) -> None:
        """Build the secondary indexes that are missing (after a bulk load, or a crash inside one)."""
        # Looked up first without a lock: building an index waits for every write to the table.
        if not self._missing_indexes(conn):
            return
        started = time.perf_counter()
        with self._schema_change(conn):
            built = self._missing_indexes(conn)  # again under the lock: another process may have built them
            for name in built:
                conn.execute(SECONDARY_INDEXES[name])
        if built:
            _log.info("indexes_built", **self._where, indexes=built,
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
        with self._writing() as conn:
            if self.dialect.lock_table:
                # "Empty" must hold until the indexes are gone, against a concurrent import.
                conn.execute(self.dialect.lock_table.format("credit_records"))
            deferred = bool(first(conn.execute("SELECT NOT EXISTS (SELECT 1 FROM credit_records)")))
            if deferred:
                for name in SECONDARY_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            yield
        finally:
            if deferred:
                with self.reading() as conn:
                    self._restore_indexes(conn)

    # --- RecordStore -------------------------------------------------------------------------------

    def _record(self, row: Sequence[Any]) -> CreditRecord:
        if _stored_row is not None:  # compiled: most rows (no ban, no region) whole in C; None leaves it to the twin
            record: CreditRecord | None = _stored_row(row, self.dialect.days_as_text)
            if record is not None:
                return record
        return self._record_py(row)

    def _record_py(self, row: Sequence[Any]) -> CreditRecord:
        """The record a stored row holds (:func:`~._base.stored_record` judges its values)."""
        # Unpacked by name rather than dict(zip(FIELDS, row)): a hit reads a row or two, and this
        # costs a third of the generic loop (tests/test_stores.py pins the names to FIELDS).
        (record_id, list_type, subject_id, subject_name, subject_type, authority, document_no, listed_on,
         expires_on, status, reason, region_code, rectify_by, ban_matter_types, ban_item_codes, ban_until,
         ended_on) = row
        read_day = self.dialect.read_day
        return stored_record({
            "record_id": record_id, "list_type": list_type, "subject_id": subject_id, "subject_name": subject_name,
            "subject_type": subject_type, "authority": authority, "document_no": document_no,
            "listed_on": None if listed_on is None else read_day(listed_on),
            "expires_on": None if expires_on is None else read_day(expires_on),
            "status": status, "reason": reason, "region_code": region_code,
            "rectify_by": None if rectify_by is None else read_day(rectify_by),
            "ban_matter_types": _items(ban_matter_types), "ban_item_codes": _items(ban_item_codes),
            "ban_until": None if ban_until is None else read_day(ban_until),
            "ended_on": None if ended_on is None else read_day(ended_on)})

    def upsert_checked(self, records: Iterable[CreditRecord]) -> tuple[int, dict[str, str]]:
        """See :meth:`RecordStore.upsert_checked`; one transaction per 10,000 records.

        Raises:
            RecordError: the database refused a record's data (e.g. a NUL character in text).
        """
        written = 0
        refused: dict[str, str] = {}
        pending = iter(records)
        while batch := list(itertools.islice(pending, BATCH_SIZE)):
            # ON CONFLICT may not touch one row twice in a statement; the last of repeated ids wins,
            # as it would written one by one.
            latest = {record.record_id: record for record in batch}
            now = dt.datetime.now(dt.UTC)
            clock = self.dialect.clock(now)
            with self._writing(RecordError) as conn:
                version = int(first(conn.execute(BUMP_VERSION)))
                stored = {r.record_id: r for r in map(self._record, conn.execute(
                    self._q.get_many, {"ids": self.dialect.ids(list(latest))}).fetchall())}
                writes: list[CreditRecord] = []
                events: list[tuple[Any, ...]] = []
                for record_id, record in latest.items():
                    old = stored.get(record_id)
                    new, why, action = merged(old, record)
                    if new is None:
                        refused[record_id] = why
                        continue
                    refused.pop(record_id, None)
                    writes.append(new)
                    if action is not None:
                        effective = new.listed_on if action == "relisted" else None
                        events.append(self._event_row(new, action, old, effective, now, source="import"))
                self._write_records(conn, writes, version, clock)
                if events:
                    self.copy_rows(conn, "record_history", _HISTORY_COLUMNS, events)
                # Stamped even when no row changed: a re-import of an unchanged list is current data.
                self._stamp_as_of(conn, {record.list_type for record in latest.values()}, clock)
            self._count_local_write()
            written += len(batch) - sum(1 for record in batch if record.record_id in refused)
        return written, refused

    def _event_row(self, record: CreditRecord, action: RecordAction, before: CreditRecord | None,
                   effective_on: dt.date | None, now: dt.datetime, *, source: str = "decision",
                   change: RecordChange | None = None) -> tuple[Any, ...]:
        d = self.dialect
        return (record.record_id, action, None if effective_on is None else d.day(effective_on),
                change.reason if change else "", change.decision_no if change else "",
                change.authority if change else "", int(change.early) if change else 0, source,
                d.clock(now).get("stamp", now), None if before is None else before.model_dump_json(),
                record.model_dump_json())

    def change_status(self, record_id: str, change: RecordChange, validate: Validator | None = None) -> CreditRecord:
        """See :meth:`RecordStore.change_status`; the change, its history entry and its audit row are one
        transaction, so a refused change writes nothing."""
        now = dt.datetime.now(dt.UTC)
        clock = self.dialect.clock(now)
        with self._writing(RecordError) as conn:
            version = int(first(conn.execute(BUMP_VERSION)))
            rows = conn.execute(self._q.get_locked, {"record_id": record_id}).fetchall()
            if not rows:
                raise unknown_record(record_id)
            old = self._record(rows[0])
            if validate is not None:
                validate(old, change)
            new, action = status_changed(old, change)
            ended_on = None if new.ended_on is None else self.dialect.day(new.ended_on)
            conn.execute(self._q.end, {"status": new.status, "ended_on": ended_on, "version": version,
                                       "record_id": record_id, **clock})
            self.copy_rows(conn, "record_history", _HISTORY_COLUMNS,
                           [self._event_row(new, action, old, change.on, now, change=change)])
            conn.execute(self._q.status_change, {"record_id": record_id, "status": new.status,
                                                 "reason": change.reason, **clock})
            self._stamp_as_of(conn, [new.list_type], clock)
        self._count_local_write()
        _log.info("record_status_changed", record_id=mask_text(record_id), status=new.status,
                  on=change.on.isoformat() if change.on else None, reason=mask_text(change.reason))
        return new

    def history(self, record_id: str) -> list[RecordEvent]:
        """See :meth:`RecordStore.history`."""
        with self.reading() as conn:
            rows = conn.execute(self._q.history, {"record_id": record_id}).fetchall()
        d = self.dialect
        return [RecordEvent.model_validate({
            "record_id": row[0], "action": row[1],
            "effective_on": None if row[2] is None else d.read_day(row[2]),
            "reason": row[3], "decision_no": row[4], "authority": row[5], "early": bool(row[6]),
            "source": row[7], "changed_at": d.read_time(row[8]),
            "before": None if row[9] is None else CreditRecord.model_validate_json(row[9]),
            "after": CreditRecord.model_validate_json(row[10])}) for row in rows]

    def records_of(self, subject_id: str) -> list[CreditRecord]:
        """See :meth:`RecordStore.records_of`."""
        with self.reading() as conn:
            rows = conn.execute(self._q.of_subject, {"subject_id": subject_id}).fetchall()
        return [self._record(row) for row in rows]

    def _stamp_as_of(self, conn: Any, list_types: Iterable[str], clock: dict[str, Any]) -> None:
        for list_type in sorted(list_types):  # a handful; sorted, so writers lock rows in one order
            conn.execute(self._q.stamp_as_of, {"list_type": list_type, **clock})

    def get(self, record_id: str) -> CreditRecord | None:
        """See :meth:`RecordStore.get`."""
        with self.reading() as conn:
            rows = conn.execute(self._q.get, {"record_id": record_id}).fetchall()
        return self._record(rows[0]) if rows else None

    def active_records(self, subject_ids: Sequence[str], day: dt.date) -> list[CreditRecord]:
        """See :meth:`RecordStore.active_records`; one query on the subject_id index, the ids passed as
        one parameter whatever their number (the statement stays the same, so it is prepared once)."""
        if not subject_ids:
            return []
        dialect = self.dialect
        n = len(subject_ids)
        if n <= _FEW:
            params = dict(zip(_FEW_KEYS, subject_ids))
            params["day"] = dialect.day(day)
            rows = self._rows(self._q.active_few[n - 1], params)
            if len(rows) > 1:
                rows.sort(key=_ACTIVE_ORDER)
        else:
            with self.reading() as conn:
                rows = conn.execute(self._q.active, {"ids": dialect.ids(subject_ids), "day": dialect.day(day)}).fetchall()
        return [self._record(row) for row in rows]

    def iter_records(self) -> Iterator[CreditRecord]:
        """See :meth:`RecordStore.iter_records`; read in pages, so changes made meanwhile may show."""
        after = ""
        while True:
            with self.reading() as conn:
                rows = conn.execute(self._q.page, {"after": after, "limit": PAGE_SIZE}).fetchall()
            yield from (self._record(row) for row in rows)
            if len(rows) < PAGE_SIZE:
                return
            after = rows[-1][0]

    def count(self) -> int:
        """See :meth:`RecordStore.count`."""
        with self.reading() as conn:
            return int(first(conn.execute("SELECT COUNT(*) FROM credit_records")))

    def listed_subject_ids(self, day: dt.date | None = None) -> set[str]:
        """See :meth:`RecordStore.listed_subject_ids`."""
        with self.reading() as conn:
            if day is None:
                rows = conn.execute(self._q.listed)
            else:
                rows = conn.execute(self._q.listed_on, {"day": self.dialect.day(day)})
            return {row[0] for row in rows}

    def data_version(self) -> int:
        """See :meth:`RecordStore.data_version`; kept in the database, so every process's writes count."""
        with self.reading() as conn:
            return int(first(conn.execute("SELECT version FROM record_data_version")))

    def data_as_of(self) -> dict[str, dt.datetime]:
        """See :meth:`RecordStore.data_as_of`."""
        with self.reading() as conn:
            rows = conn.execute("SELECT list_type, written_at FROM record_data_as_of").fetchall()
        return {list_type: self.dialect.read_time(written_at) for list_type, written_at in rows}

    def listed_since(self, version: int) -> tuple[int, set[str]]:
        """See :meth:`RecordStore.listed_since`."""
        with self.reading() as conn:
            # The version is read first: a write committed in between shows up now and again next
            # time, which is harmless; reading it last could skip that write for good.
            current = int(first(conn.execute("SELECT version FROM record_data_version")))
            rows = conn.execute(self._q.listed_since, {"version": version})
            return current, {row[0] for row in rows}


    def _count_local_write(self) -> None:
        with self._local_lock:
            self.local_writes += 1
