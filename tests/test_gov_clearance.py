"""Clearance of arrears (清欠) under government-dishonesty records, and the repair it gates, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from joint_sanctions._cli import main
from joint_sanctions._errors import RecordError
from joint_sanctions._gov_base import GovError
from joint_sanctions._gov_clearance import add_payment, clearance
from joint_sanctions._gov_clues import add_clue, transfer_clue, verify_clue
from joint_sanctions._models import RecordChange
from joint_sanctions._repairs import end_record
from joint_sanctions.stores import RecordStore

from .conftest import Database, failures_in_threads, numbered_uscc, record

BODY = "124101064100000117"


def confirmed(store: RecordStore, amount: float | None = 1000.0, body: str = BODY) -> str:
    """A government_dishonesty record listed on 2024-03-10 through a confirmed clue owing ``amount`` yuan."""
    clue = add_clue(store, body=body, channel="arrears_platform", summary="拖欠工程款", amount=amount,
                    received=dt.date(2024, 3, 1))
    transfer_clue(store, clue.clue_id, to="上级主管部门", due=dt.date(2024, 3, 15), on=dt.date(2024, 3, 1))
    clue = verify_clue(store, clue.clue_id, confirmed=True, reason="属实", on=dt.date(2024, 3, 10),
                       rectify_by=dt.date(2024, 6, 30))
    assert clue.record_id is not None
    return clue.record_id


def repair(store: RecordStore, record_id: str, on: dt.date) -> str:
    change = RecordChange(status="repaired", on=on, reason="整改完成", decision_no="郑信用〔2024〕1号")
    return end_record(store, record_id, change, None).status


def test_payments_clear_the_arrears_step_by_step(database: Database) -> None:
    """Owed, paid and outstanding follow each payment; the last one completes the rectification."""
    store = database.open()
    record_id = confirmed(store)
    state = clearance(store, record_id)
    assert (state.owed, state.paid, state.outstanding, state.rectified, state.payments) == (1000.0, 0.0, 1000.0,
                                                                                          False, ())
    state = add_payment(store, record_id, paid=400.5, on=dt.date(2024, 4, 1))
    assert (state.paid, state.outstanding, state.rectified) == (400.5, 599.5, False)
    state = add_payment(store, record_id, paid=599.5, on=dt.date(2024, 5, 2), note="第二笔")
    assert (state.paid, state.outstanding, state.rectified, state.rectified_on) == (1000.0, 0.0, True,
                                                                                    dt.date(2024, 5, 2))
    assert [(p.paid, p.on, p.note) for p in state.payments] == [(400.5, dt.date(2024, 4, 1), ""),
                                                                (599.5, dt.date(2024, 5, 2), "第二笔")]
    assert state.region_code == "410106" and state.body_id == BODY


def test_refused_payments_write_nothing(database: Database) -> None:
    """Unknown record, another list type, no recorded amount, a non-positive amount, more than is owed and a
    day before the listing are refused; the arrears stay as they were."""
    store = database.open()
    record_id = confirmed(store)
    store.upsert([record("COURT-1", numbered_uscc(5))])
    without = confirmed(store, amount=None, body=numbered_uscc(9, "11410184MB"))
    add_payment(store, record_id, paid=100.0, on=dt.date(2024, 4, 1))
    for kwargs, message in (
            ({"record_id": "NOPE"}, "unknown record"),
            ({"record_id": "COURT-1"}, "not government_dishonesty"),
            ({"record_id": without}, "no owed amount"),
            ({"paid": 0.0}, "above 0"),
            ({"paid": -5.0}, "above 0"),
            ({"paid": 900.01}, "more than the 900.00 yuan still owed"),
            ({"on": dt.date(2024, 3, 9)}, "before the record was listed")):
        args = {"record_id": record_id, "paid": 10.0, "on": dt.date(2024, 4, 2), **kwargs}
        with pytest.raises(GovError, match=message):
            add_payment(store, args.pop("record_id"), **args)  # type: ignore[arg-type]
    state = clearance(store, record_id)
    assert (state.paid, len(state.payments)) == (100.0, 1)
    assert clearance(store, without).arrears_recorded is False
    with pytest.raises(GovError, match="unknown record"):
        clearance(store, "NOPE")


def test_repair_is_refused_while_arrears_are_outstanding_and_allowed_once_cleared(database: Database) -> None:
    """``records repair`` of a government_dishonesty record waits for the arrears to be paid by its date,
    whatever ``early`` says; once cleared it goes through, and checks stop seeing the record."""
    store = database.open()
    record_id = confirmed(store)
    add_payment(store, record_id, paid=600.0, on=dt.date(2024, 4, 1))
    with pytest.raises(RecordError, match="400.00 yuan of arrears outstanding"):
        repair(store, record_id, dt.date(2024, 4, 2))
    early = RecordChange(status="repaired", on=dt.date(2024, 4, 2), reason="r", decision_no="n", early=True)
    with pytest.raises(RecordError, match="arrears"):
        end_record(store, record_id, early, None)
    add_payment(store, record_id, paid=400.0, on=dt.date(2024, 5, 10))
    with pytest.raises(RecordError, match="outstanding on 2024-05-09"):
        repair(store, record_id, dt.date(2024, 5, 9))  # paid in full only from 2024-05-10
    assert store.get(record_id).status == "active"  # type: ignore[union-attr]
    assert repair(store, record_id, dt.date(2024, 5, 10)) == "repaired"
    assert store.active_records([BODY], dt.date(2024, 5, 10)) == []


def test_other_records_and_removals_are_not_gated(database: Database) -> None:
    """Other list types, a government_dishonesty record without arrears, and a removal are not held back."""
    store = database.open()
    store.upsert([record("COURT-1", numbered_uscc(5), listed_on=dt.date(2024, 1, 1))])
    assert repair(store, "COURT-1", dt.date(2024, 2, 1)) == "repaired"
    without = confirmed(store, amount=None)
    assert repair(store, without, dt.date(2024, 3, 11)) == "repaired"
    owing = confirmed(store, body=numbered_uscc(9, "11410184MB"))
    removal = RecordChange(status="removed", on=dt.date(2024, 3, 11), reason="认定有误", decision_no="n")
    assert end_record(store, owing, removal, None).status == "removed"


def test_cli_clearance_and_repair(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    """``gov clearance add|show --json`` print owed, paid, outstanding and payments; refusals are one line
    with exit 1; ``records repair`` exits 1 while arrears are outstanding and 0 once cleared."""
    store = database.open()
    record_id = confirmed(store)
    db = ["--db", database.url]
    assert main(["gov", "clearance", "add", record_id, "--paid", "250", "--on", "2024-04-01", "--json", *db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["record_id"], data["status"], data["owed"], data["paid"], data["outstanding"]) == (
        record_id, "outstanding", 1000.0, 250.0, 750.0)
    repair_argv = ["records", "repair", record_id, "--reason", "整改完成", "--decision-no", "N1", "--on", "2024-05-01"]
    assert main([*repair_argv, *db]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "尚欠 750.00 元" in err
    for argv, message in ((["NOPE", "--paid", "1", "--on", "2024-04-01"], "unknown record"),
                          ([record_id, "--paid", "0", "--on", "2024-04-01"], "above 0"),
                          ([record_id, "--paid", "-3", "--on", "2024-04-01"], "above 0"),
                          ([record_id, "--paid", "750.01", "--on", "2024-04-01"], "still owed")):
        assert main(["gov", "clearance", "add", *argv, *db]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err and " / " in err
    assert main(["gov", "clearance", "add", record_id, "--paid", "750", "--on", "2024-04-20", *db]) == 0
    capsys.readouterr()
    assert main(["gov", "clearance", "show", record_id, "--json", *db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["status"], data["outstanding"], data["rectified_on"], len(data["payments"])) == (
        "rectified", 0.0, "2024-04-20", 2)
    assert main([*repair_argv, *db]) == 0


def test_concurrent_payments_never_pay_more_than_is_owed(database: Database) -> None:
    """Ten payments of 200 yuan racing against 1,000 owed: exactly five are kept, the others refused."""
    record_id = confirmed(database.open())
    stores = [database.open() for _ in range(10)]
    failures = failures_in_threads(
        lambda n: add_payment(stores[n], record_id, paid=200.0, on=dt.date(2024, 4, 1)), 10)
    assert len(failures) == 5 and all(isinstance(f, GovError) and "still owed" in str(f) for f in failures)
    state = clearance(stores[0], record_id)
    assert (state.paid, state.outstanding, len(state.payments)) == (1000.0, 0.0, 5)
