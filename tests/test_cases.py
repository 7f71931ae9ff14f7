"""The closed loop's cases: opening through a real engine, disposal, refused transitions, statistics, CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog

from joint_sanctions import Engine
from joint_sanctions._cases import (
    CaseBook,
    case_book_for,
)
from joint_sanctions._delivery import JsonlFileSink, deliver
from joint_sanctions._errors import (
    AmbiguousCaseError,
    CaseError,
    DisposalError,
    RejectedDeliveryError,
    RetryableDeliveryError,
    StoreError,
    TransitionError,
    UnknownCaseError,
)
from joint_sanctions.stores._case_tables import case_migrations
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.testing import FailingSink, MemoryStore, RecordingSink

from .conftest import (
    CO,
    CO2,
    CO3,
    FIXED_NOW,
    FIXTURE,
    PERSON,
    Database,
    assert_masked,
    cli,
    failures_in_threads,
    loop_engine,
    loop_records,
)

CLEAN = "52410105MJ0000AB32"   # on no list
PERSON_MASKED = "4101**********1230"
TABLES = ("cases", "case_measures", "case_lists", "case_events", "feedback_outbox")


def book_of(engine: Engine, **kw: Any) -> CaseBook:
    """The case book in the engine's database."""
    return case_book_for(engine.store, **kw)


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the case tables, read through a separate connection."""
    return {t: sorted(db.rows(f"SELECT * FROM {t}"), key=repr) for t in TABLES}


@pytest.fixture
def engine(database: Database) -> Engine:
    """A loop engine over a fresh database (SQLite file, then PostgreSQL)."""
    return loop_engine(database)


# --- 发起、响应 -------------------------------------------------------------------------------------


def test_check_with_measures_opens_a_responded_case_with_what_the_check_found(engine: Engine) -> None:
    """A current check that finds measures opens a case holding its measures, hits, matter and revision."""
    result = engine.check({"id": CO, "name": "某建设公司"}, "government_procurement", item_code="ITEM-1",
                          application_no="APP-9", department="郑州市财政局", department_code="FIN")
    assert result.case_id is not None
    case = book_of(engine).get(result.case_id)
    assert case.status == "responded" and case.disposal is None and case.delivery is None
    assert case.check_id == result.check_id and case.revision == result.revision
    assert case.decision == result.decision == "prohibited"
    assert case.measure_ids == ("T-GP-BAN",) and [h.record_id for h in case.hits] == ["R-CO"]
    assert (case.matter.item_code, case.matter.application_no, case.matter.department) == \
        ("ITEM-1", "APP-9", "郑州市财政局")
    assert case.initiated_at == FIXED_NOW and case.responded_at >= case.initiated_at
    assert case.subject.name == "某建设公司" and case.subject_id == CO and case.kind == "punishment"


def test_resident_id_is_stored_unmasked_for_the_uplink_only(engine: Engine) -> None:
    """A natural person's case keeps the full id for feedback, but shows it masked everywhere else."""
    with structlog.testing.capture_logs() as logs:
        result = engine.check(PERSON, "civil_servant_hiring")
        assert result.case_id is not None
        book = book_of(engine)
        case = book.dispose(result.case_id, "applied", text="不予录用")
    assert case.subject_id == PERSON and case.subject.id == PERSON_MASKED
    assert PERSON not in repr(case) and PERSON not in case.model_dump_json()
    assert PERSON not in json.dumps(case.summary(), ensure_ascii=False)
    assert PERSON not in repr(logs) and any(e["event"] == "case_opened" for e in logs)
    assert book.feedback(result.case_id).subject.id == PERSON


def test_historical_check_opens_no_case(engine: Engine) -> None:
    """A check with ``at`` (historical) finds the measures but opens no case."""
    result = engine.check(CO, "government_procurement", at=dt.date(2025, 6, 1))
    assert result.measures and result.case_id is None
    assert book_of(engine).list() == []


def test_open_case_false_and_clear_checks_open_no_case(engine: Engine) -> None:
    """``open_case=False`` (batch without --open-cases) and a check without measures open nothing."""
    assert engine.check(CO, "government_procurement", open_case=False).case_id is None
    assert engine.check(CLEAN, "government_procurement").case_id is None
    assert engine.check(CO, "honors").case_id is None  # listed, but no measure for this matter
    assert book_of(engine).list() == []


def test_incentive_alone_opens_a_case_of_kind_incentive(engine: Engine) -> None:
    """A red-list subject gets an incentive case: kind incentive, decision clear."""
    result = engine.check(CO2, "administrative_licensing")
    assert result.case_id is not None
    case = book_of(engine).get(result.case_id)
    assert case.kind == "incentive" and case.decision == "clear" and case.measure_ids == ("T-GREEN",)


def test_engine_cases_false_opens_nothing_and_a_custom_recorder_is_called(tmp_path: Path) -> None:
    """``Engine(cases=False)`` opens no case; a recorder of one's own receives the result and the subject."""
    assert loop_engine(tmp_path / "a.db", cases=False).check(CO, "government_procurement").case_id is None
    calls: list[tuple[str, str]] = []

    class Recorder:
        def open_case(self, result: Any, subject: Any) -> str:
            calls.append((result.check_id, subject.id))
            return "mine-1"

    result = loop_engine(tmp_path / "b.db", cases=Recorder()).check(PERSON, "civil_servant_hiring")
    assert result.case_id == "mine-1" and calls == [(result.check_id, PERSON)]


def test_cases_survive_reopening_the_database(database: Database) -> None:
    """Cases are in the database: another store opened on it later sees them."""
    engine = loop_engine(database)
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    engine.store.close()
    with database.open() as again:
        assert case_book_for(again).get(case_id).status == "responded"


def test_memory_store_keeps_its_cases_in_memory_for_every_engine_over_it() -> None:
    """An engine over a MemoryStore opens cases that ``case_book_for`` on the same store finds."""
    store = MemoryStore(loop_records())
    result = Engine(measures=FIXTURE, store=store).check(CO, "government_procurement")
    assert result.case_id is not None
    book = case_book_for(store)
    assert book.get(result.case_id).status == "responded"
    assert case_book_for(MemoryStore()).list() == []


class _CasesElsewhere(MemoryStore):
    """A record store of a host that keeps its cases in a database of its choosing."""

    def __init__(self, cases_in: SqliteStore) -> None:
        super().__init__(loop_records())
        self.cases_in = cases_in

    def case_backend(self) -> Any:
        return self.cases_in.case_backend()


def test_the_engine_opens_cases_where_its_store_says(tmp_path: Path) -> None:
    """``Engine(cases=True)`` records cases in the case backend its store provides, not by the store's type."""
    with SqliteStore(tmp_path / "cases.db") as cases_db:
        store = _CasesElsewhere(cases_db)
        result = Engine(measures=FIXTURE, store=store, clock=lambda: FIXED_NOW).check(CO, "government_procurement")
        assert result.case_id is not None
        assert case_book_for(cases_db).get(result.case_id).check_id == result.check_id
        assert case_book_for(store).get(result.case_id).status == "responded"


def test_an_engine_over_a_store_without_cases_is_refused_with_a_hint() -> None:
    """An engine asked to open cases over a store that keeps none fails at once, naming ``cases=False``."""
    class NoCases(MemoryStore):
        case_backend = None

    with pytest.raises(StoreError, match="NoCases.*cases=False"):
        Engine(measures=FIXTURE, store=NoCases(loop_records()))
    assert Engine(measures=FIXTURE, store=NoCases(loop_records()), cases=False).check(CO, "government_procurement").case_id \
        is None


def test_the_check_stage_imports_no_loop_stage() -> None:
    """The engine's module imports neither the case book, the outbox, delivery nor feedback: the loop
    builds on the check, not the reverse."""
    import ast

    import joint_sanctions._check as check_module

    tree = ast.parse(Path(check_module.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"_cases", "_outbox", "_delivery", "_feedback"}, imported


def test_a_store_without_a_case_book_is_refused_with_a_hint() -> None:
    """``case_book_for`` names what to do when the store has no case book."""
    with pytest.raises(Exception, match="cases=False"):
        case_book_for(object())


# --- one case per matter ---------------------------------------------------------------------------


def test_a_new_check_of_a_matter_with_a_responded_case_returns_that_case(engine: Engine) -> None:
    """Same subject (after normalisation), matter type, item code and application number: one case."""
    first = engine.check(CO, "government_procurement", item_code="ITEM-1", application_no="APP-9")
    again = engine.check({"id": CO.lower(), "name": "某建设公司"}, "government_procurement",
                         item_code="ITEM-1", application_no="APP-9")
    assert first.case_id is not None and again.case_id == first.case_id
    assert again.check_id != first.check_id
    assert [c.case_id for c in book_of(engine).list()] == [first.case_id]
    assert book_of(engine).get(first.case_id).check_id == first.check_id  # the case keeps its first check


def test_none_counts_as_a_value_of_the_open_key(engine: Engine) -> None:
    """Absent item code and application number match only absent ones; any difference opens another case."""
    bare = engine.check(CO, "government_procurement").case_id
    assert engine.check(CO, "government_procurement").case_id == bare
    others = [engine.check(CO, "government_procurement", **kw).case_id
              for kw in ({"item_code": ""}, {"item_code": "I"}, {"application_no": "I"},
                         {"item_code": "I", "application_no": "I"})]
    others.append(engine.check(CO3, "government_procurement").case_id)
    others.append(engine.check(PERSON, "civil_servant_hiring").case_id)
    assert len({bare, *others}) == 7 and None not in others
    assert len(book_of(engine).list()) == 7


def test_after_disposal_or_withdrawal_a_new_check_opens_a_new_case(engine: Engine) -> None:
    """Only a responded case is returned again: once disposed or withdrawn, the next check opens another."""
    book = book_of(engine)
    first = engine.check(CO, "government_procurement").case_id
    assert first is not None
    book.dispose(first, "applied")
    second = engine.check(CO, "government_procurement").case_id
    assert second not in (None, first)
    book.withdraw(second, "重复申报，已撤回")
    third = engine.check(CO, "government_procurement").case_id
    assert third not in (None, first, second)
    assert engine.check(CO, "government_procurement").case_id == third
    assert [c.status for c in book.list()] == ["disposed", "withdrawn", "responded"]


def test_two_engines_checking_one_matter_at_once_open_one_case(database: Database) -> None:
    """Engines with connections of their own, checking the same matter at the same moment, share one case."""
    engines = [loop_engine(database) for _ in range(2)]
    barrier = threading.Barrier(8)
    ids: list[str | None] = []

    def check(n: int) -> None:
        barrier.wait()
        for _ in range(5):
            ids.append(engines[n % 2].check(CO, "government_procurement", item_code="ITEM-1").case_id)

    assert failures_in_threads(check, 8) == []
    assert len(ids) == 40 and len(set(ids)) == 1 and None not in ids
    assert database.rows("SELECT COUNT(*) FROM cases") == [(1,)]
    assert database.rows("SELECT COUNT(*) FROM case_events") == [(1,)]


def test_processes_checking_one_matter_at_once_open_one_case(database: Database) -> None:
    """Separate processes (the CLI) checking the same matter at once print one and the same case id."""
    loop_engine(database).store.close()
    command = [sys.executable, "-m", "joint_sanctions", "check", "--subject", CO, "--matter",
               "government_procurement", "--json", "--db", database.url, "--measures", str(FIXTURE)]
    procs = [subprocess.Popen(command, cwd=database.workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, [err for _, err in outputs]
    ids = {json.loads(out)["case_id"] for out, _ in outputs}
    assert len(ids) == 1 and None not in ids
    assert database.rows("SELECT case_id FROM cases") == [(ids.pop(),)]


def _old_schema_store(database: Database) -> Any:
    """A store whose case tables are at cases-0001 (before one case per matter)."""
    store = database.open()
    store.upsert(loop_records())
    store.migrate(case_migrations(store.dialect)[:1])
    return store


def _old_case(database: Database, case_id: str, subject: str, initiated: str, item_code: str | None) -> None:
    """Insert a responded case as the cases-0001 code wrote it, through a separate connection."""
    matter = json.dumps({"matter_type": "government_procurement", "item_code": item_code, "application_no": None,
                         "department": None, "department_code": None, "region_code": None, "amount": None})
    measures = json.dumps([{"measure_id": "T-GP-BAN", "name": "禁止参加政府采购", "kind": "punishment",
                            "effect": "prohibit", "mandatory": True, "legal_basis": [],
                            "basis_status": "confirmed", "record_ids": ["R-CO"],
                            "via_related_party": None}], ensure_ascii=False)
    insert = ("INSERT INTO cases (case_id, check_id, status, decision, revision, matter_type, kind, subject_id, "
              "subject_shown_id, subject_id_kind, subject_name, subject_type, matter, measures, hits, "
              "initiated_at, responded_at) VALUES (?, ?, 'responded', 'prohibited', 'rev', "
              "'government_procurement', 'punishment', ?, ?, 'uscc', '', 'legal_person', ?, ?, '[]', ?, ?)")
    params = (case_id, f"chk-{case_id}", subject, subject, matter, measures, initiated, initiated)
    if database.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(database.url.removeprefix("sqlite:///")) as conn:
            conn.execute(insert, params)
    else:
        import psycopg

        with psycopg.connect(database.url) as conn:
            conn.execute(insert.replace("?", "%s"), params)


def test_a_database_with_duplicate_open_cases_migrates_and_the_oldest_is_the_open_one(database: Database) -> None:
    """Duplicates opened before cases-0002 stay as they were; a new check returns the oldest of them."""
    store = _old_schema_store(database)
    _old_case(database, "old-b-newer", CO, "2025-05-02T00:00:00+00:00", None)
    _old_case(database, "old-a-oldest", CO, "2025-05-01T00:00:00+00:00", None)
    _old_case(database, "old-c-item", CO, "2025-05-03T00:00:00+00:00", "ITEM-1")
    _old_case(database, "old-d-item", CO, "2025-05-04T00:00:00+00:00", "ITEM-1")
    engine = Engine(measures=FIXTURE, store=store, clock=lambda: FIXED_NOW)  # migrates the case book
    book = book_of(engine)
    assert [c.status for c in book.list()] == ["responded"] * 4
    assert engine.check(CO, "government_procurement").case_id == "old-a-oldest"
    assert engine.check(CO, "government_procurement", item_code="ITEM-1").case_id == "old-c-item"
    book.withdraw("old-b-newer", "迁移前的重复案例")  # the duplicates stay usable
    book.dispose("old-d-item", "applied")
    book.withdraw("old-a-oldest", "重复")
    fresh = engine.check(CO, "government_procurement").case_id
    assert fresh not in (None, "old-a-oldest", "old-b-newer")
    assert len(book.list()) == 5


# --- withdrawal ------------------------------------------------------------------------------------


def test_withdrawal_keeps_reason_and_time_and_the_case_is_never_fed_back(database: Database, tmp_path: Path) -> None:
    """A withdrawn case keeps why and when, leaves no feedback record, and is counted apart."""
    engine = loop_engine(database)
    book = book_of(engine)
    withdrawn = engine.check(CO, "government_procurement").case_id
    kept = engine.check(PERSON, "civil_servant_hiring").case_id
    assert withdrawn and kept
    when = dt.datetime(2025, 6, 2, 1, 0, tzinfo=dt.UTC)
    case = book.withdraw(withdrawn, "  申请人撤回申请 ", at=when)
    assert case.status == "withdrawn" and case.disposal is None and case.delivery is None
    assert case.withdrawal is not None
    assert (case.withdrawal.reason, case.withdrawal.withdrawn_at) == ("申请人撤回申请", when)
    summary = case.summary()
    assert (summary["status"], summary["withdrawal_reason"]) == ("withdrawn", "申请人撤回申请")
    assert summary["withdrawn_at"] == when.isoformat()
    book.dispose(kept, "applied")
    sent = tmp_path / "sent.jsonl"
    sink = JsonlFileSink(sent)
    try:
        report = deliver(book, sink)
    finally:
        sink.close()
    assert report.delivered == [kept] and report.ok
    assert [json.loads(line)["case_id"] for line in sent.read_text(encoding="utf-8").splitlines()] == [kept]
    assert deliver(book, RecordingSink()).delivered == []
    assert database.rows("SELECT case_id FROM feedback_outbox") == [(kept,)]
    assert book.get(withdrawn).status == "withdrawn"
    stats = book.stats()
    assert (stats.opened, stats.awaiting_disposal, stats.withdrawn, stats.effective, stats.delivered) == \
        (2, 0, 1, 1, 1)
    assert stats.by_measure == {"T-HIRE": 1} and stats.to_dict()["withdrawn"] == 1
    steps = database.rows("SELECT from_status, to_status, detail FROM case_events WHERE case_id = ? ORDER BY id",
                          (withdrawn,))
    assert steps == [(None, "responded", steps[0][2]), ("responded", "withdrawn", "申请人撤回申请")]


@pytest.mark.parametrize("status", ["disposed", "fed_back", "withdrawn"])
def test_withdrawing_a_case_that_is_not_responded_is_refused(database: Database, status: str) -> None:
    """Only a responded case can be withdrawn; the refusal names the status and changes nothing."""
    engine = loop_engine(database)
    book = book_of(engine)
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    if status == "withdrawn":
        book.withdraw(case_id, "first")
    else:
        book.dispose(case_id, "applied")
        if status == "fed_back":
            deliver(book, RecordingSink())
    before = snapshot(database)
    with pytest.raises(TransitionError, match=f"cannot withdraw a case that is {status}"):
        book.withdraw(case_id, "again")
    assert snapshot(database) == before


def test_a_withdrawn_case_cannot_be_disposed_and_a_withdrawal_needs_a_reason(engine: Engine) -> None:
    """Disposing a withdrawn case is refused; a blank reason or an unknown case is refused too."""
    book = book_of(engine)
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    with pytest.raises(CaseError, match="needs a reason"):
        book.withdraw(case_id, "   ")
    with pytest.raises(UnknownCaseError):
        book.withdraw("no-such-case", "x")
    book.withdraw(case_id, "撤回")
    with pytest.raises(TransitionError, match="cannot dispose a case that is withdrawn"):
        book.dispose(case_id, "applied")


# --- finding cases ---------------------------------------------------------------------------------


def _ids(*values: str) -> Callable[[], str]:
    it = iter(values)
    return lambda: next(it)


def test_a_case_id_may_be_a_unique_prefix_of_at_least_8_characters(engine: Engine) -> None:
    """``resolve`` takes a full id or a unique prefix of ≥ 8 characters; ambiguous, short, unknown refused."""
    book = case_book_for(engine.store, new_id=_ids("abcdef0011112222", "abcdef0099998888", "short"))
    engine_ids = []
    for subject, matter in ((CO, "government_procurement"), (CO3, "government_procurement"),
                            (PERSON, "civil_servant_hiring")):
        result = engine.check(subject, matter, open_case=False)
        engine_ids.append(book.open_case(result, engine_subject(subject)))
    assert engine_ids == ["abcdef0011112222", "abcdef0099998888", "short"]
    assert book.resolve("abcdef0011112222") == "abcdef0011112222"
    assert book.resolve("abcdef001") == "abcdef0011112222"
    assert book.resolve("short") == "short"  # a full id, however short
    with pytest.raises(AmbiguousCaseError, match="abcdef0011112222, abcdef0099998888") as caught:
        book.resolve("abcdef00")
    assert caught.value.matches == ("abcdef0011112222", "abcdef0099998888")
    with pytest.raises(UnknownCaseError, match="at least 8 characters"):
        book.resolve("abcdef0")
    with pytest.raises(UnknownCaseError):
        book.resolve("abcdef0055")
    with pytest.raises(UnknownCaseError):
        book.resolve("abcdef0%")  # wildcards are characters, not patterns


def engine_subject(subject_id: str) -> Any:
    """A Subject for ``subject_id``, as the engine passes it to the case book."""
    from joint_sanctions._check import coerce_subject

    return coerce_subject(subject_id)


def test_list_filters_by_subject_matter_and_day_in_china_time(database: Database) -> None:
    """``list`` filters by normalised subject id, matter type and first day (China Standard Time)."""
    times = iter([dt.datetime(2025, 5, 31, 15, 59, tzinfo=dt.UTC),   # 05-31 23:59 in China
                  dt.datetime(2025, 5, 31, 16, 0, tzinfo=dt.UTC),    # 06-01 00:00 in China
                  dt.datetime(2025, 6, 2, 3, 0, tzinfo=dt.UTC),
                  dt.datetime(2025, 6, 3, 3, 0, tzinfo=dt.UTC)])
    engine = loop_engine(database, clock=lambda: next(times))
    book = book_of(engine)
    a = engine.check(CO, "government_procurement").case_id
    b = engine.check(PERSON, "civil_servant_hiring").case_id
    c = engine.check(CO, "government_procurement", item_code="I-2").case_id
    d = engine.check(CO3, "government_procurement").case_id

    def ids(**kw: Any) -> list[str]:
        return [case.case_id for case in book.list(**kw)]

    assert ids(subject=CO.lower()) == [a, c]
    assert ids(subject=PERSON) == [b] and book.list(subject=PERSON)[0].subject.id == PERSON_MASKED
    assert ids(matter_type="government_procurement") == [a, c, d]
    assert ids(since=dt.date(2025, 6, 1)) == [b, c, d]
    assert ids(since=dt.date(2025, 6, 2), subject=CO, matter_type="government_procurement") == [c]
    assert ids(matter_type="honors") == [] and ids(since=dt.date(2025, 6, 4)) == []
    book.withdraw(c, "撤回")
    assert ids(status="withdrawn") == [c] and ids(status="responded", subject=CO) == [a]


# --- 处置 -------------------------------------------------------------------------------------------


def test_dispose_records_the_disposal_and_queues_the_feedback(engine: Engine) -> None:
    """Disposal stores result, texts, department and time, and puts one record in the outbox."""
    case_id = engine.check(CO, "government_procurement", department="郑州市财政局", department_code="FIN").case_id
    assert case_id is not None
    when = dt.datetime(2025, 6, 2, 1, 30, tzinfo=dt.UTC)
    book = book_of(engine)
    case = book.dispose(case_id, "partially_applied", text="  取消其投标资格 ", reason="部分标段已签约",
                        description="说明", at=when)
    assert case.status == "disposed" and case.pending
    d = case.disposal
    assert d is not None
    assert (d.result, d.text, d.reason, d.description, d.disposed_at) == \
        ("partially_applied", "取消其投标资格", "部分标段已签约", "说明", when)
    assert (d.department, d.department_code) == ("郑州市财政局", "FIN")  # from the check
    assert case.delivery is not None and case.delivery.attempts == 0
    assert book.pending_count() == 1


def test_department_given_at_disposal_wins_over_the_checks(engine: Engine) -> None:
    """The disposing department named at disposal replaces the one the host passed to the check."""
    case_id = engine.check(CO, "government_procurement", department="甲", department_code="A").case_id
    assert case_id is not None
    d = book_of(engine).dispose(case_id, "applied", department="乙", department_code="B").disposal
    assert d is not None and (d.department, d.department_code) == ("乙", "B")


@pytest.mark.parametrize("attempt, error, message", [
    (lambda book, cid: book.dispose("no-such-case", "applied"), UnknownCaseError, "unknown case id"),
    (lambda book, cid: book.dispose(cid, "maybe"), DisposalError, "unknown disposal result"),
    (lambda book, cid: book.dispose(cid, "not_applied"), DisposalError, "needs a reason"),
    (lambda book, cid: book.dispose(cid, "not_applied", reason="   "), DisposalError, "needs a reason"),
    (lambda book, cid: book.dispose(cid, "applied", text="长" * 2001), DisposalError, "too long|过长"),
    (lambda book, cid: book.dispose(cid, "applied", at=dt.datetime(2025, 6, 2)), DisposalError, "time zone"),
], ids=["unknown-case", "invalid-result", "not-applied-without-reason", "blank-reason", "text-too-long",
        "naive-time"])
def test_refused_disposals_change_nothing(database: Database, attempt: Callable[[CaseBook, str], Any],
                                          error: type[Exception], message: str) -> None:
    """Each invalid disposal is refused with a clear error, and no row of the case tables changes."""
    engine = loop_engine(database)
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    before = snapshot(database)
    with pytest.raises(error, match=message):
        attempt(book_of(engine), case_id)
    assert snapshot(database) == before
    assert book_of(engine).get(case_id).status == "responded"


@pytest.mark.parametrize("status", ["disposed", "fed_back", "rejected"])
def test_disposing_a_case_again_is_refused_whatever_came_after(database: Database, status: str) -> None:
    """A disposed, fed-back or rejected case cannot be disposed again; nothing changes."""
    engine = loop_engine(database)
    book = book_of(engine)
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    book.dispose(case_id, "applied", text="first")
    if status != "disposed":
        sink = RecordingSink([RejectedDeliveryError("HTTP 422", 422)] if status == "rejected" else [])
        deliver(book, sink)
    assert book.get(case_id).status == status
    before = snapshot(database)
    with pytest.raises(TransitionError, match=f"cannot dispose a case that is {status}") as caught:
        book.dispose(case_id, "not_applied", reason="second thoughts")
    assert (caught.value.case_id, caught.value.status, caught.value.action) == (case_id, status, "dispose")
    assert snapshot(database) == before


_STEP_TO = {"dispose": "disposed", "withdraw": "withdrawn", "deliver": "fed_back", "reject": "rejected"}


def _case_at(engine: Engine, book: CaseBook, status: str, n: int) -> str:
    """A new case (its own matter) brought to ``status`` through the public loop."""
    case_id = engine.check(CO, "government_procurement", item_code=f"ITEM-{n}").case_id
    assert case_id is not None
    if status == "withdrawn":
        book.withdraw(case_id, "申请人撤回申请")
    elif status != "responded":
        book.dispose(case_id, "applied")
        if status != "disposed":
            deliver(book, RecordingSink() if status == "fed_back"
                    else FailingSink(RejectedDeliveryError("HTTP 422", 422)))
    assert book.get(case_id).status == status
    return case_id


@pytest.mark.parametrize("status", ["responded", "disposed", "withdrawn", "fed_back", "rejected"])
def test_each_status_takes_exactly_the_documented_steps(tmp_path: Path, status: str) -> None:
    """The loop is responded → disposed | withdrawn and disposed → fed_back | rejected: from each status
    exactly those steps are taken, every other is refused, and only a disposed case is ever sent."""
    engine = loop_engine(tmp_path / "loop.db")
    book = book_of(engine)
    allowed = {"responded": {"dispose", "withdraw"}, "disposed": {"deliver", "reject"}}.get(status, set())
    for n, step in enumerate(_STEP_TO):
        case_id = _case_at(engine, book, status, n)
        if step in ("dispose", "withdraw"):
            try:
                book.dispose(case_id, "applied") if step == "dispose" else book.withdraw(case_id, "撤回")
            except TransitionError:
                taken = False
            else:
                taken = True
        else:
            sink = RecordingSink() if step == "deliver" else FailingSink(RejectedDeliveryError("HTTP 400", 400))
            deliver(book, sink)
            taken = case_id in sink.calls
        assert taken == (step in allowed), (status, step)
        assert book.get(case_id).status == (_STEP_TO[step] if taken else status), (status, step)


def test_feedback_of_an_undisposed_case_is_refused(engine: Engine) -> None:
    """There is no feedback record before disposal."""
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    with pytest.raises(TransitionError, match="not disposed"):
        book_of(engine).feedback(case_id)


def test_every_step_is_kept_in_the_case_events(database: Database) -> None:
    """Opening, disposal and delivery each leave one audit row, in order."""
    engine = loop_engine(database)
    book = book_of(engine)
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    book.dispose(case_id, "applied", department="郑州市财政局")
    deliver(book, RecordingSink())
    steps = database.rows("SELECT from_status, to_status, actor FROM case_events WHERE case_id = ? "
                          "ORDER BY id", (case_id,))
    assert [(f, t) for f, t, _ in steps] == [(None, "responded"), ("responded", "disposed"),
                                            ("disposed", "fed_back")]
    assert steps[1][2] == "郑州市财政局"


def test_list_filters_by_status_and_refuses_an_unknown_one(engine: Engine) -> None:
    """``list(status)`` gives only that status; an unknown status is a CaseError."""
    book = book_of(engine)
    first = engine.check(CO, "government_procurement").case_id
    second = engine.check(CO3, "government_procurement").case_id
    assert first and second
    book.dispose(first, "applied")
    assert [c.case_id for c in book.list()] == [first, second]
    assert [c.case_id for c in book.list("disposed")] == [first]
    assert [c.case_id for c in book.list("responded")] == [second]
    with pytest.raises(CaseError, match="unknown case status"):
        book.list("pending")


# --- statistics -------------------------------------------------------------------------------------


def test_stats_count_effective_cases_by_month_measure_department_list_type_and_result(database: Database) -> None:
    """Effective (disposed) cases are broken down exactly; pending, delivered and rejected are counted."""
    engine = loop_engine(database)
    book = book_of(engine)

    def case(subject: str, matter: str, **kw: Any) -> str:
        case_id = engine.check(subject, matter, **kw).case_id
        assert case_id is not None
        return case_id

    may = dt.datetime(2025, 5, 31, 17, 0, tzinfo=dt.UTC)   # 2025-06-01 01:00 in China: June
    june = dt.datetime(2025, 6, 15, 2, 0, tzinfo=dt.UTC)
    july = dt.datetime(2025, 7, 1, 2, 0, tzinfo=dt.UTC)
    a = case(CO, "government_procurement")        # T-GP-BAN, court_defaulter
    b = case(CO3, "government_procurement")       # T-GP-REVIEW, market_serious_violator
    c = case(CO2, "administrative_licensing")     # T-GREEN, tax_credit_a
    d = case(PERSON, "civil_servant_hiring")      # T-HIRE, court_defaulter
    case(CO, "government_procurement", item_code="ITEM-2")  # another matter: opened, never disposed
    book.dispose(a, "applied", department="郑州市财政局", at=may)
    book.dispose(b, "not_applied", reason="已整改", department="郑州市财政局", at=june)
    book.dispose(c, "applied", department="郑州市行政审批局", at=june)
    book.dispose(d, "partially_applied", at=july)
    # Sent oldest disposal first: a and b delivered, c rejected, d left pending after a 503.
    report = deliver(book, RecordingSink([None, None, RejectedDeliveryError("HTTP 422", 422),
                                          RetryableDeliveryError("HTTP 503")]), retry_for=0)
    assert (report.delivered, [r[0] for r in report.rejected], report.left_pending) == ([a, b], [c], [d])
    stats = book.stats()
    assert (stats.opened, stats.awaiting_disposal, stats.effective) == (5, 1, 4)
    assert (stats.pending, stats.delivered, stats.rejected) == (1, 2, 1)
    assert stats.by_month == {"2025-06": 3, "2025-07": 1}
    assert stats.by_measure == {"T-GP-BAN": 1, "T-GP-REVIEW": 1, "T-GREEN": 1, "T-HIRE": 1}
    assert stats.by_department == {"unspecified": 1, "郑州市财政局": 2, "郑州市行政审批局": 1}
    assert stats.by_list_type == {"court_defaulter": 2, "market_serious_violator": 1, "tax_credit_a": 1}
    assert stats.by_result == {"applied": 2, "not_applied": 1, "partially_applied": 1}
    assert json.loads(json.dumps(stats.to_dict()))["by_result"]["applied"] == 2


# --- command line -----------------------------------------------------------------------------------


@pytest.fixture
def cli_db(database: Database) -> tuple[str, dict[str, str]]:
    """A database with a company case and a person case; returns its URL and the case ids by subject."""
    engine = loop_engine(database)
    ids = {}
    for subject, matter in ((CO, "government_procurement"), (PERSON, "civil_servant_hiring")):
        case_id = engine.check(subject, matter).case_id
        assert case_id is not None
        ids[subject] = case_id
    engine.store.close()
    return database.url, ids


def test_cli_list_json_gives_the_contract_keys_with_ids_masked(tmp_path: Path,
                                                               cli_db: tuple[str, dict[str, str]]) -> None:
    """``cases list --json`` prints only a JSON array whose elements carry design.md §8's keys."""
    url, ids = cli_db
    done = cli("cases", "list", "--json", "--db", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [c["case_id"] for c in doc] == [ids[CO], ids[PERSON]]
    for element in doc:
        assert {"case_id", "check_id", "status", "decision", "matter_type", "subject", "measure_ids",
                "initiated_at", "disposed_at"} <= set(element)
    assert doc[1]["subject"]["id"] == PERSON_MASKED and doc[1]["measure_ids"] == ["T-HIRE"]
    assert doc[0]["status"] == "responded" and doc[0]["disposed_at"] is None
    assert PERSON not in done.stdout + done.stderr


def test_cli_dispose_then_list_by_status_and_the_table(tmp_path: Path, cli_db: tuple[str, dict[str, str]]) -> None:
    """``cases dispose`` records the disposal (exit 0); ``--status`` filters; the table masks ids."""
    url, ids = cli_db
    done = cli("cases", "dispose", ids[PERSON], "--result", "not_applied", "--reason", "岗位无要求",
               "--department", "郑州市人社局", "--department-code", "HR01", "--text", "未实施", "--db", url,
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = json.loads(cli("cases", "list", "--status", "disposed", "--json", "--db", url, cwd=tmp_path).stdout)
    assert [c["case_id"] for c in listed] == [ids[PERSON]]
    assert (listed[0]["result"], listed[0]["department"]) == ("not_applied", "郑州市人社局")
    table = cli("cases", "list", "--db", url, cwd=tmp_path)
    assert table.returncode == 0 and PERSON_MASKED in table.stdout and PERSON not in table.stdout
    assert ids[CO] in table.stdout and "disposed" in table.stdout


@pytest.mark.parametrize("args, code, message", [
    (["cases", "dispose", "nope", "--result", "applied"], 1, "unknown case id 'nope'"),
    (["cases", "dispose", "{co}", "--result", "not_applied"], 1, "needs a reason"),
    (["cases", "dispose", "{co}", "--result", "done"], 2, "invalid choice: 'done'"),
    (["cases", "dispose", "{co}"], 2, "--result"),
    (["cases", "list", "--status", "pending"], 2, "invalid choice: 'pending'"),
    (["cases", "feedback"], 2, "--to"),
    (["cases", "feedback", "--to", "http://127.0.0.1:9/x", "--out", "x.jsonl"], 2, "not allowed with"),
], ids=["unknown-case", "no-reason", "bad-result", "no-result", "bad-status", "no-target", "two-targets"])
def test_cli_refusals_exit_with_one_line(tmp_path: Path, cli_db: tuple[str, dict[str, str]], args: list[str],
                                         code: int, message: str) -> None:
    """Bad command lines exit 2, refused steps exit 1, each with one error line and no traceback."""
    url, ids = cli_db
    done = cli(*[a.replace("{co}", ids[CO]) for a in args], "--db", url, cwd=tmp_path)
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr
    if code == 1:
        assert done.stderr.startswith("joint-sanctions: error:") and len(done.stderr.splitlines()) == 1


def test_cli_twice_disposed_is_refused_with_exit_1(tmp_path: Path, cli_db: tuple[str, dict[str, str]]) -> None:
    """Disposing the same case twice from the command line: the second exits 1 and names the status."""
    url, ids = cli_db
    assert cli("cases", "dispose", ids[CO], "--result", "applied", "--db", url, cwd=tmp_path).returncode == 0
    again = cli("cases", "dispose", ids[CO], "--result", "applied", "--db", url, cwd=tmp_path)
    assert again.returncode == 1 and "cannot dispose a case that is disposed" in again.stderr


def test_cli_db_before_the_subcommand_and_from_the_environment(tmp_path: Path,
                                                               cli_db: tuple[str, dict[str, str]]) -> None:
    """``--db`` is also accepted before ``cases``, and JOINT_SANCTIONS_DB works without it."""
    url, ids = cli_db
    before = cli("--db", url, "cases", "list", "--json", cwd=tmp_path)
    assert {c["case_id"] for c in json.loads(before.stdout)} == set(ids.values())
    env = {**os.environ, "JOINT_SANCTIONS_DB": url}
    from_env = cli("cases", "list", "--json", cwd=tmp_path, env=env)
    assert {c["case_id"] for c in json.loads(from_env.stdout)} == set(ids.values())


def test_cli_stats_json_and_text(tmp_path: Path, cli_db: tuple[str, dict[str, str]]) -> None:
    """``cases stats --json`` prints the counts; the text form names the sections."""
    url, ids = cli_db
    cli("cases", "dispose", ids[CO], "--result", "applied", "--department", "郑州市财政局", "--db", url, cwd=tmp_path)
    doc = json.loads(cli("cases", "stats", "--json", "--db", url, cwd=tmp_path).stdout)
    assert (doc["opened"], doc["effective"], doc["pending"], doc["delivered"], doc["rejected"]) == (2, 1, 1, 0, 0)
    assert doc["by_measure"] == {"T-GP-BAN": 1} and doc["by_department"] == {"郑州市财政局": 1}
    text = cli("cases", "stats", "--db", url, cwd=tmp_path).stdout
    assert "by list type" in text and "court_defaulter 失信被执行人: 1" in text


def test_cli_schema_prints_the_shipped_schema(tmp_path: Path) -> None:
    """``cases schema`` prints the JSON Schema of feedback v1."""
    done = cli("cases", "schema", cwd=tmp_path)
    assert done.returncode == 0
    assert json.loads(done.stdout)["$id"] == "urn:joint-sanctions:schema:feedback:v1"


def test_cli_withdraw_by_prefix_then_list_withdrawn_and_stats(tmp_path: Path,
                                                              cli_db: tuple[str, dict[str, str]]) -> None:
    """``cases withdraw PREFIX --reason R`` withdraws; ``--status withdrawn`` lists it; stats count it apart."""
    url, ids = cli_db
    done = cli("cases", "withdraw", ids[PERSON][:8], "--reason", "申请人撤回", "--db", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ids[PERSON] in done.stdout and "withdrawn" in done.stdout
    listed = json.loads(cli("cases", "list", "--status", "withdrawn", "--json", "--db", url, cwd=tmp_path).stdout)
    assert [(c["case_id"], c["withdrawal_reason"]) for c in listed] == [(ids[PERSON], "申请人撤回")]
    doc = json.loads(cli("cases", "stats", "--json", "--db", url, cwd=tmp_path).stdout)
    assert (doc["opened"], doc["awaiting_disposal"], doc["withdrawn"], doc["effective"]) == (2, 1, 1, 0)
    assert "withdrawn 已撤回 1" in cli("cases", "stats", "--db", url, cwd=tmp_path).stdout
    again = cli("cases", "withdraw", ids[PERSON], "--reason", "x", "--db", url, cwd=tmp_path)
    assert again.returncode == 1 and len(again.stderr.splitlines()) == 1
    assert "cannot withdraw a case that is withdrawn" in again.stderr
    disposed = cli("cases", "dispose", ids[CO][:12], "--result", "applied", "--db", url, cwd=tmp_path)
    assert disposed.returncode == 0, disposed.stderr
    assert json.loads(cli("cases", "list", "--status", "disposed", "--json", "--db", url,
                          cwd=tmp_path).stdout)[0]["case_id"] == ids[CO]


def test_cli_case_id_prefixes_ambiguous_short_and_unknown_exit_1(database: Database, tmp_path: Path) -> None:
    """An ambiguous prefix lists the matching ids; a short or unknown one is refused; each exits 1, one line."""
    engine = loop_engine(database)
    book = case_book_for(engine.store, new_id=_ids("abcdef0011112222", "abcdef0099998888"))
    for subject, matter in ((CO, "government_procurement"), (CO3, "government_procurement")):
        book.open_case(engine.check(subject, matter, open_case=False), engine_subject(subject))
    engine.store.close()
    for args, message in ((["withdraw", "abcdef00", "--reason", "r"], "abcdef0011112222, abcdef0099998888"),
                          (["dispose", "abcdef00", "--result", "applied"], "ambiguous"),
                          (["withdraw", "abcdef0", "--reason", "r"], "at least 8 characters"),
                          (["dispose", "abcdef0055", "--result", "applied"], "unknown case id")):
        done = cli("cases", *args, "--db", database.url, cwd=tmp_path)
        assert done.returncode == 1, (args, done.stderr)
        assert message in done.stderr and len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert cli("cases", "withdraw", "abcdef00", "--db", database.url, cwd=tmp_path).returncode == 2  # no --reason
    assert [c.status for c in case_book_for(database.open()).list()] == ["responded", "responded"]


def test_cli_list_filters_subject_matter_since(tmp_path: Path, cli_db: tuple[str, dict[str, str]]) -> None:
    """``cases list --subject --matter --since`` filter; the subject is normalised, a person shown masked."""
    url, ids = cli_db

    def listed(*args: str) -> list[str]:
        done = cli("cases", "list", "--json", *args, "--db", url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return [c["case_id"] for c in json.loads(done.stdout)]

    assert listed("--subject", CO.lower()) == [ids[CO]]
    assert listed("--matter", "civil_servant_hiring") == [ids[PERSON]]
    assert listed("--since", "2025-06-01") == [ids[CO], ids[PERSON]]  # opened 2025-06-01 12:00 in China
    assert listed("--since", "2025-06-02") == []
    person = cli("cases", "list", "--subject", PERSON, "--db", url, cwd=tmp_path)
    assert person.returncode == 0 and PERSON_MASKED in person.stdout and PERSON not in person.stdout
    for bad in (["--since", "2025-6-1"], ["--subject", "91410100MA0000015C"], ["--matter", "awards"]):
        done = cli("cases", "list", *bad, "--db", url, cwd=tmp_path)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr


# --- resident ids typed into free text (design.md §9 "Hostile input") -----------------------------

OTHER = "410105198509230440"
THIRD = "410102197906150037"


def test_cli_list_and_stats_mask_ids_typed_into_free_text(tmp_path: Path, database: Database) -> None:
    """``cases list`` (JSON, table) and ``cases stats`` (JSON, text) mask ids in names, item codes,
    application numbers and departments; the disposal log event masks the department too."""
    engine = loop_engine(database)
    book = book_of(engine)
    company = engine.check({"id": CO, "name": f"某公司（法人 {OTHER[:6]} {OTHER[6:]}）"}, "government_procurement",
                           item_code=f"ITEM-{OTHER}", application_no=f"A {THIRD[:6]}-{THIRD[6:]}").case_id
    person = engine.check({"id": PERSON, "name": f"王某某{PERSON}"}, "civil_servant_hiring",
                          department=f"人社局 {OTHER}", department_code=f"HR{THIRD}").case_id
    assert company is not None and person is not None
    with structlog.testing.capture_logs() as logs:
        book.dispose(company, "applied", department=f"财政局（经办人{THIRD[:6]} {THIRD[6:14]} {THIRD[14:]}）",
                     department_code=f"FIN {OTHER}")
    assert_masked(repr(logs), OTHER, THIRD)
    engine.store.close()
    outputs = {}
    for args in (("list", "--json"), ("list",), ("stats", "--json"), ("stats",)):
        done = cli("cases", *args, "--db", database.url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert_masked(done.stdout + done.stderr, OTHER, THIRD, PERSON)
        outputs[args] = done.stdout
    listed = {c["case_id"]: c for c in json.loads(outputs["list", "--json"])}
    assert listed[company]["item_code"] == "ITEM-4101**********0440"
    assert listed[company]["subject"]["name"] == "某公司（法人 4101** ********0440）"
    assert listed[person]["department"] == "人社局 4101**********0440"
    stats = json.loads(outputs["stats", "--json"])
    assert stats["by_department"] == {"财政局（经办人4101** ******** 0037）": 1}
    assert "某公司（法人 4101** ********0440）" in outputs["list",]


@pytest.mark.parametrize("case_id", ["\x00", "abc\x00def", "0123456789abcdef\x00", "\x00" * 32])
def test_a_case_id_holding_nul_is_an_unknown_case_on_every_database(database: Database, case_id: str) -> None:
    """No case id holds NUL: asking for one is an unknown case, not a database error (PostgreSQL refuses
    NUL in a text parameter, so the question must not reach it)."""
    book = case_book_for(loop_engine(database).store)
    with pytest.raises(UnknownCaseError):
        book.resolve(case_id)
