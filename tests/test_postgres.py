"""PostgreSQL end to end: the test server, records imported by COPY, checks through a database URL."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from joint_sanctions import Engine, import_records
from joint_sanctions._check import SubjectLike
from joint_sanctions._compile import CompiledMeasures
from joint_sanctions.stores import open_store
from joint_sanctions.stores._sqlite import SqliteStore

from .conftest import FIXED_NOW, numbered_uscc

pytestmark = pytest.mark.postgres

COLUMNS = ["record_id", "list_type", "subject_id", "subject_name", "subject_type", "authority",
           "document_no", "listed_on", "expires_on", "status", "reason"]
LISTED, REPRESENTATIVE, CLEAN = numbered_uscc(7), "410102199003071230", numbered_uscc(8)


def write_records(path: Path) -> Path:
    rows = [
        ["R1", "court_defaulter", LISTED, "甲公司", "legal_person", "郑州市中级人民法院", "(2024)豫01执1号",
         "2024-01-10", "", "active", ""],
        ["R2", "major_tax_violator", LISTED, "甲公司", "legal_person", "国家税务总局郑州市税务局",
         "郑税稽罚〔2024〕2号", "2024-03-01", "2027-03-01", "active", ""],
        ["R3", "court_defaulter", REPRESENTATIVE, "张三", "natural_person", "郑州市中级人民法院",
         "(2024)豫01执3号", "2024-02-01", "", "active", ""],
        ["R4", "wage_arrears", CLEAN, "乙公司", "legal_person", "郑州市人力资源和社会保障局", "郑人社〔2023〕4号",
         "2023-01-01", "2024-01-01", "active", ""],
        ["R5", "court_defaulter", "not-an-id", "坏行", "", "", "", "2024-01-01", "", "active", ""],
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def test_the_test_server_is_postgresql(pg_url: str) -> None:
    """The server the PostgreSQL tests use really is PostgreSQL, with a UTF-8 database."""
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SELECT version()").fetchone()
        encoding = conn.execute("SHOW server_encoding").fetchone()
    assert version is not None and version[0].startswith("PostgreSQL ")
    assert encoding == ("UTF8",)


def test_import_and_check_through_a_postgresql_url(pg_url: str, tmp_path: Path,
                                                   shipped: CompiledMeasures) -> None:
    """Records imported into PostgreSQL give the same check results as the same file in SQLite."""
    source = write_records(tmp_path / "records.csv")
    with open_store(pg_url) as pg, SqliteStore(tmp_path / "same.db") as lite:
        for store in (pg, lite):
            report = import_records(store, source)
            assert (report.stored, [e.line for e in report.errors]) == (4, [6])
    engines = [Engine(measures=shipped, store=url, cases=False, clock=lambda: FIXED_NOW,
                      new_id=lambda: "chk-1")
               for url in (pg_url, f"sqlite:///{tmp_path / 'same.db'}")]
    try:
        cases: list[tuple[SubjectLike, str]] = [
            (LISTED, "government_procurement"), (CLEAN, "bidding"),
            ({"id": CLEAN, "related_parties": [{"role": "legal_representative", "id": REPRESENTATIVE}]},
             "honors")]
        for subject, matter in cases:
            on_pg, on_sqlite = (engine.check(subject, matter) for engine in engines)
            # data_as_of differs: each database was written at its own time.
            assert on_pg.to_dict() | {"data_as_of": None} == on_sqlite.to_dict() | {"data_as_of": None}
            assert on_pg.data_as_of.keys() == on_sqlite.data_as_of.keys()
        listed = engines[0].check(LISTED, "government_procurement")
        assert listed.decision == "restricted"  # NAT-CD-001 binds; NAT-GP-003's basis is unconfirmed
        assert [h.record_id for h in listed.hits] == ["R1", "R2"]
        assert engines[0].check(CLEAN, "bidding").decision == "clear"
        engines[0].store.repair("R1")
        assert [h.record_id for h in engines[0].check(LISTED, "government_procurement").hits] == ["R2"]
        assert engines[0].check(LISTED, "government_procurement", at=dt.date(2024, 2, 1)).hits == ()
    finally:
        for engine in engines:
            engine.store.close()


def test_cli_records_import_into_postgresql(pg_url: str, tmp_path: Path) -> None:
    """`records import --db postgresql://…` stores the good rows and reports the bad one."""
    source = write_records(tmp_path / "records.csv")
    done = subprocess.run([sys.executable, "-m", "joint_sanctions", "records", "import", str(source),
                           "--db", pg_url], capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert "imported 4 record(s), rejected 1 row(s)" in done.stdout
    with open_store(pg_url) as store:
        assert store.count() == 4
