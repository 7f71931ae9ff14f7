"""Contract performance of government bodies: import from CSV and XLSX, bad rows, idempotence, and the clue
a default opens, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest

from joint_sanctions._cli import main
from joint_sanctions._gov_base import GovError
from joint_sanctions._gov_clues import get_clue, list_clues, transfer_clue, verify_clue
from joint_sanctions._gov_contracts import contract, import_contracts

from .conftest import Database, numbered_uscc, write_csv

BODY = "124101064100000117"  # 上街区
OTHER = numbered_uscc(1, "11410184MB")  # 新郑市
HEADER = ("contract_no", "body_id", "counterparty", "signed_on", "due_on", "event", "event_on", "amount", "text")
ROWS = [
    ("HT-001", BODY, "甲建筑公司", "2023-01-10", "2023-12-31", "signed", "2023-01-10", "300000", ""),
    ("HT-001", BODY, "", "", "", "defaulted", "2024-01-15", "120000", "尾款未付"),
    ("HT-002", OTHER, "乙公司", "2023-02-01", "2023-06-30", "signed", "2023-02-01", "", ""),
    ("HT-002", OTHER, "", "", "", "performed", "2023-06-20", "", "按期履约"),
]


def test_import_stores_contracts_and_events_and_a_default_opens_a_clue(database: Database, tmp_path: Path) -> None:
    """Each contract keeps its fields and events; the default opens a clue (channel other, received on the
    default's day, its amount) that goes through the clue steps to a record."""
    store = database.open()
    report = import_contracts(store, write_csv(tmp_path / "contracts.csv", ROWS, HEADER))
    assert (report.rows, report.events_added, report.contracts_added, report.errors) == (4, 4, 2, [])
    assert len(report.clues_opened) == 1
    first = contract(store, "HT-001")
    assert (first.body_id, first.region_code, first.counterparty, first.signed_on, first.due_on, first.amount) == (
        BODY, "410106", "甲建筑公司", dt.date(2023, 1, 10), dt.date(2023, 12, 31), 300000.0)
    assert [(e["event"], e["event_on"]) for e in first.events] == [("signed", "2023-01-10"),
                                                                   ("defaulted", "2024-01-15")]
    assert first.to_json()["status"] == "defaulted" and contract(store, "HT-002").to_json()["status"] == "performed"
    clue = get_clue(store, report.clues_opened[0])
    assert (clue.body_id, clue.channel, clue.received_on, clue.amount, clue.source, clue.status) == (
        BODY, "other", dt.date(2024, 1, 15), 120000.0, "contract:HT-001", "received")
    assert "HT-001" in clue.summary and "甲建筑公司" in clue.summary
    assert first.events[1]["clue_id"] == clue.clue_id
    transfer_clue(store, clue.clue_id, to="上街区政府", due=dt.date(2024, 2, 1), on=dt.date(2024, 1, 16))
    assert verify_clue(store, clue.clue_id, confirmed=True, reason="属实", on=dt.date(2024, 1, 20)).record_id


def test_reimporting_the_same_file_changes_nothing(database: Database, tmp_path: Path) -> None:
    """A second import of the same file adds no event, changes no contract and opens no clue."""
    store = database.open()
    path = write_csv(tmp_path / "contracts.csv", ROWS, HEADER)
    import_contracts(store, path)
    before = contract(store, "HT-001")
    again = import_contracts(store, path)
    assert (again.events_added, again.contracts_added, again.contracts_updated, again.clues_opened) == (0, 0, 0, [])
    assert contract(store, "HT-001") == before
    assert len(list_clues(store)) == 1


def test_a_bad_row_is_reported_and_the_good_rows_load(database: Database, tmp_path: Path) -> None:
    """Bad rows (unknown body, event, date, amount, an empty required cell) are reported with their line;
    the good rows of the same file are stored."""
    store = database.open()
    rows = [ROWS[0],
            ("HT-009", "91410100MA0000015B", "", "", "", "signed", "2024-01-01", "", ""),
            ("HT-009", BODY, "", "", "", "broken", "2024-01-01", "", ""),
            ("HT-009", BODY, "", "", "", "signed", "2024/13/01", "", ""),
            ("HT-009", BODY, "", "", "", "signed", "2024-01-01", "-5", ""),
            ("", BODY, "", "", "", "signed", "2024-01-01", "", ""),
            ROWS[2]]
    report = import_contracts(store, write_csv(tmp_path / "contracts.csv", rows, HEADER))
    assert [(e.line, e.reason.split(":")[0].split(" ")[0]) for e in report.errors] == [
        (3, "unknown"), (4, "event"), (5, "event_on"), (6, "amount"), (7, "contract_no")]
    assert report.events_added == 2
    assert contract(store, "HT-001").body_id == BODY and contract(store, "HT-002").body_id == OTHER
    with pytest.raises(GovError, match="unknown contract"):
        contract(store, "HT-009")


def test_chinese_headers_and_xlsx_are_read(database: Database, tmp_path: Path) -> None:
    """An XLSX sheet with Chinese headers, date cells and Chinese event names imports like the CSV."""
    store = database.open()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["合同编号", "机构统一社会信用代码", "相对方", "签订日期", "事件", "事件日期", "金额"])
    sheet.append(["HT-X1", BODY, "丙公司", dt.datetime(2023, 5, 1), "签约", dt.datetime(2023, 5, 1), 5000])
    sheet.append(["HT-X1", BODY, None, None, "违约", dt.datetime(2024, 2, 1), None])
    workbook.save(tmp_path / "contracts.xlsx")
    report = import_contracts(store, tmp_path / "contracts.xlsx")
    assert (report.events_added, report.errors, len(report.clues_opened)) == (2, [], 1)
    assert get_clue(store, report.clues_opened[0]).amount == 5000.0  # the contract's amount
    assert contract(store, "HT-X1").signed_on == dt.date(2023, 5, 1)


def test_whole_file_refusals(database: Database, tmp_path: Path) -> None:
    """A wrong header, an unknown file type and a missing file are refused as a whole; nothing is stored."""
    store = database.open()
    with pytest.raises(GovError, match="missing columns: event"):
        import_contracts(store, write_csv(tmp_path / "bad.csv", [("HT-1", BODY)], ("contract_no", "body_id")))
    with pytest.raises(GovError, match=r"\.csv or \.xlsx"):
        import_contracts(store, tmp_path / "contracts.txt")
    with pytest.raises(GovError, match="cannot read"):
        import_contracts(store, tmp_path / "missing.csv")
    assert list_clues(store) == []


def test_cli_import_and_show(database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``gov contracts import`` reports bad rows as file:line on stderr and exits 1, keeping the good rows;
    ``gov contracts show --json`` prints the contract with its events."""
    path = write_csv(tmp_path / "contracts.csv", [*ROWS, ("HT-003", BODY, "", "", "", "lost", "2024-01-01", "", "")],
                     HEADER)
    database.open()
    db = ["--db", database.url]
    assert main(["gov", "contracts", "import", str(path), "--json", *db]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["events_added"] == 4 and len(report["clues_opened"]) == 1
    assert f"{path}:6: event" in captured.err
    assert main(["gov", "contracts", "show", "HT-001", "--json", *db]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["contract_no"], shown["status"], len(shown["events"])) == ("HT-001", "defaulted", 2)
    assert main(["gov", "contracts", "show", "HT-404", *db]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown contract" in err
