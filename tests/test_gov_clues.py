"""Complaint clues about government bodies: receipt, transfer, verification, the trail, and the
government-dishonesty record a confirmed clue becomes (design.md §12), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from joint_sanctions import Engine, _gov_clues
from joint_sanctions._cli import main
from joint_sanctions._errors import StoreError
from joint_sanctions._gov_base import GovError, government_body
from joint_sanctions._gov_clues import (
    add_clue,
    get_clue,
    list_clues,
    transfer_clue,
    transfer_deadline,
    verify_clue,
)
from joint_sanctions.stores import RecordStore
from joint_sanctions.testing import Clock, MemoryStore
from joint_sanctions.vocabulary import CLUE_CHANNELS

from .conftest import Database, numbered_uscc, resident_id

SHANGJIE = "124101064100000117"  # a 事业单位 registered in 上街区 (410106)
XINZHENG = numbered_uscc(1, "11410184MB")  # a 机关 of 新郑市 (410184)
COMPANY = "91410100MA0000015B"
CLOCK = Clock(dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC))


def received(store: RecordStore, body: str = SHANGJIE, **kw: object) -> str:
    args: dict[str, object] = {"channel": "hotline_12345", "summary": "拖欠货款未付", "amount": 120000.0,
                               "received": dt.date(2024, 3, 1), **kw}
    return add_clue(store, body=body, clock=CLOCK, **args).clue_id  # type: ignore[arg-type]


def test_channels_are_the_ones_of_design_12() -> None:
    """The clue channels are exactly §12's ids, each with its Chinese name."""
    assert list(CLUE_CHANNELS) == ["credit_website", "hotline_12345", "internet_supervision", "arrears_platform",
                                   "business_env", "petition", "other"]
    assert CLUE_CHANNELS["credit_website"] == "信用郑州专栏"
    assert all(CLUE_CHANNELS.values())


def test_a_body_is_a_government_uscc_and_its_region_comes_from_characters_3_to_8() -> None:
    """A government body's USCC starts with 1 and carries its registering authority's region code."""
    assert government_body(SHANGJIE) == (SHANGJIE, "410106")
    assert government_body(XINZHENG) == (XINZHENG, "410184")
    assert government_body(SHANGJIE.lower(), "410102") == (SHANGJIE, "410102")
    for bad in (COMPANY, resident_id(1), "124101064100000118", "x"):
        with pytest.raises(GovError, match="body"):
            government_body(bad)
    with pytest.raises(GovError, match="6 digits"):
        government_body(SHANGJIE, "4101")


def test_the_transfer_deadline_counts_working_days() -> None:
    """A clue received on a Friday is due for transfer on Monday; 0 days means the same day."""
    friday = dt.date(2024, 3, 1)
    assert transfer_deadline(friday) == dt.date(2024, 3, 4)
    assert transfer_deadline(friday, 0) == friday
    assert transfer_deadline(dt.date(2024, 3, 4), 3) == dt.date(2024, 3, 7)


def test_whole_loop_confirmed_clue_becomes_a_record_every_check_sees(database: Database) -> None:
    """Received → transferred → confirmed: the trail keeps each step and a government_dishonesty record
    with region, rectify_by and the owed amount makes checks of the body find it at once."""
    store = database.open()
    clue_id = received(store)
    clue = transfer_clue(store, clue_id, to="上街区人民政府办公室", due=dt.date(2024, 3, 20),
                         on=dt.date(2024, 3, 4), clock=CLOCK)
    assert (clue.status, clue.transfer_late, clue.department) == ("transferred", False, "上街区人民政府办公室")
    clue = verify_clue(store, clue_id, confirmed=True, reason="拖欠属实", on=dt.date(2024, 3, 15),
                       rectify_by=dt.date(2024, 6, 30), clock=CLOCK)
    assert clue.status == "confirmed" and clue.verify_overdue is False
    assert [e.action for e in clue.trail] == ["received", "transferred", "confirmed"]
    assert [e.actor for e in clue.trail] == ["信用办", "信用办", "上街区人民政府办公室"]
    assert all(e.warning is None for e in clue.trail)
    record = store.get(clue.record_id or "")
    assert record is not None
    assert (record.list_type, record.subject_id, record.subject_type, record.region_code, record.rectify_by,
            record.listed_on) == ("government_dishonesty", SHANGJIE, "government_body", "410106",
                                  dt.date(2024, 6, 30), dt.date(2024, 3, 15))
    engine = Engine(store=store)
    result = engine.check({"id": SHANGJIE}, {"matter_type": "honors"}, at=dt.date(2024, 4, 1))
    assert [hit.record_id for hit in result.hits] == [record.record_id]
    assert result.decision != "clear"
    assert get_clue(store, clue_id) == clue


def test_late_transfer_and_overdue_verification_are_recorded_warnings(database: Database) -> None:
    """A transfer after the deadline and a verification after the due date succeed with a warning kept in
    the trail and the flags set."""
    store = database.open()
    clue_id = received(store)
    clue = transfer_clue(store, clue_id, to="主管部门", due=dt.date(2024, 3, 10), on=dt.date(2024, 3, 5))
    assert clue.transfer_late is True and "2024-03-04" in (clue.trail[-1].warning or "")
    clue = verify_clue(store, clue_id, confirmed=False, reason="已付清，投诉不实", on=dt.date(2024, 3, 11))
    assert (clue.status, clue.verify_overdue, clue.record_id) == ("unfounded", True, None)
    assert "2024-03-10" in (clue.trail[-1].warning or "")
    assert store.records_of(SHANGJIE) == []


def test_the_transfer_deadline_is_configurable(database: Database) -> None:
    """With a deadline of 3 working days, a transfer on the third working day is in time."""
    store = database.open()
    clue = transfer_clue(store, received(store), to="主管部门", due=dt.date(2024, 3, 30), on=dt.date(2024, 3, 6),
                         working_days=3)
    assert clue.transfer_late is False


def test_refusals_write_nothing(database: Database) -> None:
    """Unknown body or channel, verification before transfer, a second transfer or verification, steps
    dated before the previous one, and unknown clues are refused; the clue is as before."""
    store = database.open()
    with pytest.raises(GovError, match="unknown body"):
        received(store, body=COMPANY)
    with pytest.raises(GovError, match="unknown channel"):
        received(store, channel="wechat")
    with pytest.raises(GovError, match="summary"):
        received(store, summary="  ")
    with pytest.raises(GovError, match="amount"):
        received(store, amount=-1.0)
    assert list_clues(store) == []
    clue_id = received(store)
    before = get_clue(store, clue_id)
    with pytest.raises(GovError, match="not been transferred"):
        verify_clue(store, clue_id, confirmed=True, reason="属实")
    with pytest.raises(GovError, match="before the clue was received"):
        transfer_clue(store, clue_id, to="部门", due=dt.date(2024, 3, 9), on=dt.date(2024, 2, 28))
    with pytest.raises(GovError, match="due date"):
        transfer_clue(store, clue_id, to="部门", due=dt.date(2024, 3, 1), on=dt.date(2024, 3, 2))
    assert get_clue(store, clue_id) == before
    transfer_clue(store, clue_id, to="部门", due=dt.date(2024, 3, 9), on=dt.date(2024, 3, 2))
    with pytest.raises(GovError, match="transferred once"):
        transfer_clue(store, clue_id, to="部门", due=dt.date(2024, 3, 9), on=dt.date(2024, 3, 2))
    with pytest.raises(GovError, match="before the transfer"):
        verify_clue(store, clue_id, confirmed=True, reason="属实", on=dt.date(2024, 3, 1))
    with pytest.raises(GovError, match="rectification deadline"):
        verify_clue(store, clue_id, confirmed=True, reason="属实", on=dt.date(2024, 3, 5),
                    rectify_by=dt.date(2024, 3, 4))
    with pytest.raises(GovError, match="unfounded"):
        verify_clue(store, clue_id, confirmed=False, reason="不实", on=dt.date(2024, 3, 5), amount=5.0)
    assert store.records_of(SHANGJIE) == []
    verify_clue(store, clue_id, confirmed=False, reason="不实", on=dt.date(2024, 3, 5))
    with pytest.raises(GovError, match="already verified"):
        verify_clue(store, clue_id, confirmed=True, reason="属实", on=dt.date(2024, 3, 6))
    with pytest.raises(GovError, match="unknown clue"):
        get_clue(store, "GC-nope")
    with pytest.raises(GovError, match="unknown clue"):
        transfer_clue(store, "GC-nope", to="部门", due=dt.date(2024, 3, 9))


def test_list_filters_by_status_and_overdue(database: Database) -> None:
    """``list`` gives clues by receipt day; --status and --overdue narrow it on a given day."""
    store = database.open()
    waiting = received(store, received=dt.date(2024, 3, 1))
    late_verification = received(store, body=XINZHENG, received=dt.date(2024, 3, 2))
    transfer_clue(store, late_verification, to="部门", due=dt.date(2024, 3, 8), on=dt.date(2024, 3, 4))
    done = received(store, received=dt.date(2024, 3, 3))
    transfer_clue(store, done, to="部门", due=dt.date(2024, 3, 8), on=dt.date(2024, 3, 4))
    verify_clue(store, done, confirmed=False, reason="不实", on=dt.date(2024, 3, 5))
    assert [c.clue_id for c in list_clues(store)] == [waiting, late_verification, done]
    assert [c.clue_id for c in list_clues(store, status="transferred")] == [late_verification]
    assert [c.clue_id for c in list_clues(store, overdue_on=dt.date(2024, 3, 4))] == []
    assert [c.clue_id for c in list_clues(store, overdue_on=dt.date(2024, 3, 5))] == [waiting]
    assert [c.clue_id for c in list_clues(store, overdue_on=dt.date(2024, 3, 9))] == [waiting, late_verification]
    with pytest.raises(GovError, match="unknown clue status"):
        list_clues(store, status="open")


def test_the_memory_store_refuses_with_one_clear_line() -> None:
    """The test kit's MemoryStore keeps no SQL database: clues refuse it with a StoreError naming it."""
    with pytest.raises(StoreError, match="MemoryStore"):
        received(MemoryStore())


def test_cli_loop_prints_the_json_object_with_id_status_and_trail(database: Database,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``gov clues add|transfer|verify|show|list --json`` print the clue with clue_id, status, trail and
    record_id; a late transfer warns on stderr with exit 0."""
    database.open()  # gov commands never create a database (db init or records import do)
    db = ["--db", database.url]
    person = resident_id(7)
    assert main(["gov", "clues", "add", "--body", SHANGJIE, "--channel", "arrears_platform", "--summary",
                 f"欠款，联系人 {person}", "--amount", "5000", "--received", "2024-03-01", "--json", *db]) == 0
    out = capsys.readouterr().out
    added = json.loads(out)
    assert person not in out and added["status"] == "received" and added["amount"] == 5000.0
    clue_id = added["clue_id"]
    assert main(["gov", "clues", "transfer", clue_id, "--to", "上街区政府", "--due", "2024-03-20", "--on",
                 "2024-03-06", "--json", *db]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["transfer_late"] is True
    assert "warning" in captured.err and "超过转交时限" in captured.err
    assert main(["gov", "clues", "verify", clue_id, "--confirmed", "--reason", "属实", "--on", "2024-03-18",
                 "--rectify-by", "2024-06-30", "--json", *db]) == 0
    verified = json.loads(capsys.readouterr().out)
    assert verified["status"] == "confirmed" and verified["record_id"] == "GD-" + clue_id.removeprefix("GC-")
    assert [e["action"] for e in verified["trail"]] == ["received", "transferred", "confirmed"]
    assert main(["gov", "clues", "show", clue_id, "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out) == verified
    assert main(["gov", "clues", "list", "--status", "confirmed", "--json", *db]) == 0
    assert [c["clue_id"] for c in json.loads(capsys.readouterr().out)] == [clue_id]
    assert main(["gov", "clues", "show", clue_id, *db]) == 0
    assert "GD-" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["add", "--body", COMPANY, "--channel", "other", "--summary", "s"], "unknown body"),
    (["add", "--body", "12345", "--channel", "other", "--summary", "s"], "unknown body"),
    (["add", "--body", SHANGJIE, "--channel", "wechat", "--summary", "s"], "unknown channel"),
    (["add", "--body", SHANGJIE, "--channel", "other", "--summary", "s", "--amount", "0"], "amount"),
    (["transfer", "GC-unknown", "--to", "部门", "--due", "2024-03-09"], "unknown clue"),
    (["verify", "GC-unknown", "--confirmed", "--reason", "r"], "unknown clue"),
    (["show", "GC-unknown"], "unknown clue"),
])
def test_cli_refusals_are_one_line_exit_1(database: Database, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], message: str) -> None:
    """Each refusal is one line naming the problem in English and Chinese, exit 1, nothing written."""
    database.open()  # the database exists: refusals are about the input, not a missing file
    assert main(["gov", "clues", *argv, "--db", database.url]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "/" in err
    assert main(["gov", "clues", "list", "--json", "--db", database.url]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_verification_before_transfer_is_refused(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    """Verifying a clue that was never transferred exits 1 with one line; the clue stays received."""
    store = database.open()
    clue_id = received(store)
    assert main(["gov", "clues", "verify", clue_id, "--confirmed", "--reason", "属实", "--db", database.url]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "尚未转交" in err
    assert get_clue(store, clue_id).status == "received"


def test_cli_wrong_command_lines_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A date that is not YYYY-MM-DD, an amount that is not a number, both findings or an unknown status
    filter are a wrong command line."""
    for argv in (["add", "--body", SHANGJIE, "--channel", "other", "--summary", "s", "--received", "2024/3/1"],
                 ["add", "--body", SHANGJIE, "--channel", "other", "--summary", "s", "--amount", "lots"],
                 ["verify", "GC-x", "--confirmed", "--unfounded", "--reason", "r"],
                 ["list", "--status", "open"]):
        with pytest.raises(SystemExit) as exit_:
            main(["gov", "clues", *argv])
        assert exit_.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_cli_never_creates_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Like checks and cases, ``gov`` commands refuse a SQLite file that does not exist, with one line."""
    missing = tmp_path / "missing.db"
    assert main(["gov", "clues", "add", "--body", SHANGJIE, "--channel", "other", "--summary", "s",
                 "--db", f"sqlite:///{missing}"]) == 1
    assert "database not found" in capsys.readouterr().err and not missing.exists()



def test_a_finding_recorded_first_by_another_department_wins_and_leaves_no_stray_record(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """When an unfounded finding is recorded between a confirmed one's record write and its own update, the
    confirmed one is refused and its record removed from its listing day, so no check ever sees it."""
    store, other = database.open(), database.open()
    clue_id = received(store)
    transfer_clue(store, clue_id, to="部门", due=dt.date(2024, 3, 9), on=dt.date(2024, 3, 2))
    record_finding = _gov_clues._record_finding

    def other_department_first(*args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(_gov_clues, "_record_finding", record_finding)
        verify_clue(other, clue_id, confirmed=False, reason="不实", on=dt.date(2024, 3, 5))
        record_finding(*args, **kwargs)

    monkeypatch.setattr(_gov_clues, "_record_finding", other_department_first)
    with pytest.raises(GovError, match="already verified"):
        verify_clue(store, clue_id, confirmed=True, reason="属实", on=dt.date(2024, 3, 5))
    clue = get_clue(store, clue_id)
    assert (clue.status, clue.record_id) == ("unfounded", None)
    stray = store.get("GD-" + clue_id.removeprefix("GC-"))
    assert stray is not None and stray.status == "removed"
    assert all(store.active_records([SHANGJIE], day) == [] for day in (dt.date(2024, 3, 5), dt.date(2024, 6, 1)))
