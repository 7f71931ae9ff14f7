"""Dated repairs and removals, a record's history, and re-imports that cannot undo a repair (design.md §6
Lifecycle), on SQLite and PostgreSQL and in the test kit's MemoryStore."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from joint_sanctions import Engine, case_book_for
from joint_sanctions._cli import main
from joint_sanctions._errors import RecordError
from joint_sanctions._list_types import POLICY_FILE
from joint_sanctions._load import load_list_types
from joint_sanctions._models import RecordChange
from joint_sanctions._records import import_records
from joint_sanctions._repairs import end_record
from joint_sanctions.stores import RecordStore
from joint_sanctions.testing import Clock, MemoryStore

from .conftest import CO, FIXED_NOW, FIXTURE, Database, record

HEADER = "record_id,list_type,subject_id,listed_on,status\n"
REPAIRED_ON = dt.date(2025, 3, 1)
POLICY = """\
edition: "1"
issuer: 信用办
list_types:
  - list_type: market_serious_violator
    name: 市场监督管理严重违法失信名单
    listed_by: 市场监管部门
    repaired_by: 市场监管部门
    maximum_period: 3 years
    minimum_before_repair: 1 year
    basis_status: unconfirmed
"""


def repair(on: dt.date = REPAIRED_ON, status: str = "repaired", **kw: object) -> RecordChange:
    values: dict[str, object] = {"status": status, "on": on, "reason": "已履行", "decision_no": "豫01执恢1号",
                                 "authority": "郑州市中级人民法院"}
    values.update(kw)
    return RecordChange.model_validate(values)


@pytest.fixture(params=["memory", "db"])
def any_store(request: pytest.FixtureRequest, database: Database) -> RecordStore:
    """The kit's MemoryStore, then a real database (SQLite, then PostgreSQL)."""
    return MemoryStore() if request.param == "memory" else database.open()


def test_a_repair_ends_activity_from_its_date(any_store: RecordStore) -> None:
    """The day before the repair the record counts; from the repair date on it does not."""
    any_store.upsert([record("R1", CO)])
    repaired = any_store.change_status("R1", repair())
    assert (repaired.status, repaired.ended_on) == ("repaired", REPAIRED_ON)
    assert [r.record_id for r in any_store.active_records([CO], REPAIRED_ON - dt.timedelta(days=1))] == ["R1"]
    assert any_store.active_records([CO], REPAIRED_ON) == []


def test_every_change_is_kept_in_the_history(any_store: RecordStore) -> None:
    """An update by re-import and a dated repair each leave an entry with who, why and when."""
    any_store.upsert([record("R1", CO)])
    any_store.upsert([record("R1", CO)])                                   # unchanged: no entry
    any_store.upsert([record("R1", CO, expires_on=dt.date(2027, 1, 1))])
    any_store.change_status("R1", repair())
    events = any_store.history("R1")
    assert [e.action for e in events] == ["updated", "repaired"]
    assert events[0].before is not None and events[0].before.expires_on is None
    assert events[0].after.expires_on == dt.date(2027, 1, 1)
    last = events[1]
    assert (last.effective_on, last.reason, last.decision_no, last.authority) == (
        REPAIRED_ON, "已履行", "豫01执恢1号", "郑州市中级人民法院")
    assert any_store.history("NOPE") == []


def test_reimport_cannot_undo_a_repair(any_store: RecordStore) -> None:
    """A row still saying active with the same listing is refused; the repair stands."""
    any_store.upsert([record("R1", CO)])
    any_store.change_status("R1", repair())
    written, refused = any_store.upsert_checked([record("R1", CO), record("R2", CO)])
    assert written == 1 and list(refused) == ["R1"] and "2025-03-01" in refused["R1"]
    stored = any_store.get("R1")
    assert stored is not None and stored.status == "repaired" and stored.ended_on == REPAIRED_ON


def test_a_later_listing_is_a_new_listing(any_store: RecordStore) -> None:
    """A row whose listed_on is after the repair date lists the record anew, and the history says so."""
    any_store.upsert([record("R1", CO)])
    any_store.change_status("R1", repair())
    written, refused = any_store.upsert_checked([record("R1", CO, listed_on=dt.date(2025, 6, 1))])
    assert (written, refused) == (1, {})
    stored = any_store.get("R1")
    assert stored is not None and (stored.status, stored.ended_on) == ("active", None)
    assert [e.action for e in any_store.history("R1")] == ["repaired", "relisted"]


def test_fast_path_still_finds_a_repaired_subject_for_an_earlier_day(database: Database) -> None:
    """An engine started after the repair answers a check --at the day before from the record, not `clear`."""
    store = database.open()
    store.upsert([record("R1", CO)])
    store.change_status("R1", repair())
    engine = Engine(measures=FIXTURE, store=store, clock=Clock(FIXED_NOW), cases=False)
    assert engine.check(CO, "government_procurement", at=REPAIRED_ON - dt.timedelta(days=1)).decision == "prohibited"
    assert engine.check(CO, "government_procurement", at=REPAIRED_ON).decision == "clear"
    assert engine.check(CO, "government_procurement").decision == "clear"


def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "lists"
    shutil.copytree(FIXTURE, folder)
    (folder / POLICY_FILE).write_text(POLICY, encoding="utf-8")
    return folder


def test_repair_before_the_minimum_is_refused_unless_early(tmp_path: Path) -> None:
    """Within the minimum period a repair is refused, nothing written; --early with a decision number passes."""
    store = MemoryStore([record("R1", CO, "market_serious_violator", listed_on=dt.date(2025, 1, 10))])
    policy = load_list_types(policy_dir(tmp_path))
    with pytest.raises(RecordError, match="2026-01-10") as info:
        end_record(store, "R1", repair(dt.date(2025, 6, 1)), policy)
    assert " / " in str(info.value) and "\n" not in str(info.value)
    stored = store.get("R1")
    assert stored is not None and stored.status == "active"
    assert store.history("R1") == []
    done = end_record(store, "R1", repair(dt.date(2025, 6, 1), early=True), policy)
    assert done.status == "repaired" and store.history("R1")[0].early is True
    later = MemoryStore([record("R2", CO, "market_serious_violator", listed_on=dt.date(2024, 1, 10))])
    assert end_record(later, "R2", repair(dt.date(2025, 1, 10)), policy).status == "repaired"


def test_a_repair_needs_a_known_record_and_a_sane_date() -> None:
    """An unknown record, a date before the listing, or a second repair: one bilingual line, nothing written."""
    store = MemoryStore([record("R1", CO)])
    with pytest.raises(RecordError, match="NOPE.* / "):
        end_record(store, "NOPE", repair(), None)
    with pytest.raises(RecordError, match="before .* listed"):
        end_record(store, "R1", repair(dt.date(2023, 1, 1)), None)
    end_record(store, "R1", repair(), None)
    with pytest.raises(RecordError, match="already"):
        end_record(store, "R1", repair(status="removed"), None)
    assert [e.action for e in store.history("R1")] == ["repaired"]


def test_import_reports_the_conflicting_row_with_its_line(database: Database) -> None:
    """A re-import that would undo a repair names the row's line; the other rows load."""
    store = database.open()
    store.upsert([record("R1", CO)])
    store.change_status("R1", repair())
    path = database.workdir / "again.csv"
    path.write_text(HEADER + f"R2,court_defaulter,{CO},2024-01-01,active\n"
                    + f"R1,court_defaulter,{CO},2024-01-01,active\n", encoding="utf-8")
    report = import_records(store, path)
    assert report.stored == 1
    assert [(e.line, "repaired on 2025-03-01" in e.reason) for e in report.errors] == [(3, True)]
    assert store.get("R2") is not None


def cli_db(database: Database) -> str:
    path = database.workdir / "records.csv"
    path.write_text(HEADER + f"R1,court_defaulter,{CO},2024-01-01,active\n", encoding="utf-8")
    assert main(["records", "import", str(path), "--db", database.url]) == 0
    return database.url


def test_cli_repair_history_and_list(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    """records repair --on keeps who/why/when; records history and list --subject show it as JSON."""
    url = cli_db(database)
    assert main(["records", "repair", "R1", "--reason", "已履行", "--decision-no", "豫01执恢1号",
                 "--on", "2025-03-01", "--authority", "郑州中院", "--db", url]) == 0
    assert "2025-03-01" in capsys.readouterr().out
    assert main(["records", "history", "R1", "--json", "--db", url]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [(e["action"], e["effective_on"], e["decision_no"]) for e in history] == [
        ("repaired", "2025-03-01", "豫01执恢1号")]
    assert main(["records", "list", "--subject", CO, "--json", "--db", url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["record_id"], r["status"], r["ended_on"]) for r in listed] == [("R1", "repaired", "2025-03-01")]
    engine = Engine(measures=FIXTURE, store=database.open(), cases=False)
    assert engine.check(CO, "government_procurement", at=dt.date(2025, 2, 28)).decision == "prohibited"


def test_cli_refusals_are_one_line_exit_1(database: Database, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown record, repair within the minimum: exit 1, one bilingual line each, nothing written."""
    url = cli_db(database)
    assert main(["records", "repair", "NOPE", "--reason", "r", "--decision-no", "n", "--db", url]) == 1
    err = capsys.readouterr().err.strip()
    assert "NOPE" in err and " / " in err and len(err.splitlines()) == 1
    path = database.workdir / "market.csv"
    path.write_text(HEADER + f"M1,market_serious_violator,{CO},2025-01-10,active\n", encoding="utf-8")
    assert main(["records", "import", str(path), "--db", url]) == 0
    lists = str(policy_dir(tmp_path))
    args = ["records", "remove", "M1", "--reason", "r", "--decision-no", "n", "--on", "2025-06-01",
            "--db", url, "--measures", lists]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert "--early" in err and " / " in err and len(err.splitlines()) == 1
    assert main(["records", "history", "M1", "--json", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main([*args, "--early"]) == 0


def test_missing_reason_or_decision_is_a_command_line_error(database: Database) -> None:
    """records repair without --reason or --decision-no is a wrong command line (exit 2)."""
    url = cli_db(database)
    with pytest.raises(SystemExit) as info:
        main(["records", "repair", "R1", "--reason", "r", "--db", url])
    assert info.value.code == 2


def test_cases_list_flags_a_case_whose_records_were_repaired(database: Database,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """An open case whose only record was repaired since shows it in cases list (JSON key and table)."""
    store = database.open()
    store.upsert([record("R1", CO)])
    engine = Engine(measures=FIXTURE, store=store, clock=Clock(FIXED_NOW))
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    assert main(["cases", "list", "--json", "--db", database.url]) == 0
    assert json.loads(capsys.readouterr().out)[0]["records_ended"] is False
    store.change_status("R1", repair(dt.date(2025, 5, 1)))
    assert main(["cases", "list", "--json", "--db", database.url]) == 0
    assert json.loads(capsys.readouterr().out)[0]["records_ended"] is True
    assert main(["cases", "list", "--db", database.url]) == 0
    assert "已修复" in capsys.readouterr().out
    assert case_book_for(store).get(case_id).status == "responded"
