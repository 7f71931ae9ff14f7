"""Per-decision bans and overdue rectification (design.md §4, §6): the record columns that carry them,
from import through both stores, and the measures that require them, on both rule back ends."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
import pytest
from pydantic import ValidationError

from joint_sanctions import CreditRecord, Engine, lint
from joint_sanctions._errors import ImportRowError
from joint_sanctions._records import BAN_COLUMNS, COLUMNS, import_records, read_records
from joint_sanctions._serving import compile_paths
from joint_sanctions.stores import open_store
from joint_sanctions.stores._postgres import PostgresStore
from joint_sanctions.stores._sqlite import RECORD_MIGRATIONS, SqliteStore
from joint_sanctions.testing import MemoryStore
from joint_sanctions.vocabulary import BAN_LIST_TYPES, PUNISHMENT_LIST_TYPES

from .conftest import Database, cli

CO = "91410100MA0000015B"
BODY = "124101064100000117"  # a government body (USCC 12…)
HEADER = (*COLUMNS, *BAN_COLUMNS)
DAY = dt.date(2025, 6, 1)


def row(record_id: str = "R1", **values: str) -> dict[str, str]:
    """A valid import row of a procurement violator; keyword arguments set columns."""
    base = {"record_id": record_id, "list_type": "procurement_violator", "subject_id": CO,
            "authority": "郑州市财政局", "document_no": "郑财购处〔2024〕3号", "listed_on": "2024-01-01"}
    return {**base, **values}


def write_csv(path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for values in rows:
            writer.writerow([values.get(name, "") for name in header])
    return path


def banned(record_id: str = "R1", list_type: str = "procurement_violator", subject_id: str = CO,
           **extra: Any) -> CreditRecord:
    return CreditRecord.model_validate({"record_id": record_id, "list_type": list_type, "subject_id": subject_id,
                                        "listed_on": dt.date(2024, 1, 1), **extra})


# --- the record model -------------------------------------------------------------------------------


def test_a_record_without_ban_columns_has_no_ban() -> None:
    """Records keep loading as before: no ban, no deadline, no region unless given."""
    plain = banned()
    assert plain.ban_matter_types == () and plain.ban_item_codes == ()
    assert plain.ban_until is None and plain.rectify_by is None and plain.region_code is None


def test_ban_lists_may_be_given_as_semicolon_text() -> None:
    """A ban list given as text is split on ';' (full-width '；' too), blanks dropped."""
    record = banned(ban_matter_types="government_procurement; bidding；", ban_item_codes="ZB-01;;ZB-02")
    assert record.ban_matter_types == ("government_procurement", "bidding")
    assert record.ban_item_codes == ("ZB-01", "ZB-02")


@pytest.mark.parametrize(("extra", "field"), [
    ({"ban_matter_types": ["tendering"]}, "ban_matter_types"),
    ({"ban_item_codes": ["A;B"]}, "ban_item_codes"),
    ({"ban_matter_types": ["bidding"], "ban_until": dt.date(2024, 1, 1)}, "ban_until"),
    ({"ban_until": dt.date(2026, 1, 1)}, "ban_until"),
    ({"region_code": "41010"}, "region_code"),
    ({"list_type": "court_defaulter", "ban_matter_types": ["bidding"]}, "ban_matter_types"),
    ({"list_type": "tax_credit_a", "ban_item_codes": ["X"]}, "ban_item_codes"),
])
def test_bad_ban_values_are_refused_naming_the_field(extra: dict[str, Any], field: str) -> None:
    """An unknown matter type, a ';' inside an item code, a ban ending before it starts, a ban that names
    nothing, a bad region code, or a ban on a list type that carries none: refused, the field named."""
    with pytest.raises(ValidationError) as info:
        banned(**extra)
    assert field in str(info.value)


def test_ban_list_types_are_the_punishment_lists_of_administrative_decisions() -> None:
    """Bans ride on administrative penalty lists; a court's list and a rectification record carry none."""
    assert set(BAN_LIST_TYPES) == set(PUNISHMENT_LIST_TYPES) - {"court_defaulter", "government_dishonesty"}


# --- import -----------------------------------------------------------------------------------------


def test_csv_ban_columns_load(tmp_path: Path) -> None:
    """CSV ban columns (lists ';'-separated), rectify_by and region_code become the record's fields."""
    path = write_csv(tmp_path / "r.csv", [
        row("R1", ban_matter_types="government_procurement;bidding", ban_item_codes="ZB-01;ZB-02",
            ban_until="2027-01-01", region_code="410184"),
        row("R2", list_type="government_dishonesty", subject_id=BODY, rectify_by="2025/3/31"),
    ])
    store = MemoryStore()
    report = import_records(store, path)
    assert report.errors == [] and report.stored == 2
    first, second = store.get("R1"), store.get("R2")
    assert first is not None and second is not None
    assert first.ban_matter_types == ("government_procurement", "bidding")
    assert first.ban_item_codes == ("ZB-01", "ZB-02")
    assert first.ban_until == dt.date(2027, 1, 1) and first.region_code == "410184"
    assert second.rectify_by == dt.date(2025, 3, 31) and second.ban_matter_types == ()


def test_a_file_may_carry_only_some_ban_columns(tmp_path: Path) -> None:
    """The ban columns are optional one by one: a header with the core columns and rectify_by loads."""
    path = write_csv(tmp_path / "r.csv", [row("R1", list_type="government_dishonesty", subject_id=BODY,
                                              rectify_by="2025-03-31")], header=(*COLUMNS, "rectify_by"))
    store = MemoryStore()
    assert import_records(store, path).errors == []
    got = store.get("R1")
    assert got is not None and got.rectify_by == dt.date(2025, 3, 31)


def test_jsonl_ban_lists_as_lists_or_text(tmp_path: Path) -> None:
    """JSON Lines rows give ban lists as JSON lists or as ';' text."""
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        row("R1", ban_matter_types=["government_procurement"], ban_item_codes=["ZB-01", "ZB-02"]),  # type: ignore[arg-type]
        row("R2", ban_matter_types="bidding;government_procurement", ban_until="2026-06-01"),
    ]) + "\n", encoding="utf-8")
    items = dict(read_records(path))
    first, second = items[1], items[2]
    assert isinstance(first, CreditRecord) and isinstance(second, CreditRecord)
    assert first.ban_matter_types == ("government_procurement",) and first.ban_item_codes == ("ZB-01", "ZB-02")
    assert second.ban_matter_types == ("bidding", "government_procurement")
    assert second.ban_until == dt.date(2026, 6, 1)


def test_jsonl_ban_list_items_must_be_text(tmp_path: Path) -> None:
    """A ban list holding a number or a nested list is a bad row naming the field."""
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(row("R1", ban_item_codes=[1, ["x"]])) + "\n", encoding="utf-8")  # type: ignore[arg-type,list-item]
    (_line, item), = read_records(path)
    assert isinstance(item, ImportRowError) and "ban_item_codes" in item.reason


def test_xlsx_ban_columns_with_date_cells(tmp_path: Path) -> None:
    """XLSX ban columns load; ban_until and rectify_by may be date cells."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(HEADER))
    values = {**row("R1"), "listed_on": dt.datetime(2024, 1, 1), "ban_matter_types": "government_procurement",
              "ban_until": dt.datetime(2026, 1, 1), "rectify_by": dt.date(2024, 6, 30), "region_code": 410102}
    sheet.append([values.get(name) for name in HEADER])
    workbook.save(tmp_path / "r.xlsx")
    store = MemoryStore()
    assert import_records(store, tmp_path / "r.xlsx").errors == []
    got = store.get("R1")
    assert got is not None and got.ban_until == dt.date(2026, 1, 1) and got.rectify_by == dt.date(2024, 6, 30)
    assert got.region_code == "410102" and got.ban_matter_types == ("government_procurement",)


def test_bad_ban_rows_are_refused_with_line_and_field_and_good_rows_load(tmp_path: Path) -> None:
    """An unknown matter type, a bad date, a bad region code: each row refused with its line and field."""
    path = write_csv(tmp_path / "r.csv", [
        row("R1", ban_matter_types="government_procurement"),
        row("R2", ban_matter_types="government_procurement;tendering"),
        row("R3", ban_matter_types="bidding", ban_until="2026-02-30"),
        row("R4", region_code="4101"),
        row("R5", rectify_by="soon"),
        row("R6", list_type="court_defaulter", ban_matter_types="bidding"),
    ])
    store = MemoryStore()
    report = import_records(store, path)
    assert report.stored == 1 and store.get("R1") is not None
    reasons = {error.line: error.reason for error in report.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert "ban_matter_types" in reasons[3] and "'tendering'" in reasons[3] and "bidding" in reasons[3]
    assert reasons[4].startswith("ban_until:") and "'2026-02-30'" in reasons[4]
    assert reasons[5].startswith("region_code:")
    assert reasons[6].startswith("rectify_by:")
    assert "ban_matter_types" in reasons[7] and "court_defaulter" in reasons[7]


def test_cli_import_refuses_a_bad_ban_row_with_its_line(tmp_path: Path) -> None:
    """`records import` prints the refused row as file:line: field …, exits 1, and stores the good rows."""
    path = write_csv(tmp_path / "r.csv", [row("R1", ban_matter_types="bidding"),
                                          row("R2", ban_matter_types="tendering")])
    done = cli("records", "import", str(path), "--db", "sqlite:///db.sqlite", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"{path}:3: ban_matter_types" in done.stderr and "Traceback" not in done.stderr
    with open_store("sqlite:///" + str(tmp_path / "db.sqlite")) as store:
        got = store.get("R1")
        assert got is not None and got.ban_matter_types == ("bidding",) and store.get("R2") is None


# --- stores -----------------------------------------------------------------------------------------


def test_ban_fields_round_trip_in_every_store(database: Database) -> None:
    """SQLite and PostgreSQL keep every ban field, lists in order, and records without them unchanged."""
    store = database.open()
    full = banned("R1", ban_matter_types=("government_procurement", "bidding"), ban_item_codes=("ZB-01", "项目-2"),
                  ban_until=dt.date(2027, 1, 1), rectify_by=dt.date(2024, 6, 30), region_code="410184")
    store.upsert([full, banned("R2")])
    assert store.get("R1") == full
    assert store.get("R2") == banned("R2")
    assert store.active_records([CO], DAY) == [full, banned("R2")]
    assert list(store.iter_records()) == [full, banned("R2")]


def test_memory_store_keeps_ban_fields() -> None:
    """The test kit's MemoryStore keeps the ban fields like the SQL stores."""
    full = banned("R1", ban_item_codes=("ZB-01",), ban_until=dt.date(2027, 1, 1))
    store = MemoryStore([full])
    assert store.get("R1") == full


def test_a_database_from_before_the_ban_columns_is_migrated_and_its_records_read(tmp_path: Path) -> None:
    """A SQLite file at records-0003 gets records-0004 on open; its old records read with no ban."""
    path = tmp_path / "old.db"
    with SqliteStore(path) as store:
        store.upsert([banned("R1")])
    with sqlite3.connect(path) as conn:  # back to the schema before this change
        for column in ("region_code", "rectify_by", "ban_matter_types", "ban_item_codes", "ban_until"):
            conn.execute(f"ALTER TABLE credit_records DROP COLUMN {column}")
        conn.execute("DELETE FROM schema_migrations WHERE id = 'records-0004'")
    with SqliteStore(path) as store:
        assert store.get("R1") == banned("R1")
        applied = {row[0] for row in store.connection.execute("SELECT id FROM schema_migrations")}
    assert "records-0004" in applied and [m.id for m in RECORD_MIGRATIONS][3] == "records-0004"


@pytest.mark.postgres
def test_a_postgres_database_from_before_the_ban_columns_is_migrated(pg_url: str) -> None:
    """A PostgreSQL database at records-0003 gets records-0004 on open; its old records read with no ban."""
    with PostgresStore(pg_url) as store:
        store.upsert([banned("R1")])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for column in ("region_code", "rectify_by", "ban_matter_types", "ban_item_codes", "ban_until"):
            conn.execute(f"ALTER TABLE credit_records DROP COLUMN {column}")
        conn.execute("DELETE FROM schema_migrations WHERE id = 'records-0004'")
    with PostgresStore(pg_url) as store:
        assert store.get("R1") == banned("R1")
        store.upsert([banned("R2", ban_matter_types=("bidding",))])
        got = store.get("R2")
        assert got is not None and got.ban_matter_types == ("bidding",)


def test_a_ban_changed_behind_the_stores_back_is_refused_on_read(tmp_path: Path) -> None:
    """A stored ban naming a matter type the engine does not know is an unreadable record, not no ban."""
    with SqliteStore(tmp_path / "r.db") as store:
        store.upsert([banned("R1", ban_matter_types=("bidding",))])
        store.connection.execute("UPDATE credit_records SET ban_matter_types = 'tendering'")
        with pytest.raises(Exception, match="ban_matter_types") as info:
            store.get("R1")
    assert type(info.value).__name__ == "UnreadableRecordError"


# --- checks: requires_ban and requires_overdue -------------------------------------------------------

MEASURES = """\
edition: "2024"
issuer: 测试信用办
region_code: "410100"
measures:
  - id: T-BAN
    name: 在禁入期内不得参加
    kind: punishment
    effect: prohibit
    mandatory: true
    requires_ban: true
    list_types: [procurement_violator, trading_serious_violator]
    matter_types: [government_procurement, bidding, administrative_licensing]
    legal_basis: [{document: 测试法, number: "", article: 第一条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
  - id: T-ANY
    name: 从严审核
    kind: punishment
    effect: strict_review
    mandatory: false
    list_types: [procurement_violator]
    matter_types: [government_procurement]
    legal_basis: [{document: 测试法, number: "", article: 第二条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
  - id: T-OVERDUE
    name: 逾期未整改的，取消年度评优评先资格
    kind: punishment
    effect: prohibit
    mandatory: true
    requires_overdue: true
    list_types: [government_dishonesty]
    matter_types: [honors]
    legal_basis: [{document: 测试文件, number: "测〔2020〕1号", article: 第三条}]
    basis_status: confirmed
    implementing_departments: [评选主办单位]
"""


def measure_ids(engine: Engine, matter: str = "government_procurement", at: dt.date = DAY,
                subject: str = CO, **fields: Any) -> list[str]:
    return [m.measure_id for m in engine.check(subject, matter, at=at, **fields).measures]


def test_a_ban_measure_applies_only_to_a_record_whose_ban_covers_the_matter_type(
        engine_with: Callable[..., Engine]) -> None:
    """requires_ban: a record banning this matter type applies the measure; one without a ban does not."""
    engine = engine_with(banned("R1", ban_matter_types=("government_procurement",)))
    result = engine.check(CO, "government_procurement", at=DAY)
    assert [m.measure_id for m in result.measures] == ["T-BAN", "T-ANY"]
    assert result.decision == "prohibited" and result.measures[0].record_ids == ("R1",)
    assert measure_ids(engine_with(banned("R1")), at=DAY) == ["T-ANY"]


def test_a_ban_of_another_matter_does_not_apply(engine_with: Callable[..., Engine]) -> None:
    """A record banning bidding leaves procurement to the measures without a ban requirement."""
    engine = engine_with(banned("R1", ban_matter_types=("bidding",)))
    assert measure_ids(engine, "government_procurement") == ["T-ANY"]
    assert measure_ids(engine, "bidding") == ["T-BAN"]


def test_a_ban_by_item_code_applies_to_that_item_only(engine_with: Callable[..., Engine]) -> None:
    """An item-code ban covers a matter with that item code, not the same matter type with another code."""
    engine = engine_with(banned("R1", list_type="trading_serious_violator", ban_item_codes=("XK-001",)))
    assert measure_ids(engine, "administrative_licensing", item_code="XK-001") == ["T-BAN"]
    assert measure_ids(engine, "administrative_licensing", item_code="XK-002") == []
    assert measure_ids(engine, "administrative_licensing") == []


def test_a_ban_ends_on_ban_until(engine_with: Callable[..., Engine]) -> None:
    """The ban applies on days before ban_until, not on it or after, though the record stays listed."""
    engine = engine_with(banned("R1", ban_matter_types=("government_procurement",), ban_until=DAY))
    assert measure_ids(engine, at=DAY - dt.timedelta(days=1)) == ["T-BAN", "T-ANY"]
    assert measure_ids(engine, at=DAY) == ["T-ANY"]


def test_the_record_ids_show_which_records_ban_applied(engine_with: Callable[..., Engine]) -> None:
    """Of two records of the subject, the ban measure names only the one whose ban applied."""
    engine = engine_with(banned("R1"), banned("R2", ban_matter_types=("government_procurement",)))
    result = engine.check(CO, "government_procurement", at=DAY)
    by_id = {m.measure_id: m.record_ids for m in result.measures}
    assert by_id == {"T-BAN": ("R2",), "T-ANY": ("R1", "R2")}


def test_overdue_rectification_applies_after_the_deadline_only(engine_with: Callable[..., Engine]) -> None:
    """requires_overdue: applies once rectify_by has passed (the day after it), not while it is still due."""
    deadline = dt.date(2025, 3, 31)
    engine = engine_with(banned("G1", list_type="government_dishonesty", subject_id=BODY, rectify_by=deadline))
    assert measure_ids(engine, "honors", at=deadline, subject=BODY) == []
    result = engine.check(BODY, "honors", at=deadline + dt.timedelta(days=1))
    assert [(m.measure_id, m.record_ids) for m in result.measures] == [("T-OVERDUE", ("G1",))]
    assert result.decision == "prohibited"


def test_overdue_needs_a_deadline_and_an_active_record(engine_with: Callable[..., Engine]) -> None:
    """A record without rectify_by is never overdue; a repaired record is not active, so not overdue."""
    engine = engine_with(banned("G1", list_type="government_dishonesty", subject_id=BODY),
                         banned("G2", list_type="government_dishonesty", subject_id="124101064100000117",
                                rectify_by=dt.date(2025, 1, 1), status="repaired"))
    assert measure_ids(engine, "honors", subject=BODY) == []


# --- lint -------------------------------------------------------------------------------------------


def _lint(tmp_path: Path, extra: str, list_types: str = "[procurement_violator]", kind: str = "punishment",
          effect: str = "prohibit") -> list[str]:
    text = MEASURES.split("  - id: T-ANY")[0].replace("    requires_ban: true\n", extra)
    text = text.replace("[procurement_violator, trading_serious_violator]", list_types)
    text = text.replace("kind: punishment", f"kind: {kind}").replace("effect: prohibit", f"effect: {effect}")
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return [f"{p.line}:{p.col} {p.code}" for p in lint([path])]


@pytest.mark.parametrize("value", ["yes", "'true'", "1", "[true]"])
def test_a_requirement_that_is_not_a_boolean_is_located(tmp_path: Path, value: str) -> None:
    """requires_ban / requires_overdue must be true or false: anything else is wrong_type at its value."""
    assert _lint(tmp_path, f"    requires_ban: {value}\n") == ["10:19 wrong_type"]
    assert _lint(tmp_path, f"    requires_overdue: {value}\n") == ["10:23 wrong_type"]


def test_requires_ban_on_a_list_type_without_bans_is_located(tmp_path: Path) -> None:
    """requires_ban on a measure listing court_defaulter is ban_list_type at that list type."""
    problems = _lint(tmp_path, "    requires_ban: true\n", "[procurement_violator, court_defaulter]")
    assert problems == ["11:40 ban_list_type"]


def test_requires_overdue_on_an_incentive_is_located(tmp_path: Path) -> None:
    """An incentive cannot depend on overdue rectification: overdue_on_incentive at the key's value."""
    problems = _lint(tmp_path, "    requires_overdue: true\n", "[tax_credit_a]", kind="incentive",
                     effect="incentive")
    assert problems == ["10:23 overdue_on_incentive"]


def test_requirements_set_false_change_nothing(tmp_path: Path) -> None:
    """requires_ban: false is the default written out: the list lints clean and the measure needs no ban."""
    assert _lint(tmp_path, "    requires_ban: false\n") == []


def test_requirements_change_the_revision(tmp_path: Path, measures_dir: Path) -> None:
    """Adding requires_ban to a measure is a new revision (results and cases record which rules applied)."""
    before = compile_paths([measures_dir]).revision
    path = measures_dir / "t.yaml"
    path.write_text(MEASURES.replace("    requires_overdue: true\n", ""), encoding="utf-8")
    assert compile_paths([measures_dir]).revision != before
