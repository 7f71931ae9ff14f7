"""The record store contract, run against every store, and what is particular to each backend."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from joint_sanctions._errors import RecordError, StoreError
from joint_sanctions._models import CreditRecord
from joint_sanctions.stores import RecordStore, SqlStore, open_store
from joint_sanctions.stores._postgres import RECHECK_AFTER, PostgresStore
from joint_sanctions.stores._postgres import RECORD_MIGRATIONS as PG_RECORD_MIGRATIONS
from joint_sanctions.stores._sql import Migration
from joint_sanctions.stores._sqlite import RECORD_MIGRATIONS, SqliteStore
from joint_sanctions.testing import MemoryStore

from .conftest import Database, failures_in_threads, numbered_uscc
from .pgserver import PgServer

ACME = "91350100M000100Y43"
BETA = "91110000600037341L"
GAMMA = "91410100MA0000015B"
PERSON = "410102199003071230"

# A store joins the contract by adding its factory here; a factory takes the fixtures it needs
# from the request (a temporary directory, a fresh PostgreSQL database).
STORE_FACTORIES: dict[str, Callable[[pytest.FixtureRequest], RecordStore]] = {
    "memory": lambda request: MemoryStore(),
    "sqlite": lambda request: SqliteStore(request.getfixturevalue("tmp_path") / "records.db"),
    "postgres": lambda request: PostgresStore(request.getfixturevalue("pg_url")),
}


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.postgres) if name == "postgres" else name
                        for name in sorted(STORE_FACTORIES)])
def store(request: pytest.FixtureRequest) -> Iterator[RecordStore]:
    """Each store, empty."""
    opened = STORE_FACTORIES[request.param](request)
    yield opened
    opened.close()


def rec(record_id: str = "R1", subject_id: str = ACME, *, list_type: str = "court_defaulter",
        listed_on: dt.date = dt.date(2024, 1, 10), expires_on: dt.date | None = None,
        status: str = "active", **extra: str) -> CreditRecord:
    return CreditRecord.model_validate({
        "record_id": record_id, "subject_id": subject_id, "list_type": list_type,
        "listed_on": listed_on, "expires_on": expires_on, "status": status, **extra})


def ids(records: list[CreditRecord]) -> list[str]:
    return [r.record_id for r in records]


def reopen_pair(tmp_path: Path) -> tuple[SqliteStore, SqliteStore]:
    return SqliteStore(tmp_path / "shared.db"), SqliteStore(tmp_path / "shared.db")


# --- contract: every store ------------------------------------------------------------------------


def test_store_satisfies_the_protocol(store: RecordStore) -> None:
    """Every store is a RecordStore."""
    assert isinstance(store, RecordStore)


def test_upsert_is_idempotent_on_record_id(store: RecordStore) -> None:
    """Upserting the same record twice keeps one copy."""
    assert store.upsert([rec("R1")]) == 1
    assert store.upsert([rec("R1")]) == 1
    assert store.count() == 1
    assert store.get("R1") == rec("R1")


def test_upsert_updates_a_stored_record(store: RecordStore) -> None:
    """Upserting a changed record replaces every field of the stored one."""
    store.upsert([rec("R1", authority="甲法院")])
    changed = rec("R1", BETA, list_type="wage_arrears", authority="乙人社局",
                  expires_on=dt.date(2027, 1, 10), status="removed")
    store.upsert([changed])
    assert store.get("R1") == changed
    assert store.active_records([ACME], dt.date(2024, 6, 1)) == []


def test_upsert_keeps_the_last_of_repeated_ids(store: RecordStore) -> None:
    """Of two records with the same id in one call, the later one is stored."""
    store.upsert([rec("R1", authority="first"), rec("R1", authority="last")])
    stored = store.get("R1")
    assert stored is not None and stored.authority == "last"


def test_upsert_accepts_a_generator_larger_than_a_batch(store: RecordStore) -> None:
    """A lazy iterable of more records than one write batch is stored whole."""
    written = store.upsert(rec(f"R{i:05d}") for i in range(25_001))
    assert written == 25_001
    assert store.count() == 25_001


def test_every_record_of_a_large_upsert_reads_back_whole(store: RecordStore) -> None:
    """Records written many to a statement (SQLite: hundreds a statement) keep each field with its own
    record across statement boundaries, on the first write and on an update of some of them."""
    def varied(i: int, authority: str) -> CreditRecord:
        return rec(f"R{i:05d}", PERSON if i % 3 else ACME, authority=f"{authority}{i}", reason=f"事由{i}",
                   expires_on=None if i % 2 else dt.date(2030, 1, 1) + dt.timedelta(days=i),
                   listed_on=dt.date(2020, 1, 1) + dt.timedelta(days=i))
    first = [varied(i, "甲") for i in range(1_234)]
    assert store.upsert(first) == len(first)
    second = [varied(i, "乙") for i in range(0, 1_234, 7)]
    store.upsert(second)
    expected = {r.record_id: r for r in [*first, *second]}
    assert {r.record_id: r for r in store.iter_records()} == expected


def test_get_unknown_id_returns_none(store: RecordStore) -> None:
    """get() of an id never stored is None."""
    assert store.get("nope") is None


def test_record_fields_round_trip(store: RecordStore) -> None:
    """A stored record comes back equal, optional fields and dates included."""
    full = rec("R1", PERSON, list_type="tax_credit_a", expires_on=dt.date(2030, 12, 31),
               subject_name="张三", subject_type="natural_person", authority="国家税务总局郑州市税务局",
               document_no="郑税〔2024〕1号", reason="纳税信用A级")
    store.upsert([full, rec("R2")])
    assert store.get("R1") == full
    assert store.get("R2") == rec("R2")


def test_every_record_field_reads_back_in_place_by_every_read(store: RecordStore) -> None:
    """A record with every field set (ban, deadline, area, end date) comes back field by field, in the
    model's order, from get, records_of, active_records and iter_records: the row reader names each column."""
    full = CreditRecord.model_validate({
        "record_id": "R-FULL", "list_type": "procurement_violator", "subject_id": ACME, "subject_name": "某公司",
        "subject_type": "legal_person", "authority": "郑州市财政局", "document_no": "郑财〔2024〕1号",
        "listed_on": dt.date(2024, 1, 10), "expires_on": dt.date(2031, 1, 10), "status": "repaired",
        "reason": "拒不履行", "region_code": "410100", "rectify_by": dt.date(2024, 3, 1),
        "ban_matter_types": ["government_procurement", "bidding"], "ban_item_codes": ["ZB-01", "ZB-02"],
        "ban_until": dt.date(2027, 1, 1), "ended_on": dt.date(2026, 1, 1)})
    store.upsert([full])
    read = [store.get("R-FULL"), *store.records_of(ACME), *store.active_records([ACME], dt.date(2025, 6, 1)),
            *store.iter_records()]
    assert len(read) == 4
    for got in read:
        assert got is not None
        assert list(got.__dict__.items()) == list(full.__dict__.items())


@pytest.mark.parametrize(("day", "counts"), [
    (dt.date(2024, 1, 9), False),   # the day before listing
    (dt.date(2024, 1, 10), True),   # listed_on is inclusive
    (dt.date(2024, 2, 9), True),    # the last day before expiry
    (dt.date(2024, 2, 10), False),  # expires_on is exclusive
])
def test_active_records_honours_listing_and_expiry_days(store: RecordStore, day: dt.date,
                                                        counts: bool) -> None:
    """A record counts from listed_on (inclusive) until expires_on (exclusive)."""
    store.upsert([rec("R1", listed_on=dt.date(2024, 1, 10), expires_on=dt.date(2024, 2, 10))])
    assert ids(store.active_records([ACME], day)) == (["R1"] if counts else [])


def test_record_without_expiry_counts_forever(store: RecordStore) -> None:
    """A record with no expires_on counts on every day from its listing."""
    store.upsert([rec("R1")])
    assert ids(store.active_records([ACME], dt.date(2999, 1, 1))) == ["R1"]


@pytest.mark.parametrize("status", ["repaired", "removed"])
def test_active_records_excludes_repaired_and_removed(store: RecordStore, status: str) -> None:
    """Records whose status is not active never count."""
    store.upsert([rec("R1", status=status), rec("R2")])
    assert ids(store.active_records([ACME], dt.date(2024, 6, 1))) == ["R2"]


def test_active_records_order_and_subjects(store: RecordStore) -> None:
    """Only the asked subjects' records come back, ordered by subject, list type and record id."""
    store.upsert([
        rec("R9", BETA, list_type="court_defaulter"),
        rec("R3", ACME, list_type="wage_arrears"),
        rec("R2", ACME, list_type="court_defaulter"),
        rec("R1", ACME, list_type="wage_arrears"),
        rec("R5", GAMMA),
        rec("R4", PERSON, list_type="major_tax_violator"),
    ])
    found = store.active_records([PERSON, BETA, ACME, ACME], dt.date(2024, 6, 1))
    assert ids(found) == ["R4", "R9", "R2", "R1", "R3"]
    assert store.active_records([], dt.date(2024, 6, 1)) == []


@pytest.mark.parametrize("count", range(1, 8))
def test_active_records_of_a_few_ids_is_the_union_of_each_ids_records(store: RecordStore, count: int) -> None:
    """However few or many ids one call names (each count up to past the ones passed one parameter
    each), it returns the union of what each id alone returns, in the same order, duplicates once."""
    subjects = [ACME, BETA, GAMMA, PERSON, *(numbered_uscc(i) for i in range(3))]
    store.upsert([rec(f"R{i}{j}", sid, list_type=lt) for i, sid in enumerate(subjects)
                  for j, lt in enumerate(("wage_arrears", "court_defaulter"))])
    day = dt.date(2024, 6, 1)
    asked = list(reversed(subjects[:count])) + subjects[:1]
    alone = sorted((r for sid in set(asked) for r in store.active_records([sid], day)),
                   key=lambda r: (r.subject_id, r.list_type, r.record_id))
    assert store.active_records(asked, day) == alone and len(alone) == 2 * count


def test_active_records_takes_thousands_of_subject_ids(store: RecordStore) -> None:
    """One call may ask about more subjects than SQLite's historic 999-variable limit."""
    store.upsert([rec("R1", GAMMA)])
    many = [f"{i:018d}" for i in range(2_000)] + [GAMMA]
    assert ids(store.active_records(many, dt.date(2024, 6, 1))) == ["R1"]


def test_repair_stops_a_record_counting_at_once(store: RecordStore) -> None:
    """repair() marks the record repaired and it no longer counts."""
    store.upsert([rec("R1")])
    repaired = store.repair("R1")
    assert repaired.status == "repaired"
    assert store.get("R1") == repaired
    assert store.active_records([ACME], dt.date(2024, 6, 1)) == []


def test_repair_of_unknown_id_raises_record_error(store: RecordStore) -> None:
    """Repairing an id never stored raises RecordError naming the id."""
    with pytest.raises(RecordError, match="NO-SUCH-ID"):
        store.repair("NO-SUCH-ID")


def test_set_status_rejects_an_invalid_status(store: RecordStore) -> None:
    """set_status() with a status outside active/repaired/removed raises RecordError."""
    store.upsert([rec("R1")])
    with pytest.raises(RecordError, match="expired"):
        store.set_status("R1", "expired")
    assert store.get("R1") == rec("R1")


def test_set_status_can_remove_and_restore(store: RecordStore) -> None:
    """A record can be removed and later set active again."""
    store.upsert([rec("R1")])
    assert store.set_status("R1", "removed", reason="撤销认定").status == "removed"
    assert store.listed_subject_ids() == set()
    assert store.set_status("R1", "active", reason="误操作更正").status == "active"
    assert ids(store.active_records([ACME], dt.date(2024, 6, 1))) == ["R1"]


def test_iter_records_and_count(store: RecordStore) -> None:
    """iter_records() yields every record once, by record_id, whatever its status."""
    records = [rec(f"R{i:04d}", status="repaired" if i % 7 == 0 else "active")
               for i in reversed(range(2_500))]
    store.upsert(records)
    assert store.count() == 2_500
    assert ids(list(store.iter_records())) == sorted(r.record_id for r in records)


def test_listed_subject_ids(store: RecordStore) -> None:
    """listed_subject_ids() names subjects with an active record, on a day when one is given."""
    store.upsert([
        rec("R1", ACME),
        rec("R2", BETA, listed_on=dt.date(2025, 1, 1)),
        rec("R3", GAMMA, status="repaired"),
        rec("R4", PERSON, expires_on=dt.date(2024, 3, 1)),
    ])
    assert store.listed_subject_ids() == {ACME, BETA, PERSON}
    assert store.listed_subject_ids(dt.date(2024, 6, 1)) == {ACME}
    assert store.listed_subject_ids(dt.date(2024, 2, 1)) == {ACME, PERSON}


def test_data_version_changes_after_upsert_and_repair(store: RecordStore) -> None:
    """data_version() moves on every write and stays put on reads."""
    start = store.data_version()
    store.upsert([rec("R1")])
    after_upsert = store.data_version()
    assert after_upsert != start
    store.get("R1")
    store.active_records([ACME], dt.date(2024, 6, 1))
    assert store.data_version() == after_upsert
    store.repair("R1")
    assert store.data_version() not in (start, after_upsert)


def test_store_is_a_context_manager_and_close_is_repeatable(store: RecordStore) -> None:
    """A store works in a with block and may be closed more than once."""
    with store as entered:
        assert entered is store
    store.close()


# --- SQL stores: the same behaviour in SQLite and PostgreSQL ---------------------------------------


def sql_store(database: Database, **pool: Any) -> SqliteStore | PostgresStore:
    """A new store on ``database``; ``pool`` sizes a PostgreSQL pool."""
    if database.kind == "sqlite":
        return SqliteStore(database.url.removeprefix("sqlite:///"))
    return PostgresStore(database.url, **pool)


def migrations_of(database: Database) -> tuple[Migration, ...]:
    return RECORD_MIGRATIONS if database.kind == "sqlite" else PG_RECORD_MIGRATIONS


def test_reopen_keeps_data(database: Database) -> None:
    """Records written before closing are there after reopening."""
    with sql_store(database) as first:
        first.upsert([rec("R1"), rec("R2", status="removed")])
        first.repair("R1")
    with sql_store(database) as again:
        assert again.count() == 2
        assert again.get("R1") == rec("R1", status="repaired")


def test_concurrent_first_open_in_threads(database: Database) -> None:
    """Many stores opening the same new database at once all succeed and migrate once."""
    barrier = threading.Barrier(8)

    def open_and_write(n: int) -> None:
        barrier.wait()
        with sql_store(database, max_size=2) as store:
            store.upsert([rec(f"R{n}")])

    assert failures_in_threads(open_and_write, 8) == []
    with sql_store(database) as store:
        assert store.count() == 8
    assert database.rows("SELECT COUNT(*) FROM schema_migrations") == [(len(migrations_of(database)),)]


def test_concurrent_first_open_in_processes(database: Database) -> None:
    """Several processes creating and migrating the same new database at once all succeed."""
    code = "import sys; from joint_sanctions.stores import open_store; open_store(sys.argv[1], create=True).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, database.url], stderr=subprocess.PIPE)
             for _ in range(4)]
    errors = [proc.communicate()[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, errors
    assert database.rows("SELECT COUNT(*) FROM schema_migrations") == [(len(migrations_of(database)),)]


def test_store_shared_by_threads(database: Database) -> None:
    """One store used from more threads than it has connections loses no write and raises nothing."""
    with sql_store(database, max_size=2) as store:
        def work(n: int) -> None:
            for i in range(50):
                store.upsert([rec(f"T{n}-{i}")])
                store.active_records([ACME], dt.date(2024, 6, 1))
                store.data_version()

        assert failures_in_threads(work, 4) == []
        assert store.count() == 200
        assert store.local_writes == 200


def test_status_changes_are_kept_for_audit(database: Database) -> None:
    """set_status() keeps the status, reason and time of each change."""
    with sql_store(database) as store:
        store.upsert([rec("R1")])
        store.set_status("R1", "repaired", reason="已履行")
    assert database.rows("SELECT record_id, status, reason FROM record_status_changes") == [
        ("R1", "repaired", "已履行")]


def _indexes(database: Database) -> list[str]:
    """The secondary indexes of credit_records, as another connection sees them."""
    if database.kind == "sqlite":
        query = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'credit_records' "
                 "AND sql IS NOT NULL")  # sql is NULL for the primary key's own index
    else:
        query = ("SELECT indexname FROM pg_indexes WHERE tablename = 'credit_records' "
                 "AND indexname <> 'credit_records_pkey'")
    return sorted(name for (name,) in database.rows(query))


def _lookup_uses_the_subject_index(database: Database, store: RecordStore) -> bool:
    if database.kind == "postgres":
        return True  # a small table is scanned whatever its indexes: presence is what is checked
    assert isinstance(store, SqliteStore)
    statements: list[str] = []
    store.connection.set_trace_callback(statements.append)
    store.active_records([ACME], dt.date(2025, 1, 1))
    store.connection.set_trace_callback(None)
    (query,) = [q for q in statements if "FROM credit_records" in q]
    plan = " | ".join(row[3] for row in store.connection.execute(f"EXPLAIN QUERY PLAN {query}"))
    return "USING INDEX credit_records_subject_id" in plan


EXPECTED_INDEXES = ["credit_records_changed_version", "credit_records_subject_id"]


def _schema(path: Path) -> dict[str, str]:
    """Every table and index of the database (name → SQL), SQLite's own automatic ones left out."""
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall())
    finally:
        conn.close()


def test_records_table_is_a_rowid_table_whose_rows_sit_in_the_leaves(tmp_path: Path) -> None:
    """SQLite keeps a WITHOUT ROWID table's whole rows in its inner pages too: with rows of a few hundred
    bytes of Chinese text, a million records made a b-tree five levels deep that no page cache holds.
    The records table is an ordinary table keyed by record_id."""
    with SqliteStore(tmp_path / "r.db") as store:
        store.upsert([rec("R1")])
    table = _schema(tmp_path / "r.db")["credit_records"]
    assert "WITHOUT ROWID" not in table.upper() and "record_id" in table


def test_a_database_with_the_earlier_records_table_is_rebuilt_on_open_and_keeps_everything(tmp_path: Path) -> None:
    """A file whose records table is still WITHOUT ROWID (records-0006 not applied) is rebuilt on open in
    one transaction: every record, its history, every index on it (another stage's too), and the data
    version and as-of stamps the engine reads are as they were."""
    path = tmp_path / "old.db"
    with SqliteStore(path) as store:
        store.upsert([rec("R1", authority="甲法院"), rec("R2", BETA, expires_on=dt.date(2030, 1, 1))])
        store.repair("R2")
        assert store.migrate([Migration("test-0001", ("CREATE INDEX records_by_list ON credit_records (list_type)",))])
        before = (list(store.iter_records()), store.history("R2"), store.data_version(), store.data_as_of())
    schema = _schema(path)
    with sqlite3.connect(path) as conn:  # back to the table as records-0001 made it
        head, _, body = schema["credit_records"].partition("credit_records")
        conn.execute(f"{head}old_records{body} WITHOUT ROWID")
        conn.execute("INSERT INTO old_records SELECT * FROM credit_records")
        conn.execute("DROP TABLE credit_records")
        conn.execute("ALTER TABLE old_records RENAME TO credit_records")
        for name, sql in schema.items():
            if name.startswith("credit_records_") or name == "records_by_list":
                conn.execute(sql)
        conn.execute("DELETE FROM schema_migrations WHERE id = 'records-0006'")
    assert "WITHOUT ROWID" in _schema(path)["credit_records"]
    with SqliteStore(path) as store:
        after = (list(store.iter_records()), store.history("R2"), store.data_version(), store.data_as_of())
        applied = {row[0] for row in store.connection.execute("SELECT id FROM schema_migrations")}
    assert after == before and "records-0006" in applied
    assert _schema(path) == schema  # the same table and every index, by name and definition


def test_bulk_load_into_an_empty_store_ends_with_every_index(database: Database) -> None:
    """A bulk load into an empty store builds its indexes once at the end: every record is stored,
    and afterwards the store has the same indexes, used the same way, as one written row by row."""
    with sql_store(database) as store:
        assert _indexes(database) == EXPECTED_INDEXES
        with store.bulk_load():
            assert _indexes(database) == []  # deferred: building them once is faster than row by row
            for b in range(3):
                store.upsert([rec(f"R{b}-{i}", numbered_uscc(b * 1000 + i)) for i in range(500)])
            store.upsert([rec("R-acme", ACME)])
        assert _indexes(database) == EXPECTED_INDEXES
        assert store.count() == 1501
        assert _lookup_uses_the_subject_index(database, store)
        assert ids(store.active_records([ACME], dt.date(2025, 1, 1))) == ["R-acme"]


def test_bulk_load_into_a_store_with_records_keeps_its_indexes(database: Database) -> None:
    """Into a store that already holds records (a daily update) the indexes stay, so checks running
    meanwhile keep their indexed lookups."""
    with sql_store(database) as store:
        store.upsert([rec("R0")])
        with store.bulk_load():
            assert _indexes(database) == EXPECTED_INDEXES
            store.upsert([rec("R1", BETA)])
        assert _indexes(database) == EXPECTED_INDEXES and store.count() == 2


def test_bulk_load_that_fails_still_ends_with_every_index(database: Database) -> None:
    """An error inside a bulk load keeps the batches written before it and restores the indexes."""
    with sql_store(database) as store:
        with pytest.raises(RuntimeError), store.bulk_load():
            store.upsert([rec("R1")])
            raise RuntimeError("the reader failed")
        assert _indexes(database) == EXPECTED_INDEXES and store.count() == 1


def test_process_killed_inside_a_bulk_load_reopens_with_every_index(database: Database) -> None:
    """A process that dies inside a bulk load loses no committed batch, and the next open rebuilds
    the indexes it had deferred."""
    script = f"""
import os
from joint_sanctions.stores import open_store
from joint_sanctions._models import CreditRecord
store = open_store({database.url!r}, create=True)
with store.bulk_load():
    store.upsert([CreditRecord.model_validate({{"record_id": f"R{{i}}", "subject_id": {ACME!r},
                  "list_type": "court_defaulter", "listed_on": "2024-01-10"}}) for i in range(100)])
    os._exit(3)
"""
    assert subprocess.run([sys.executable, "-c", script], timeout=60, check=False).returncode == 3
    assert _indexes(database) == []
    with sql_store(database) as store:
        assert _indexes(database) == EXPECTED_INDEXES
        assert store.count() == 100
        assert _lookup_uses_the_subject_index(database, store)


# --- SQLite ---------------------------------------------------------------------------------------


def test_sqlite_file_created_on_first_use_in_wal_mode(tmp_path: Path) -> None:
    """Opening a missing file creates it in WAL mode; a missing folder is never created."""
    path = tmp_path / "a" / "b" / "records.db"
    with pytest.raises(StoreError, match="database folder not found"):
        SqliteStore(path)
    assert not (tmp_path / "a").exists()
    path.parent.mkdir(parents=True)
    with SqliteStore(path):
        assert path.exists()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_data_version_sees_another_connection(tmp_path: Path) -> None:
    """A write through another connection to the same file changes data_version()."""
    reader, writer = reopen_pair(tmp_path)
    with reader, writer:
        start = reader.data_version()
        writer.upsert([rec("R1")])
        after_upsert = reader.data_version()
        assert after_upsert != start
        writer.repair("R1")
        assert reader.data_version() != after_upsert


def test_sqlite_data_version_another_process(tmp_path: Path) -> None:
    """A write by another process to the same file changes data_version()."""
    path = tmp_path / "p.db"
    with SqliteStore(path) as store:
        start = store.data_version()
        code = ("import datetime as dt, sys; from joint_sanctions.stores._sqlite import SqliteStore; "
                "from joint_sanctions._models import CreditRecord; "
                "s = SqliteStore(sys.argv[1]); s.upsert([CreditRecord(record_id='R1', "
                f"list_type='court_defaulter', subject_id='{ACME}', listed_on=dt.date(2024, 1, 1))])")
        subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True)
        assert store.data_version() != start
        assert store.get("R1") is not None


def test_a_stage_writes_its_sql_once_for_both_databases(database: Database) -> None:
    """A stage's table, made by a migration in the store's dialect and used with ``:name`` parameters,
    behaves alike on SQLite and PostgreSQL: keys sort by code point, times read back aware, any
    number of ids fits one parameter."""
    store = database.open()
    assert isinstance(store, SqlStore)
    d = store.dialect
    create = (f"CREATE TABLE stage_notes (note_id {d.key_text} NOT NULL PRIMARY KEY, at {d.time} NOT NULL)"
              f"{d.table_options(without_rowid=True)}")
    store.migrate([Migration("notes-0001", (create,))])
    insert = d.sql(f"INSERT INTO stage_notes (note_id, at) VALUES (:note_id, {d.stamp})")
    with store.transaction() as conn:
        for note_id in ("b", "a", "B", "é"):
            conn.execute(insert, {"note_id": note_id, **d.clock(dt.datetime.now(dt.UTC))})
    chosen = d.sql("SELECT note_id, at FROM stage_notes WHERE "
                   f"{d.in_list.format(column='note_id', name='ids')} ORDER BY note_id")
    with store.reading() as conn:
        rows = conn.execute(chosen, {"ids": d.ids(["a", "b", "B", "é", *map(str, range(2000))])}).fetchall()
    assert [note_id for note_id, _ in rows] == ["B", "a", "b", "é"]
    assert all(d.read_time(at).tzinfo is not None for _, at in rows)
    with pytest.raises(StoreError), store.transaction() as conn:
        conn.execute(insert, {"note_id": "a", **d.clock(dt.datetime.now(dt.UTC))})  # the key is taken


def test_postgres_store_is_importable_from_the_namespace_without_importing_psycopg_first() -> None:
    """``joint_sanctions.stores`` loads without psycopg (an optional extra); ``PostgresStore`` loads it on use."""
    code = ("import sys, joint_sanctions.stores as s; print('psycopg' in sys.modules); "
            "print(s.PostgresStore.__name__, 'psycopg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "PostgresStore", "True"]


def test_sqlite_data_version_ignores_other_tables(tmp_path: Path) -> None:
    """Writes to another stage's tables in the same file leave data_version() alone."""
    with SqliteStore(tmp_path / "r.db") as store:
        store.migrate([Migration("cases-0001", ("CREATE TABLE cases (case_id TEXT PRIMARY KEY)",))])
        start = store.data_version()
        with store.transaction() as conn:
            conn.execute("INSERT INTO cases VALUES ('C1')")
        assert store.data_version() == start


def test_sqlite_migrations_recorded_and_reapplied_idempotently(tmp_path: Path) -> None:
    """Applied migrations are recorded once; reopening and re-migrating apply nothing again."""
    path = tmp_path / "r.db"
    extra = [Migration("cases-0001", ("CREATE TABLE cases (case_id TEXT PRIMARY KEY)",
                                      "CREATE INDEX cases_id ON cases (case_id)"))]
    with SqliteStore(path) as store:
        assert store.migrate(extra) == ["cases-0001"]
        assert store.migrate(extra) == []
    with SqliteStore(path) as store:
        assert store.migrate(extra) == []
        applied = [row[0] for row in store.connection.execute(
            "SELECT id FROM schema_migrations ORDER BY id")]
    assert applied == sorted([*(m.id for m in RECORD_MIGRATIONS), "cases-0001"])


def test_sqlite_failed_migration_keeps_nothing(tmp_path: Path) -> None:
    """A migration whose statement fails raises StoreError and leaves no trace."""
    broken = [Migration("cases-0001", ("CREATE TABLE cases (case_id TEXT)", "NOT SQL AT ALL"))]
    with SqliteStore(tmp_path / "r.db") as store:
        with pytest.raises(StoreError, match="syntax error"):
            store.migrate(broken)
        tables = {row[0] for row in store.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        recorded = {row[0] for row in store.connection.execute("SELECT id FROM schema_migrations")}
    assert "cases" not in tables
    assert "cases-0001" not in recorded


def test_sqlite_duplicate_migration_ids_are_refused(tmp_path: Path) -> None:
    """Two migrations with one id are a programming error, refused before anything runs."""
    twice = [Migration("cases-0001", ("SELECT 1",)), Migration("cases-0001", ("SELECT 2",))]
    with SqliteStore(tmp_path / "r.db") as store, pytest.raises(ValueError, match="duplicate"):
        store.migrate(twice)


def test_sqlite_catch_up_query_uses_the_version_index(tmp_path: Path) -> None:
    """listed_since reads only the records changed since a version (an index range), not the table."""
    with SqliteStore(tmp_path / "r.db") as store:
        for i in range(20):
            store.upsert([rec(f"R{i}-{j}", numbered_uscc(i * 100 + j)) for j in range(100)])
        store.connection.execute("ANALYZE")  # the plan must hold with statistics, as in production
        statements: list[str] = []
        store.connection.set_trace_callback(statements.append)
        store.listed_since(store.data_version() - 1)
        store.connection.set_trace_callback(None)
        (query,) = [q for q in statements if "FROM credit_records" in q]
        plan = " | ".join(row[3] for row in store.connection.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "USING INDEX credit_records_changed_version (changed_version>?)" in plan.replace("=?", "?"), plan


def test_sqlite_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    """A file that is not SQLite raises StoreError, not sqlite3.DatabaseError."""
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a database"):
        SqliteStore(path)


def test_sqlite_path_that_is_a_directory_raises_store_error(tmp_path: Path) -> None:
    """A path naming a directory raises StoreError."""
    with pytest.raises(StoreError):
        SqliteStore(tmp_path)


def test_sqlite_use_after_close_raises_store_error(tmp_path: Path) -> None:
    """Using a closed store raises StoreError, not sqlite3.ProgrammingError."""
    store = SqliteStore(tmp_path / "r.db")
    store.close()
    with pytest.raises(StoreError):
        store.count()
    with pytest.raises(StoreError):
        store.upsert([rec("R1")])


def test_sqlite_locked_database_raises_store_error(tmp_path: Path) -> None:
    """A write that waits past the busy timeout raises StoreError."""
    path = tmp_path / "r.db"
    with (SqliteStore(path) as holder, SqliteStore(path, busy_timeout=0.05) as waiter,
          holder.transaction(), pytest.raises(StoreError, match="locked")):
        waiter.upsert([rec("R1")])


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_connections_killed_by_the_server_are_replaced_before_use(pg_url: str) -> None:
    """After the server drops every pooled connection (a restart, an idle timeout), the next reads succeed."""
    with PostgresStore(pg_url, min_size=2, max_size=2) as store:
        store.upsert([rec("R1")])
        assert store.count() == 1
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
        assert killed is not None and killed[0] >= 1
        time.sleep(RECHECK_AFTER + 0.2)  # a connection idle this long is probed before it is handed out
        assert [store.count() for _ in range(4)] == [1, 1, 1, 1]
        assert store.get("R1") is not None


@pytest.mark.postgres
def test_postgres_data_version_sees_another_store(pg_url: str) -> None:
    """A write through another store (another pool) on the same database changes data_version()."""
    with PostgresStore(pg_url) as reader, PostgresStore(pg_url) as writer:
        start = reader.data_version()
        writer.upsert([rec("R1")])
        after_upsert = reader.data_version()
        assert after_upsert > start
        assert reader.listed_since(start) == (after_upsert, {ACME})
        writer.repair("R1")
        assert reader.data_version() > after_upsert
        assert reader.local_writes == 0 and writer.local_writes == 2


@pytest.mark.postgres
def test_postgres_data_version_another_process(pg_url: str) -> None:
    """A write by another process to the same database changes data_version()."""
    with PostgresStore(pg_url) as store:
        start = store.data_version()
        code = ("import datetime as dt, sys; from joint_sanctions.stores._postgres import PostgresStore; "
                "from joint_sanctions._models import CreditRecord; "
                "s = PostgresStore(sys.argv[1]); s.upsert([CreditRecord(record_id='R1', "
                f"list_type='court_defaulter', subject_id='{ACME}', listed_on=dt.date(2024, 1, 1))]); "
                "s.close()")
        subprocess.run([sys.executable, "-c", code, pg_url], check=True, capture_output=True)
        assert store.data_version() != start
        assert store.get("R1") is not None


@pytest.mark.postgres
def test_postgres_data_version_ignores_other_tables(pg_url: str) -> None:
    """Writes to another stage's tables in the same database leave data_version() alone."""
    with PostgresStore(pg_url) as store:
        store.migrate([Migration("cases-0001", ("CREATE TABLE cases (case_id TEXT PRIMARY KEY)",))])
        start = store.data_version()
        with store.transaction() as conn:
            conn.execute("INSERT INTO cases VALUES ('C1')")
        assert store.data_version() == start


@pytest.mark.postgres
def test_postgres_transaction_rolls_back_when_the_block_raises(pg_url: str) -> None:
    """transaction() commits a block that ends and keeps nothing of one that raises."""
    with PostgresStore(pg_url) as store:
        store.migrate([Migration("cases-0001", ("CREATE TABLE cases (case_id TEXT PRIMARY KEY)",))])
        with store.transaction() as conn:
            conn.execute("INSERT INTO cases VALUES ('C1')")
        with pytest.raises(ZeroDivisionError), store.transaction() as conn:
            conn.execute("INSERT INTO cases VALUES ('C2')")
            raise ZeroDivisionError
        with store.connection() as conn:
            assert conn.execute("SELECT case_id FROM cases").fetchall() == [("C1",)]


@pytest.mark.postgres
def test_postgres_migrations_recorded_and_reapplied_idempotently(pg_url: str) -> None:
    """Applied migrations are recorded once; reopening and re-migrating apply nothing again."""
    extra = [Migration("cases-0001", ("CREATE TABLE cases (case_id TEXT PRIMARY KEY)",
                                      "CREATE INDEX cases_id ON cases (case_id)"))]
    with PostgresStore(pg_url) as store:
        assert store.migrate(extra) == ["cases-0001"]
        assert store.migrate(extra) == []
    with PostgresStore(pg_url) as store:
        assert store.migrate(extra) == []
        with store.connection() as conn:
            applied = [row[0] for row in conn.execute("SELECT id FROM schema_migrations ORDER BY id")]
    assert applied == sorted([*(m.id for m in PG_RECORD_MIGRATIONS), "cases-0001"])
    assert [m.id for m in PG_RECORD_MIGRATIONS] == [m.id for m in RECORD_MIGRATIONS]


@pytest.mark.postgres
def test_postgres_failed_migration_keeps_nothing(pg_url: str) -> None:
    """A migration whose statement fails raises StoreError and leaves no trace."""
    broken = [Migration("cases-0001", ("CREATE TABLE cases (case_id TEXT)", "NOT SQL AT ALL"))]
    with PostgresStore(pg_url) as store:
        with pytest.raises(StoreError, match="syntax error"):
            store.migrate(broken)
        with store.connection() as conn:
            tables = {row[0] for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
            recorded = {row[0] for row in conn.execute("SELECT id FROM schema_migrations")}
    assert "cases" not in tables
    assert "cases-0001" not in recorded


@pytest.mark.postgres
def test_postgres_duplicate_migration_ids_are_refused(pg_url: str) -> None:
    """Two migrations with one id are a programming error, refused before anything runs."""
    twice = [Migration("cases-0001", ("SELECT 1",)), Migration("cases-0001", ("SELECT 2",))]
    with PostgresStore(pg_url) as store, pytest.raises(ValueError, match="duplicate"):
        store.migrate(twice)


@pytest.mark.postgres
def test_postgres_concurrent_writers_stamp_versions_in_commit_order(pg_url: str) -> None:
    """A reader catching up with listed_since() while two stores write misses no listing."""
    with PostgresStore(pg_url) as a, PostgresStore(pg_url) as b, PostgresStore(pg_url) as reader:
        def write(store: PostgresStore, first: int) -> None:
            for n in range(first, first + 100):
                store.upsert([rec(f"R{n}", numbered_uscc(n))])

        writers = [threading.Thread(target=write, args=(a, 0)), threading.Thread(target=write, args=(b, 100))]
        for thread in writers:
            thread.start()
        seen: set[str] = set()
        version = -1
        while any(thread.is_alive() for thread in writers):
            version, fresh = reader.listed_since(version)
            seen |= fresh
        for thread in writers:
            thread.join()
        version, fresh = reader.listed_since(version)
        seen |= fresh
        assert seen == {numbered_uscc(n) for n in range(200)} == reader.listed_subject_ids()


@pytest.mark.postgres
def test_postgres_unchanged_reimport_rewrites_no_row(pg_url: str) -> None:
    """Re-importing identical records leaves their rows alone; a changed record is rewritten."""
    with PostgresStore(pg_url) as store:
        store.upsert([rec("R1"), rec("R2")])
        with store.connection() as conn:
            before = dict(conn.execute("SELECT record_id, xmin::text FROM credit_records").fetchall())
        store.upsert([rec("R1"), rec("R2", authority="乙法院")])
        with store.connection() as conn:
            after = dict(conn.execute("SELECT record_id, xmin::text FROM credit_records").fetchall())
        assert after["R1"] == before["R1"]
        assert after["R2"] != before["R2"]
        assert store.get("R2") == rec("R2", authority="乙法院")


@pytest.mark.postgres
def test_postgres_refused_data_raises_record_error_and_keeps_the_batch_out(pg_url: str) -> None:
    """Text PostgreSQL cannot hold (NUL) raises RecordError; nothing of that batch is stored."""
    with PostgresStore(pg_url) as store:
        store.upsert([rec("R1")])
        with pytest.raises(RecordError, match="0x00"):
            store.upsert([rec("R2"), rec("R3", subject_name="坏\x00名")])
        assert store.count() == 1


@pytest.mark.postgres
def test_postgres_orders_by_code_point_whatever_the_database_collation(pg_server: PgServer) -> None:
    """Ordering follows code points (as SQLite and Python) even in a database with a linguistic collation."""
    name = f"js_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                      "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
    url = pg_server.database_url(name)
    try:
        record_ids = ["b", "B", "a", "R-2", "R1", "r10", "R_3", "Ž", "中", "Z"]
        with PostgresStore(url) as store:
            store.upsert(rec(record_id) for record_id in record_ids)
            assert ids(list(store.iter_records())) == sorted(record_ids)
            assert ids(store.active_records([ACME], dt.date(2024, 6, 1))) == sorted(record_ids)
    finally:
        pg_server.drop_database(url)


@pytest.mark.postgres
def test_postgres_errors_are_translated_everywhere(pg_url: str) -> None:
    """Every method raises StoreError (never a psycopg error) when the database fails under it."""
    with PostgresStore(pg_url) as store:
        store.upsert([rec("R1")])
        with store.connection() as conn:
            conn.execute("DROP TABLE credit_records, record_data_version")
        calls: list[Callable[[], object]] = [
            lambda: store.upsert([rec("R2")]), lambda: store.get("R1"),
            lambda: store.active_records([ACME], dt.date(2024, 6, 1)), lambda: store.repair("R1"),
            lambda: store.set_status("R1", "removed"), lambda: list(store.iter_records()), store.count,
            store.listed_subject_ids, store.data_version, lambda: store.listed_since(0),
        ]
        for call in calls:
            with pytest.raises(StoreError, match="does not exist"):
                call()
    with pytest.raises(StoreError, match="closed"):
        store.count()
    store.close()


@pytest.mark.postgres
def test_postgres_bad_password_is_never_shown(pg_url: str) -> None:
    """A refused login names the database and user, never the password."""
    with pytest.raises(StoreError) as caught:
        PostgresStore(pg_url.replace("postgres@", "nobody_here:hunter2@"))
    assert "hunter2" not in str(caught.value)
    assert "nobody_here" in str(caught.value)


# --- MemoryStore ----------------------------------------------------------------------------------


def test_memory_store_starts_with_given_records_and_logs_status_changes() -> None:
    """MemoryStore takes initial records and records each status change for assertions."""
    store = MemoryStore([rec("R1"), rec("R2", BETA)])
    store.set_status("R2", "removed", reason="撤销")
    assert store.count() == 2
    assert store.status_changes == [("R2", "removed", "撤销")]


def test_memory_store_forgets_old_subject_when_a_record_moves() -> None:
    """A record re-upserted under another subject no longer shows for the old one."""
    store = MemoryStore([rec("R1", ACME)])
    store.upsert([rec("R1", BETA)])
    assert store.active_records([ACME], dt.date(2024, 6, 1)) == []
    assert ids(store.active_records([BETA], dt.date(2024, 6, 1))) == ["R1"]


# --- open_store -----------------------------------------------------------------------------------


def test_open_store_relative_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite:///path is relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    with open_store("sqlite:///data/records.db", create=True) as store:
        assert isinstance(store, SqliteStore)
    assert (tmp_path / "data" / "records.db").exists()


def test_open_store_absolute_sqlite_url(tmp_path: Path) -> None:
    """sqlite:////abs/path is an absolute path."""
    with open_store(f"sqlite:///{tmp_path / 'abs.db'}", create=True):
        pass
    assert (tmp_path / "abs.db").exists()


@pytest.mark.parametrize("name", ["bare.db", "bare.sqlite", "bare.SQLITE3"])
def test_open_store_bare_path(tmp_path: Path, name: str) -> None:
    """A bare path ending in .db, .sqlite or .sqlite3 opens SQLite."""
    with open_store(str(tmp_path / name), create=True):
        pass
    assert (tmp_path / name).exists()


def test_open_store_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an argument JOINT_SANCTIONS_DB names the database."""
    monkeypatch.setenv("JOINT_SANCTIONS_DB", f"sqlite:///{tmp_path / 'env.db'}")
    with open_store(create=True):
        pass
    assert (tmp_path / "env.db").exists()


def test_open_store_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without argument or environment the database is ./joint_sanctions.db."""
    monkeypatch.delenv("JOINT_SANCTIONS_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    with open_store(create=True):
        pass
    assert (tmp_path / "joint_sanctions.db").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_store_postgresql_url(pg_url: str, scheme: str) -> None:
    """postgresql:// and postgres:// URLs open a PostgresStore on that database."""
    with open_store(scheme + pg_url.removeprefix("postgresql")) as store:
        assert isinstance(store, PostgresStore)
        store.upsert([rec("R1")])
        assert store.count() == 1


@pytest.mark.parametrize("url", ["postgresql://user:secret@127.0.0.1:1/credit",
                                 "postgresql://user:secret@127.0.0.1:notaport/credit",
                                 "postgres://user:secret@no-such-host.invalid/credit"])
def test_open_store_postgresql_failure_hides_the_password(url: str) -> None:
    """A PostgreSQL server that cannot be reached raises StoreError on one line, without the password."""
    with pytest.raises(StoreError, match="database postgresql://") as caught:
        open_store(url)
    assert "secret" not in str(caught.value)
    assert "\n" not in str(caught.value)  # the CLI prints one line per error


def test_open_store_postgresql_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without psycopg installed, a PostgreSQL URL raises StoreError with the install hint."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` raise ImportError
    with pytest.raises(StoreError, match=r"pip install 'joint-sanctions\[postgres\]'") as caught:
        open_store("postgresql://user:secret@db/credit")
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("url", ["mysql://root:secret@db/credit", "records.txt", "sqlite://",
                                 "sqlite:///"])
def test_open_store_rejects_other_urls(url: str) -> None:
    """Unsupported or malformed URLs raise StoreError with no password in the message."""
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "secret" not in str(caught.value)


def test_a_checks_lookup_on_a_broken_or_closed_sqlite_file_raises_store_error(tmp_path: Path) -> None:
    """The lookup of a check's few subject ids (read without reading()'s context managers) turns an SQLite
    error into StoreError naming the file, as every other read does: a table gone, a store closed."""
    store = SqliteStore(tmp_path / "records.db")
    store.upsert([rec("R1", ACME)])
    day = dt.date(2025, 6, 1)
    assert [r.record_id for r in store.active_records([ACME, PERSON], day)] == ["R1"]
    with store.lock:
        store.connection.execute("ALTER TABLE credit_records RENAME TO credit_records_gone")
    with pytest.raises(StoreError, match=r"database .*records\.db: no such table"):
        store.active_records([ACME], day)
    store.close()
    with pytest.raises(StoreError, match=r"database .*records\.db"):
        store.active_records([ACME, PERSON], day)
