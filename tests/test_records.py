"""Reading credit-record import files (CSV, JSON Lines, XLSX) and importing them into a store."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joint_sanctions import _records as records
from joint_sanctions._errors import ImportRowError, RecordError, StoreError
from joint_sanctions._models import CreditRecord
from joint_sanctions._records import COLUMNS, import_records, read_records
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.testing import MemoryStore

from . import hostile
from .conftest import Database

ACME = "91350100M000100Y43"
BETA = "91110000600037341L"
GAMMA = "91410184MA12345A1R"
SCHOOL = "124101064100000117"
PERSON = "410102199003071230"
PERSON_X = "11010519491231002X"
# PERSON with its check digit changed: invalid, and still personal data.
BAD_PERSON = "410102199003071231"


def row(record_id: str = "R1", subject_id: str = ACME, **values: str) -> dict[str, str]:
    """A valid CSV row; keyword arguments override columns."""
    base = {"record_id": record_id, "list_type": "court_defaulter", "subject_id": subject_id,
            "subject_name": "某某有限公司", "subject_type": "", "authority": "郑州市中级人民法院",
            "document_no": "（2024）豫01执1号", "listed_on": "2024-01-15", "expires_on": "",
            "status": "", "reason": "未履行生效法律文书确定的义务"}
    return {**base, **values}


def write_csv(path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] = COLUMNS, *,
              bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for values in rows:
            writer.writerow([values.get(name, "") for name in header])
    return path


def errors_by_line(path: Path) -> dict[int, str]:
    return {line: item.reason for line, item in read_records(path) if isinstance(item, ImportRowError)}


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_rows_become_records(tmp_path: Path) -> None:
    """Each CSV row becomes a record; empty expires_on, status and subject_type take their defaults."""
    path = write_csv(tmp_path / "r.csv", [
        row("R1"),
        row("R2", PERSON_X.lower(), list_type="wage_arrears", subject_type="natural_person",
            expires_on="2027-01-15", status="repaired"),
    ])
    items = list(read_records(path))
    assert [line for line, _ in items] == [2, 3]
    first, second = (item for _, item in items)
    assert isinstance(first, CreditRecord) and isinstance(second, CreditRecord)
    assert first.expires_on is None and first.status == "active" and first.subject_type is None
    assert first.listed_on == dt.date(2024, 1, 15) and first.subject_name == "某某有限公司"
    assert second.subject_id == PERSON_X  # normalised: upper-case X
    assert second.expires_on == dt.date(2027, 1, 15) and second.status == "repaired"
    assert second.subject_type == "natural_person"


def test_csv_with_bom_and_columns_in_any_order(tmp_path: Path) -> None:
    """A UTF-8 BOM (as Excel writes) is ignored and columns may come in any order."""
    path = write_csv(tmp_path / "r.csv", [row("R1")], header=list(reversed(COLUMNS)), bom=True)
    report = import_records(MemoryStore(), path)
    assert report.stored == 1 and report.errors == []


def test_csv_header_names_tolerate_spaces_and_case(tmp_path: Path) -> None:
    """Header cells are matched after trimming spaces and lower-casing."""
    path = tmp_path / "r.csv"
    header = ",".join(f" {name.upper()} " for name in COLUMNS)
    values = ",".join(row("R1")[name] for name in COLUMNS)
    path.write_text(f"{header}\n{values}\n", encoding="utf-8")
    assert import_records(MemoryStore(), path).stored == 1


def test_bad_rows_are_reported_with_line_numbers_while_good_rows_load(tmp_path: Path) -> None:
    """Bad rows come back with their line and one-line reason; the good rows around them are stored."""
    path = write_csv(tmp_path / "r.csv", [
        row("R1"),                                              # line 2
        row("R2", listed_on="yesterday"),                       # line 3
        row("R3", list_type="foo"),                             # line 4
        row("R4", BAD_PERSON),                                  # line 5
        row("R5", status="expired"),                            # line 6
        row("R6", listed_on="2024-05-01", expires_on="2024-04-01"),  # line 7
        row("R7", BETA),                                        # line 8
    ])
    store = MemoryStore()
    report = import_records(store, path)
    assert report.stored == 2
    assert {r.record_id for r in store.iter_records()} == {"R1", "R7"}
    assert [e.line for e in report.errors] == [3, 4, 5, 6, 7]
    reasons = {e.line: e.reason for e in report.errors}
    assert str(report.errors[0]) == "line 3: listed_on: 'yesterday' is not a date (YYYY-MM-DD)"
    assert reasons[4] == "unknown list_type 'foo'"
    assert reasons[5].startswith("subject_id: ") and "4101**********1231" in reasons[5]
    assert reasons[6].startswith("unknown status 'expired'")
    assert reasons[7] == "expires_on 2024-04-01 is not after listed_on 2024-05-01"
    assert all("\n" not in reason for reason in reasons.values())


def test_no_reason_contains_an_unmasked_resident_id(tmp_path: Path) -> None:
    """Resident ids, valid or not, appear only masked in row errors."""
    path = write_csv(tmp_path / "r.csv", [
        row("R1", BAD_PERSON),
        row("R2", PERSON, list_type=PERSON),
        row(PERSON, PERSON, listed_on=PERSON),
    ])
    report = import_records(MemoryStore(), path)
    assert len(report.errors) == 3
    for error in report.errors:
        assert BAD_PERSON not in str(error) and PERSON not in str(error)


def test_several_problems_of_one_row_are_reported_together(tmp_path: Path) -> None:
    """A row with several bad values gets one reason naming each of them."""
    path = write_csv(tmp_path / "r.csv", [row("", list_type="foo", listed_on="2024-13-01")])
    assert errors_by_line(path) == {
        2: "record_id: missing; unknown list_type 'foo'; listed_on: '2024-13-01' is not a date (YYYY-MM-DD)"}


def test_unknown_values_get_a_suggestion(tmp_path: Path) -> None:
    """An unknown list type close to a known one suggests the id; its Chinese name is taken as the id."""
    path = write_csv(tmp_path / "r.csv", [
        row("R1", list_type="court_defaulters"),
        row("R2", list_type="失信被执行人"),
        row("R3", subject_type="company"),
    ])
    reasons = errors_by_line(path)
    assert reasons[2] == "unknown list_type 'court_defaulters' (did you mean 'court_defaulter'?)"
    assert 3 not in reasons
    assert reasons[4].startswith("unknown subject_type 'company' (expected one of: legal_person")


def test_slash_dates_from_spreadsheets_are_accepted(tmp_path: Path) -> None:
    """Dates written YYYY/M/D (Excel's CSV text) read like ISO dates."""
    path = write_csv(tmp_path / "r.csv", [row("R1", listed_on="2024/1/5", expires_on="2025/12/31")])
    [(_, record)] = read_records(path)
    assert isinstance(record, CreditRecord)
    assert (record.listed_on, record.expires_on) == (dt.date(2024, 1, 5), dt.date(2025, 12, 31))


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    """A quoted value spanning lines and blank lines do not shift later line numbers."""
    def line(values: dict[str, str]) -> str:
        return ",".join(f'"{values[name]}"' for name in COLUMNS)

    path = tmp_path / "r.csv"
    path.write_text("\n".join([
        ",".join(COLUMNS),                         # 1
        line(row("R1", reason="第一行\n第二行")),   # 2-3
        line(row("R2", listed_on="x")),            # 4
        "",                                        # 5
        "",                                        # 6
        line(row("R3", listed_on="y")),            # 7
    ]) + "\n", encoding="utf-8")
    assert sorted(errors_by_line(path)) == [4, 7]


def test_row_with_wrong_number_of_fields_is_a_row_error(tmp_path: Path) -> None:
    """A row with fewer or more fields than the header is reported, and the others load."""
    path = tmp_path / "r.csv"
    good = ",".join(row("R1")[c] for c in COLUMNS)
    path.write_text(f"{','.join(COLUMNS)}\nR0,court_defaulter\n{good},extra\n{good},\n", encoding="utf-8")
    report = import_records(MemoryStore(), path)
    assert report.stored == 1
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "2 fields, the header has 11"), (3, "12 fields, the header has 11")]


def test_missing_columns_reject_the_file(tmp_path: Path) -> None:
    """A header without required columns raises one RecordError naming them, and stores nothing."""
    header = [c for c in COLUMNS if c not in ("subject_id", "listed_on")]
    path = write_csv(tmp_path / "r.csv", [row("R1")], header=header)
    store = MemoryStore()
    with pytest.raises(RecordError, match="missing columns: subject_id, listed_on"):
        import_records(store, path)
    assert store.count() == 0


def test_extra_columns_reject_the_file(tmp_path: Path) -> None:
    """A header with unknown or repeated columns raises a RecordError naming them."""
    path = write_csv(tmp_path / "r.csv", [row("R1")], header=[*COLUMNS, "remark", "status"])
    with pytest.raises(RecordError, match="unknown columns: 'remark'; repeated columns: status"):
        list(read_records(path))


def test_empty_csv_is_rejected_and_header_only_imports_nothing(tmp_path: Path) -> None:
    """An empty CSV has no header and raises RecordError; a header alone imports zero rows."""
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(RecordError, match="empty file"):
        import_records(MemoryStore(), empty)
    report = import_records(MemoryStore(), write_csv(tmp_path / "header.csv", []))
    assert (report.stored, report.errors) == (0, [])


def test_non_utf8_csv_is_rejected(tmp_path: Path) -> None:
    """A CSV saved in GBK raises RecordError asking for UTF-8."""
    path = tmp_path / "gbk.csv"
    path.write_bytes((",".join(COLUMNS) + "\n" + ",".join(row("R1")[c] for c in COLUMNS) + "\n")
                     .encode("gbk"))
    with pytest.raises(RecordError, match="UTF-8"):
        import_records(MemoryStore(), path)


def test_unsupported_or_missing_file_is_rejected(tmp_path: Path) -> None:
    """An unknown extension or a missing file raises RecordError."""
    (tmp_path / "r.txt").write_text("x", encoding="utf-8")
    with pytest.raises(RecordError, match="unsupported file type"):
        list(read_records(tmp_path / "r.txt"))
    with pytest.raises(RecordError, match="cannot read"):
        list(read_records(tmp_path / "missing.csv"))


# --- JSON Lines -----------------------------------------------------------------------------------


def test_jsonl_rows_and_bad_lines(tmp_path: Path) -> None:
    """JSON Lines use the same keys; blank lines are skipped and bad lines are row errors."""
    good = {**row("R1"), "expires_on": None, "subject_type": None}
    lines = [
        json.dumps(good, ensure_ascii=False),                   # 1
        "",                                                     # 2 (blank)
        '{"record_id": "R2", ',                                 # 3 bad JSON
        json.dumps(["R3"]),                                     # 4 not an object
        json.dumps({**row("R4"), "remark": "x"}),               # 5 unknown key
        json.dumps({**row("R5"), "listed_on": 20240115}),       # 6 number date
        json.dumps({**row("R6"), "status": True}),              # 7 wrong type
        json.dumps({k: v for k, v in row("R7").items() if k in ("record_id", "list_type", "subject_id",
                                                               "listed_on")}),  # 8 minimal
        json.dumps({**row("R8"), "record_id": 12345}),          # 9 numeric id
    ]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = MemoryStore()
    report = import_records(store, path)
    assert report.stored == 3
    assert {r.record_id for r in store.iter_records()} == {"R1", "R7", "12345"}
    reasons = {e.line: e.reason for e in report.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert reasons[3].startswith("not valid JSON")
    assert reasons[4] == "expected a JSON object, found list"
    assert reasons[5] == "unknown keys: 'remark'"
    assert reasons[6] == "listed_on: '20240115' is not a date (YYYY-MM-DD)"
    assert reasons[7] == "status: expected a string, found true"


def test_empty_jsonl_imports_nothing(tmp_path: Path) -> None:
    """An empty JSON Lines file is zero records, not an error."""
    path = tmp_path / "r.jsonl"
    path.write_text("\n", encoding="utf-8")
    report = import_records(MemoryStore(), path)
    assert (report.stored, report.errors) == (0, [])


# --- XLSX -----------------------------------------------------------------------------------------


def write_xlsx(path: Path, header: Sequence[object], rows: Sequence[Sequence[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for values in rows:
        sheet.append(list(values))
    workbook.create_sheet("ignored").append(["not", "read"])
    workbook.save(path)
    return path


def xlsx_row(**values: object) -> list[object]:
    merged: dict[str, object] = {**row(), **values}
    return [merged[name] for name in COLUMNS]


def test_xlsx_first_sheet_with_date_and_number_cells(tmp_path: Path) -> None:
    """XLSX rows load from the first sheet: date cells, numeric ids and serial numbers are understood."""
    path = write_xlsx(tmp_path / "r.xlsx", COLUMNS, [
        xlsx_row(record_id=10001, listed_on=dt.datetime(2024, 3, 1), expires_on=dt.date(2027, 3, 1)),
        xlsx_row(record_id="R2", subject_id=GAMMA, listed_on=45352, expires_on=None, status=None),
        xlsx_row(record_id="R3", subject_id=SCHOOL, listed_on="2024-03-01", document_no=None),
    ])
    store = MemoryStore()
    report = import_records(store, path)
    assert report.errors == []
    first, second, third = store.get("10001"), store.get("R2"), store.get("R3")
    assert first is not None and second is not None and third is not None
    assert (first.listed_on, first.expires_on) == (dt.date(2024, 3, 1), dt.date(2027, 3, 1))
    assert second.listed_on == dt.date(2024, 3, 1)  # Excel serial 45352
    assert second.status == "active" and second.expires_on is None
    assert third.document_no == ""


def test_xlsx_bad_rows_report_spreadsheet_row_numbers(tmp_path: Path) -> None:
    """XLSX row errors carry the sheet's row number; empty rows are skipped but still counted."""
    path = write_xlsx(tmp_path / "r.xlsx", [*COLUMNS, None], [
        xlsx_row(record_id="R1"),
        [None] * len(COLUMNS),
        xlsx_row(record_id="R2", list_type="foo"),
        xlsx_row(record_id="R3", subject_id=BAD_PERSON),
    ])
    report = import_records(MemoryStore(), path)
    assert report.stored == 1
    assert (report.errors[0].line, report.errors[0].reason) == (4, "unknown list_type 'foo'")
    assert report.errors[1].line == 5 and BAD_PERSON not in report.errors[1].reason


def test_xlsx_missing_columns_and_bad_workbook(tmp_path: Path) -> None:
    """An XLSX without the required columns, or a file that is no workbook, raises RecordError."""
    path = write_xlsx(tmp_path / "r.xlsx", [c for c in COLUMNS if c != "record_id"], [])
    with pytest.raises(RecordError, match="missing columns: record_id"):
        list(read_records(path))
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK not really a zip")
    with pytest.raises(RecordError, match="not a readable XLSX"):
        list(read_records(broken))


# --- import ---------------------------------------------------------------------------------------


def test_reimport_updates_records_in_sqlite(tmp_path: Path) -> None:
    """Importing a file again updates records by record_id and adds no duplicates."""
    with SqliteStore(tmp_path / "r.db") as store:
        import_records(store, write_csv(tmp_path / "v1.csv", [row("R1"), row("R2", BETA)]))
        report = import_records(store, write_csv(tmp_path / "v2.csv", [
            row("R1", status="repaired"), row("R3", GAMMA)]))
        assert report.stored == 2
        assert store.count() == 3
        repaired = store.get("R1")
        assert repaired is not None and repaired.status == "repaired"
        assert store.active_records([ACME, BETA, GAMMA], dt.date(2024, 6, 1)) == [
            store.get("R2"), store.get("R3")]


def _index_names(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'credit_records' AND sql IS NOT NULL")}
    finally:
        conn.close()


def test_import_into_an_empty_sqlite_store_builds_its_indexes_once_at_the_end(tmp_path: Path) -> None:
    """The first import into a store is a bulk load: while it runs the secondary indexes are not
    maintained row by row; when it returns they exist, and a second import keeps them throughout."""
    path = tmp_path / "r.db"
    seen: list[set[str]] = []
    with SqliteStore(path) as store:
        expected = _index_names(path)
        assert expected  # the store has secondary indexes to defer
        import_records(store, write_csv(tmp_path / "a.csv", [row("R1"), row("R2", BETA), row("R3", GAMMA)]),
                       batch_size=1, progress=lambda n: seen.append(_index_names(path)))
        assert seen[0] == set() and _index_names(path) == expected
        seen.clear()
        import_records(store, write_csv(tmp_path / "b.csv", [row("R4", SCHOOL), row("R5", PERSON)]),
                       batch_size=1, progress=lambda n: seen.append(_index_names(path)))
        assert all(names == expected for names in seen) and store.count() == 5


def test_nothing_stored_is_lost_when_an_import_has_bad_rows(tmp_path: Path) -> None:
    """Records stored before survive an import whose rows are all bad."""
    store = MemoryStore()
    import_records(store, write_csv(tmp_path / "v1.csv", [row("R1"), row("R2", BETA)]))
    report = import_records(store, write_csv(tmp_path / "v2.csv", [
        row("R1", list_type="foo"), row("R2", listed_on="")]))
    assert report.stored == 0 and len(report.errors) == 2
    assert store.count() == 2 and store.get("R1") == next(store.iter_records())


def test_repeated_record_id_in_a_file_last_one_wins(tmp_path: Path) -> None:
    """When a record_id repeats in one file, across batches too, the last good row is stored."""
    path = write_csv(tmp_path / "r.csv", [
        row("R1", authority="first"), row("R2"), row("R1", authority="second"),
        row("R1", authority="bad", listed_on="never")])
    store = MemoryStore()
    import_records(store, path, batch_size=2)
    stored = store.get("R1")
    assert stored is not None and stored.authority == "second"


def test_progress_is_reported_per_batch_and_at_the_end(tmp_path: Path) -> None:
    """progress() gets the rows read so far after each batch and once at the end."""
    path = write_csv(tmp_path / "r.csv", [row(f"R{i}") for i in range(5)])
    seen: list[int] = []
    report = import_records(MemoryStore(), path, batch_size=2, progress=seen.append)
    assert report.stored == 5
    assert seen == [2, 4, 5]


def test_report_names_the_file(tmp_path: Path) -> None:
    """The report carries the path of the file imported."""
    path = write_csv(tmp_path / "r.csv", [row("R1")])
    assert import_records(MemoryStore(), path).path == str(path)


def test_columns_are_the_record_fields() -> None:
    """The import columns, required and optional, are exactly the fields of CreditRecord (docs/record-import.md),
    but the end date that only a dated repair or removal sets."""
    assert set(COLUMNS) | set(records.BAN_COLUMNS) == set(CreditRecord.model_fields) - {"ended_on"}


class FailingStore(MemoryStore):
    """A real in-memory store whose writes fail from the ``fail_at``-th call on."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = 0  # not while MemoryStore's own constructor stores its initial records
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def upsert_checked(self, records: Any) -> tuple[int, dict[str, str]]:
        if self.fail_at:
            self.calls += 1
            if self.calls >= self.fail_at:
                raise StoreError("database is full")
        return super().upsert_checked(records)


def test_a_store_failure_stops_the_import_and_keeps_the_batches_stored_before(tmp_path: Path) -> None:
    """When the database fails mid-import the error reaches the caller; earlier batches stay stored."""
    path = write_csv(tmp_path / "r.csv", [row(f"R{i}") for i in range(7)])
    store = FailingStore(fail_at=2)
    with pytest.raises(StoreError, match="database is full"):
        import_records(store, path, batch_size=2)
    assert sorted(r.record_id for r in store.iter_records()) == ["R0", "R1"]


_CELL = {
    "record_id": st.sampled_from(["R1", "", "长-ID-9"]),
    "list_type": st.sampled_from(["court_defaulter", "tax_credit_a", "失信被执行人", "", "foo"]),
    "subject_id": st.sampled_from(["91410100MA0000015B", "410102199003071230", "41010219900307123x",
                                   "91410100MA0000015C", "", "123"]),
    "subject_name": st.sampled_from(["", "某公司"]),
    "subject_type": st.sampled_from(["", "legal_person", "natural_person", "alien"]),
    "authority": st.sampled_from(["", "法院"]),
    "document_no": st.sampled_from(["", "(2024)豫01执1号"]),
    "listed_on": st.sampled_from(["2024-01-10", "2024/1/10", "", "2024-02-30", "never"]),
    "expires_on": st.sampled_from(["", "2027-01-10", "2024-01-10", "2023-01-01", "soon"]),
    "status": st.sampled_from(["", "active", "repaired", "removed", "gone"]),
    "reason": st.sampled_from(["", "未履行"]),
}


@settings(max_examples=600, deadline=None)
@given(cells=st.fixed_dictionaries(_CELL))
def test_a_row_read_without_pydantic_equals_the_validated_one(cells: dict[str, str]) -> None:
    """Well-formed rows skip model validation; what they become (or the error) is what validation gives."""
    values = [cells[c] for c in COLUMNS]
    fast = records._row(7, COLUMNS, values)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(records, "_plain_record", lambda fields: None)
        validated = records._row(7, COLUMNS, values)

    def outcome(item: CreditRecord | ImportRowError) -> Any:
        return (item.line, item.reason) if isinstance(item, ImportRowError) else item

    assert outcome(fast) == outcome(validated)


# --- hostile input (design.md §9) -----------------------------------------------------------------


def _import_cli(path: Path, url: str, *extra: str) -> tuple[int, list[str]]:
    """Run `records import` in this process; the exit code and the stderr lines."""
    import contextlib
    import io

    from joint_sanctions._cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["records", "import", str(path), "--db", url, *extra])
    return code, err.getvalue().splitlines()


def _good_workbook(path: Path, count: int = 3) -> Path:
    return hostile.workbook(path, COLUMNS, [xlsx_row(record_id=f"R{i}") for i in range(count)])


def test_xlsx_zip_bomb_is_refused_before_anything_is_stored(tmp_path: Path, database: Database) -> None:
    """An XLSX whose sharedStrings part unpacks past 256 MiB is one error line, exit 1, nothing stored."""
    path = hostile.add_zero_part(_good_workbook(tmp_path / "bomb.xlsx"), hostile.STRINGS, 257 * hostile.MIB)
    assert path.stat().st_size < 2 * hostile.MIB
    code, lines = _import_cli(path, database.url)
    assert code == 1
    assert len(lines) == 1 and "bomb.xlsx" in lines[0] and "256 MiB" in lines[0], lines
    assert "internal error" not in lines[0] and " / " in lines[0]
    assert database.rows("SELECT COUNT(*) FROM credit_records") == [(0,)]


def test_a_bomb_in_the_sheet_part_is_refused_too(tmp_path: Path) -> None:
    """The limit holds for every part, the worksheet included; the message names the part and the limit."""
    path = hostile.add_zero_part(_good_workbook(tmp_path / "bomb.xlsx"), hostile.SHEET, 3 * hostile.MIB)
    store = MemoryStore()
    with pytest.raises(RecordError, match=r"bomb\.xlsx.*sheet1\.xml.*over the limit of 2 MiB"):
        import_records(store, path, max_input_mb=2)
    assert store.count() == 0


def test_max_input_mb_raises_or_lowers_the_limit(tmp_path: Path) -> None:
    """A 3 MiB part is refused under max_input_mb=2 and read under the default; a value out of range is
    a ValueError."""
    long_reason = "未履行生效法律文书确定的义务" * 2000  # 28,000 characters, ~84 KB of UTF-8
    path = hostile.workbook(tmp_path / "big.xlsx", COLUMNS,
                            [xlsx_row(record_id=f"R{i}", reason=f"{i}{long_reason}") for i in range(40)])
    with pytest.raises(RecordError, match="over the limit of 2 MiB"):
        list(read_records(path, max_input_mb=2))
    report = import_records(MemoryStore(), path)
    assert (report.stored, report.errors) == (40, [])
    for wrong in (0, -1, 10**9):
        with pytest.raises(ValueError, match="max_input_mb"):
            list(read_records(path, max_input_mb=wrong))


def test_a_part_that_unpacks_to_more_than_it_declares_is_refused(tmp_path: Path, database: Database) -> None:
    """A header that understates a part's size does not let more through: the file is refused, nothing
    stored."""
    path = hostile.add_zero_part(_good_workbook(tmp_path / "liar.xlsx"), hostile.STRINGS, 64 * hostile.MIB)
    hostile.understate_size(path, hostile.STRINGS, 1000)
    code, lines = _import_cli(path, database.url)
    assert code == 1 and len(lines) == 1 and "liar.xlsx" in lines[0], lines
    assert "internal error" not in lines[0]
    assert database.rows("SELECT COUNT(*) FROM credit_records") == [(0,)]


@pytest.mark.parametrize("part", [hostile.XXE, hostile.LAUGHS], ids=["xxe", "billion-laughs"])
def test_xxe_and_entity_expansion_are_refused_as_unsafe(tmp_path: Path, part: bytes) -> None:
    """A part with a DTD (external entity, entity expansion) is refused as unsafe XLSX, in one line."""
    path = hostile.replace_parts(_good_workbook(tmp_path / "dtd.xlsx"), {hostile.STRINGS: part})
    code, lines = _import_cli(path, f"sqlite:///{tmp_path / 'r.db'}")
    assert code == 1 and len(lines) == 1, lines
    assert "dtd.xlsx" in lines[0] and "unsafe XLSX" in lines[0] and "不安全的 XLSX 文件" in lines[0]


@pytest.mark.parametrize("rows, message", [
    (hostile.inline_row(1, COLUMNS) + '<row r="2000000000"><c r="A2000000000" t="inlineStr"><is><t>x</t></is>'
     '</c></row>', "more than 1,048,576 rows"),
    (hostile.inline_row(1, COLUMNS) + '<row r="2"><c r="ZZZ2" t="inlineStr"><is><t>x</t></is></c></row>',
     "more than 16,384 columns"),
    (hostile.inline_row(1, COLUMNS) + '<row r="2">' + "<c/>" * 20_000 + "</row>", "more than 16,384 cells in a row"),
    (hostile.inline_row(1, COLUMNS) + '<row r="2">' + '<c r="A2"/>' * 20_000 + "</row>",
     "more than 16,384 cells in a row"),
    (hostile.inline_row(1, COLUMNS) + '''<row x=" r='3'" r="1048577"><c r="A1048577"/></row>''',
     "more than 1,048,576 rows"),
    (hostile.inline_row(1, COLUMNS) + '''<row r="2"><c x=" r='A2'" r="ZZZ2"/></row>''', "more than 16,384 columns"),
    (hostile.inline_row(1, COLUMNS) + "".join(f'<row r="{n}"><c r="XFD{n}"/></row>' for n in range(2, 5000)),
     "more than 67,108,864 cells"),
], ids=["row-number", "column", "cells-without-reference", "cells-per-row", "hidden-row-number",
        "hidden-column", "padded-cells"])
def test_xlsx_rows_and_cells_are_bounded_before_reading(tmp_path: Path, rows: str, message: str) -> None:
    """Row numbers, columns and cells past a sheet's limits refuse the file before a row is read."""
    path = hostile.replace_parts(_good_workbook(tmp_path / "wide.xlsx"), {hostile.SHEET: hostile.sheet_xml(rows)})
    store = MemoryStore()
    with pytest.raises(RecordError, match=rf"wide\.xlsx: .*{message}"):
        import_records(store, path)
    assert store.count() == 0


def test_a_crafted_sheet_within_the_limits_still_loads(tmp_path: Path) -> None:
    """The bounds do not refuse a sheet written by hand with inline strings and gaps between rows."""
    good = [row(f"R{i}") for i in range(3)]
    rows = hostile.inline_row(1, COLUMNS) + "".join(
        hostile.inline_row(n, [values[c] for c in COLUMNS]) for n, values in zip((2, 5, 900), good, strict=True))
    path = hostile.replace_parts(_good_workbook(tmp_path / "gaps.xlsx"), {hostile.SHEET: hostile.sheet_xml(rows)})
    assert [(line, item.record_id) for line, item in read_records(path)
            if isinstance(item, CreditRecord)] == [(2, "R0"), (5, "R1"), (900, "R2")]


@pytest.mark.parametrize("value", ["0", "-5", "x", "100000"])
def test_cli_max_input_mb_out_of_range_is_a_command_line_error(tmp_path: Path, value: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`records import --max-input-mb` takes 1 to 16384; anything else exits 2 with one line."""
    from joint_sanctions._cli import main

    path = write_csv(tmp_path / "r.csv", [row("R1")])
    with pytest.raises(SystemExit) as exited:
        main(["records", "import", str(path), "--db", f"sqlite:///{tmp_path / 'r.db'}", "--max-input-mb", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-input-mb" in err[0]


def test_cli_max_input_mb_is_applied(tmp_path: Path) -> None:
    """`--max-input-mb 1` refuses a workbook with a 2 MiB part that the default reads."""
    path = hostile.add_zero_part(_good_workbook(tmp_path / "big.xlsx"), "docProps/thumbnail.bin", 2 * hostile.MIB)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    code, lines = _import_cli(path, url, "--max-input-mb", "1")
    assert code == 1 and "over the limit of 1 MiB" in lines[0]
    assert _import_cli(path, url) == (0, [])


def test_csv_field_of_1_mib_loads_and_a_longer_one_rejects_its_row_only(tmp_path: Path) -> None:
    """A CSV field of 1 MiB is read; a longer one rejects that row with its line; the other rows load."""
    path = write_csv(tmp_path / "long.csv", [
        row("R1", reason="x" * hostile.MIB),
        row("R2", reason="y" * (hostile.MIB + 1)),
        row("R3", reason="多行\n" + "z" * 2 * hostile.MIB),
        row("R4"),
    ])
    store = MemoryStore()
    report = import_records(store, path)
    assert sorted(r.record_id for r in store.iter_records()) == ["R1", "R4"]
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "reason: longer than 1 MiB (1048577 characters)"),
        (4, "reason: longer than 1 MiB (2097155 characters)")]
    assert len(store.get("R1").reason) == hostile.MIB  # type: ignore[union-attr]


def test_csv_line_past_16_mib_refuses_the_file_with_its_line(tmp_path: Path) -> None:
    """A physical line longer than 16 MiB cannot be one row of an import file: the file is refused."""
    path = tmp_path / "huge.csv"
    path.write_text(",".join(COLUMNS) + "\n" + ",".join(row("R1").values()) + "\n"
                    + "R2," + "x" * (16 * hostile.MIB + 10) + "\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"huge\.csv: line 3: longer than 16 MiB"):
        list(read_records(path))


def test_jsonl_hostile_lines_are_rejected_one_by_one(tmp_path: Path, database: Database) -> None:
    """Over-long, over-deep, huge-integer and non-UTF-8 lines are reported with their line; the rest loads."""
    good = [json.dumps(row(f"R{i}"), ensure_ascii=False).encode() for i in range(5)]
    lines = [
        good[0],
        json.dumps(row("L1", reason="x" * hostile.MIB)).encode(),        # 2: over 1 MiB
        b"[" * 100_000 + b"]" * 100_000,                                  # 3: RecursionError today
        b'{"record_id": ' + b"[" * 33 + b"]" * 33 + b"}",                 # 4: 34 levels
        good[1],
        b'{"record_id": ' + b"9" * 5000 + b"}",                           # 6: int of 5,000 digits
        json.dumps(row("B1")).encode().replace(b"B1", b"B\xff1"),         # 7: not UTF-8
        good[2],
        json.dumps(row("R9", reason="x" * (hostile.MIB - 1000))).encode(),  # 9: just under 1 MiB
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, errors = _import_cli(path, database.url)
    assert code == 1
    assert [re.search(r"r\.jsonl:(\d+): ", e)[1] for e in errors] == ["2", "3", "4", "6", "7"], errors  # type: ignore[index]
    assert "longer than 1 MiB" in errors[0]
    assert "nested deeper than 32 levels" in errors[1] and "nested deeper than 32 levels" in errors[2]
    assert "more than 4300 digits" in errors[3]
    assert "not UTF-8" in errors[4]
    assert not any("internal error" in e for e in errors)
    stored = {r[0] for r in database.rows("SELECT record_id FROM credit_records")}
    assert stored == {"R0", "R1", "R2", "R9"}


@pytest.mark.parametrize("sheet", [
    hostile.sheet_xml(hostile.inline_row(1, COLUMNS) + "<row r='2'><c r='A2' t='inlineStr'><is><t>x</is></c></row>"),
    hostile.sheet_xml(hostile.inline_row(1, COLUMNS) + "<row r='2'><c r='2A'><v>1</v></c></row>"),
], ids=["malformed-xml", "bad-cell-reference"])
def test_xlsx_that_openpyxl_cannot_parse_is_a_record_error(tmp_path: Path, sheet: bytes) -> None:
    """Broken XML or a cell reference openpyxl cannot read is a RecordError naming the file, not a crash."""
    path = hostile.replace_parts(_good_workbook(tmp_path / "broken.xlsx"), {hostile.SHEET: sheet})
    with pytest.raises(RecordError, match=r"broken\.xlsx: not a readable XLSX workbook"):
        list(read_records(path))


def test_parts_under_the_limit_are_bounded_in_all(tmp_path: Path) -> None:
    """Many parts each under the limit (as an overlapping-entry bomb makes) are refused by their sum."""
    path = _good_workbook(tmp_path / "many.xlsx")
    for n in range(5):
        hostile.add_zero_part(path, f"docProps/extra{n}.bin", hostile.MIB)
    with pytest.raises(RecordError, match=r"many\.xlsx: the XLSX parts unpack to more than 4 MiB in all"):
        list(read_records(path, max_input_mb=1))
    assert len([item for _, item in read_records(path, max_input_mb=2)]) == 3


@pytest.mark.parametrize("tail", [b"R9,\xc4\xe3\xba\xc3\n", b"R9," + b"x" * (16 * hostile.MIB + 10) + b"\n"],
                         ids=["not-utf-8", "line-past-16-mib"])
def test_a_csv_refused_as_a_whole_stores_nothing_even_after_a_batch(database: Database, tmp_path: Path,
                                                                     tail: bytes) -> None:
    """A CSV that cannot be read as a whole (GBK bytes, a line past 16 MiB) is refused before its
    first row is stored, even when the fault lies past the first write batch."""
    path = write_csv(tmp_path / "late.csv", [row(f"R{i}") for i in range(3)])
    with path.open("ab") as file:
        file.write(tail)
    store = database.open()
    with pytest.raises(RecordError, match=r"late\.csv: line 5"):
        import_records(store, path, batch_size=2)
    assert store.count() == 0 and store.data_as_of() == {}
