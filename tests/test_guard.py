"""The legality guard (design.md §3, issue 13 point 1): only a punishment whose basis is confirmed binds.

An unconfirmed basis never bars on its own: the check answers at most ``review``, every output says
which measure did not bind and why, and no adapter turns a review into a bar. The measure list below is
the tests' own, so these behaviours hold whatever the shipped lists' bases become.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import pytest

from joint_sanctions import CreditRecord, Engine, case_book_for
from joint_sanctions._batch import run_batch
from joint_sanctions._cli import main
from joint_sanctions._feedback import build_feedback, shipped_schema_text
from joint_sanctions.adapters import funds, reviews, trading
from joint_sanctions.adapters.government_services import ServiceWindow, load_service_items
from joint_sanctions.stores._sqlite import SqliteStore

from .conftest import Database, numbered_uscc, record

CO = numbered_uscc(1301)
AT = dt.date(2025, 6, 1)
MATTER = "government_procurement"

_LAW = "{document: 中华人民共和国政府采购法, number: \"\", article: 第七十七条}"
_POLICY = "{document: 关于对失信主体加强政府采购管理的通知, number: 财库〔2016〕125号, article: \"\"}"


def _measure(mid: str, effect: str, mandatory: bool, list_types: str, status: str, *, kind: str = "punishment",
             tags: str = "") -> str:
    basis = _LAW if status == "confirmed" else _POLICY
    return f"""  - id: {mid}
    name: 措施{mid}
    kind: {kind}
    effect: {effect}
    mandatory: {str(mandatory).lower()}
    list_types: {list_types}
    matter_types: [government_procurement, fiscal_funds, bidding]
    legal_basis: [{basis}]
    basis_status: {status}
    implementing_departments: [财政部门]
""" + (f"    tags: {tags}\n" if tags else "")


#: Per list type, what applies (government_procurement, fiscal_funds and bidding alike):
#: court_defaulter → G-PRO-C (binding mandatory prohibit) → prohibited;
#: major_tax_violator → G-PRO-U (unconfirmed mandatory prohibit) → review;
#: wage_arrears → G-RES-C (binding mandatory restrict) + G-PRO-U → restricted;
#: market_serious_violator → G-RES-U (unconfirmed discretionary restrict) → review;
#: procurement_violator → G-DPRO-C (binding discretionary prohibit) → restricted;
#: safety_serious_violator → G-REF-C (binding reference) → review;
#: tax_credit_a → G-INC (an incentive) → clear.
GUARD_LIST = ("edition: \"2025\"\nissuer: 测试\nregion_code: \"410100\"\nmeasures:\n"
              + _measure("G-PRO-C", "prohibit", True, "[court_defaulter]", "confirmed")
              + _measure("G-PRO-U", "prohibit", True, "[major_tax_violator, wage_arrears]", "unconfirmed",
                         tags="[no_notify_commit]")
              + _measure("G-RES-C", "restrict", True, "[wage_arrears]", "confirmed")
              + _measure("G-RES-U", "restrict", False, "[market_serious_violator]", "unconfirmed")
              + _measure("G-DPRO-C", "prohibit", False, "[procurement_violator]", "confirmed")
              + _measure("G-REF-C", "reference", False, "[safety_serious_violator]", "confirmed")
              + _measure("G-INC", "incentive", False, "[tax_credit_a]", "unconfirmed", kind="incentive",
                         tags="[fault_tolerant_acceptance]"))


@pytest.fixture
def guard_lists(tmp_path: Path) -> Path:
    folder = tmp_path / "guard_lists"
    folder.mkdir()
    (folder / "guard.yaml").write_text(GUARD_LIST, encoding="utf-8")
    return folder


def _records(*list_types: str, subject: str = CO) -> list[CreditRecord]:
    return [record(f"R-{lt}", subject, lt) for lt in list_types]


def _binding(result: Any) -> dict[str, bool]:
    return {m.measure_id: m.binding for m in result.measures}


@pytest.mark.parametrize("rules", ["durable", "reference"])
@pytest.mark.parametrize(("lists", "decision", "binding"), [
    (["court_defaulter"], "prohibited", {"G-PRO-C": True}),
    (["major_tax_violator"], "review", {"G-PRO-U": False}),
    (["wage_arrears"], "restricted", {"G-PRO-U": False, "G-RES-C": True}),
    (["market_serious_violator"], "review", {"G-RES-U": False}),
    (["procurement_violator"], "restricted", {"G-DPRO-C": True}),
    (["safety_serious_violator"], "review", {"G-REF-C": True}),
    (["tax_credit_a"], "clear", {"G-INC": True}),
    (["tax_credit_a", "major_tax_violator"], "review", {"G-PRO-U": False, "G-INC": False}),
    (["tax_credit_a", "court_defaulter"], "prohibited", {"G-PRO-C": True, "G-INC": False}),
])
def test_only_a_confirmed_basis_binds_and_decides(make_engine: Callable[..., Engine], guard_lists: Path,
                                                  rules: str, lists: list[str], decision: str,
                                                  binding: dict[str, bool]) -> None:
    """A punishment binds iff its basis is confirmed; an unbinding one yields at most review; an
    incentive is granted unless a punishment applies — on both rule back ends."""
    engine = make_engine(_records(*lists), measures=[guard_lists], rules=rules)
    result = engine.check(CO, MATTER, at=AT, open_case=False)
    assert (result.decision, _binding(result)) == (decision, binding)


def test_every_measure_of_the_json_result_says_whether_it_binds(make_engine: Callable[..., Engine],
                                                                guard_lists: Path) -> None:
    """The check JSON carries `binding` in every applied measure."""
    engine = make_engine(_records("wage_arrears", "tax_credit_a"), measures=[guard_lists])
    doc = json.loads(engine.check(CO, MATTER, at=AT, open_case=False).to_json())
    assert {m["measure_id"]: m["binding"] for m in doc["measures"]} == {
        "G-PRO-U": False, "G-RES-C": True, "G-INC": False}


@pytest.fixture
def guard_db(tmp_path: Path) -> str:
    """A SQLite database holding records of the guard list's list types for CO and two more companies."""
    subjects = [(lt, CO) for lt in ("major_tax_violator", "tax_credit_a")]
    subjects += [("court_defaulter", numbered_uscc(1302)), ("market_serious_violator", numbered_uscc(1303))]
    rows = [("record_id,list_type,subject_id,subject_name,subject_type,authority,document_no,listed_on,"
             "expires_on,status,reason")]
    rows += [f"R-{lt},{lt},{sid},某公司,legal_person,某机关,文号,2024-01-01,,active," for lt, sid in subjects]
    source = tmp_path / "guard_records.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    assert main(["records", "import", str(source), "--db", url]) == 0
    return url


def test_cli_table_says_in_chinese_why_a_measure_did_not_bind(guard_db: str, guard_lists: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The check table marks an unconfirmed punishment 依据待核实 → 人工复核 and a suspended incentive
    因惩戒措施暂停; --json gives `binding` per measure."""
    args = ["check", "--subject", CO, "--matter", MATTER, "--at", "2025-06-01", "--db", guard_db,
            "--measures", str(guard_lists)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "(review)" in out
    lines = out.splitlines()
    punishment = next(i for i, line in enumerate(lines) if "G-PRO-U" in line)
    incentive = next(i for i, line in enumerate(lines) if "G-INC" in line)
    assert "依据待核实 → 人工复核" in "\n".join(lines[punishment:punishment + 2])
    assert "因惩戒措施暂停" in "\n".join(lines[incentive:incentive + 2])
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(m["measure_id"], m["binding"]) for m in doc["measures"]] == [("G-PRO-U", False), ("G-INC", False)]


def test_cli_table_says_a_binding_measure_binds(guard_db: str, guard_lists: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A binding punishment is shown as binding (具有约束力), not as waiting for review."""
    assert main(["check", "--subject", numbered_uscc(1302), "--matter", MATTER, "--at", "2025-06-01",
                 "--db", guard_db, "--measures", str(guard_lists)]) == 0
    out = capsys.readouterr().out
    assert "(prohibited)" in out and "具有约束力" in out and "人工复核" not in out


def test_stored_cases_keep_binding(database: Database, guard_lists: Path) -> None:
    """A case keeps each measure's `binding` as the check found it, on SQLite and PostgreSQL."""
    store = database.open()
    store.upsert(_records("major_tax_violator", "tax_credit_a"))
    engine = Engine(measures=[guard_lists], store=store)
    result = engine.check(CO, MATTER)
    case = case_book_for(store).get(result.case_id or "")
    assert case.decision == "review"
    assert {m.measure_id: m.binding for m in case.measures} == {"G-PRO-U": False, "G-INC": False}


def test_a_case_stored_before_the_guard_loads_with_binding_derived(tmp_path: Path, guard_lists: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A case stored without `binding` still lists: a punishment binds iff its basis is confirmed, and
    `cases list` names the measures that do not bind."""
    path = tmp_path / "legacy.db"
    with SqliteStore(path) as store:
        store.upsert(_records("major_tax_violator", "court_defaulter"))
        result = Engine(measures=[guard_lists], store=store).check(CO, MATTER)
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute("SELECT measures FROM cases WHERE case_id = ?", (result.case_id,)).fetchone()
        legacy = [{k: v for k, v in m.items() if k != "binding"} for m in json.loads(stored)]
        assert len(legacy) == 2 and len(legacy) == len(json.loads(stored))
        conn.execute("UPDATE cases SET measures = ? WHERE case_id = ?", (json.dumps(legacy), result.case_id))
    url = f"sqlite:///{path}"
    assert main(["cases", "list", "--json", "--db", url]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["non_binding_measure_ids"] == ["G-PRO-U"]
    assert main(["cases", "list", "--db", url]) == 0
    assert "G-PRO-U(依据待核实)" in capsys.readouterr().out


def test_batch_reports_name_the_measures_that_did_not_bind(make_engine: Callable[..., Engine], guard_lists: Path,
                                                           tmp_path: Path) -> None:
    """CSV and XLSX reports add `non_binding_measure_ids`; the HTML report says 依据待核实 → 人工复核."""
    engine = make_engine([*_records("major_tax_violator"), *_records("court_defaulter", subject=numbered_uscc(1302))],
                         measures=[guard_lists])
    source = tmp_path / "batch.csv"
    source.write_text(f"subject_id,subject_name\n{CO},甲公司\n{numbered_uscc(1302)},乙公司\n", encoding="utf-8")
    for out in ("report.csv", "report.xlsx", "report.html"):
        run_batch(engine, source, MATTER, tmp_path / out)
    with (tmp_path / "report.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["decision"], r["measure_ids"], r["non_binding_measure_ids"]) for r in rows] == [
        ("review", "G-PRO-U", "G-PRO-U"), ("prohibited", "G-PRO-C", "")]
    sheet = openpyxl.load_workbook(tmp_path / "report.xlsx").worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][-1] == "non_binding_measure_ids" and values[1][-1] == "G-PRO-U" and values[2][-1] in ("", None)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "依据待核实 → 人工复核" in page


def test_trading_never_disqualifies_on_an_unconfirmed_basis(make_engine: Callable[..., Engine],
                                                            guard_lists: Path) -> None:
    """A bidder whose only measures are unconfirmed needs review; a binding mandatory one disqualifies;
    reasons carry `binding` and say why."""
    other = numbered_uscc(1302)
    engine = make_engine([*_records("major_tax_violator"), *_records("court_defaulter", subject=other)],
                         measures=[guard_lists])
    answer = trading.check_bidders(engine, {"project_code": "P-1", "project_name": "项目",
                                            "matter_type": "government_procurement"},
                                   [{"id": CO, "name": "甲"}, {"id": other, "name": "乙"}], open_cases=False)
    first, second = answer.bidders
    assert (first.decision, first.verdict) == ("review", "needs_review")
    assert (second.decision, second.verdict) == ("prohibited", "disqualified")
    assert [r.binding for r in first.reasons] == [False] and "人工复核" in first.reasons[0].text
    assert first.to_dict()["reasons"][0]["binding"] is False and second.reasons[0].binding is True


def test_funds_and_reviews_never_disqualify_on_an_unconfirmed_basis(make_engine: Callable[..., Engine],
                                                                    guard_lists: Path) -> None:
    """An applicant or candidate whose mandatory measures are all unconfirmed needs review."""
    engine = make_engine(_records("major_tax_violator"), measures=[guard_lists])
    applied = funds.check_application(engine, {"matter_type": "fiscal_funds", "project_name": "项目",
                                               "project_code": "F-1"}, {"id": CO, "name": "甲"},
                                      open_cases=False)
    assert (applied.verdict, applied.applicant.decision) == ("needs_review", "review")
    report = reviews.review(engine, [{"id": CO, "name": "甲"}], "bidding")
    assert [(c.verdict, c.decision) for c in report.candidates] == [("needs_review", "review")]


def test_the_window_never_bars_or_closes_a_route_on_an_unconfirmed_basis(make_engine: Callable[..., Engine],
                                                                           guard_lists: Path,
                                                                           tmp_path: Path) -> None:
    """A review is not barred; notify-and-commit closed only by an unconfirmed measure is left to a person."""
    items = tmp_path / "items.yaml"
    items.write_text('edition: "2025"\nissuer: 测试\nregion_code: "410100"\nitems:\n'
                     '  - code: "ITEM-001"\n    name: 采购事项\n    department: 财政局\n'
                     '    matter_types: [government_procurement]\n    notify_commit: true\n'
                     '    fault_tolerant: true\n', encoding="utf-8")
    engine = make_engine(_records("major_tax_violator"), measures=[guard_lists])
    advice = ServiceWindow(engine, load_service_items(items)).advise({"id": CO, "name": "甲"}, "ITEM-001",
                                                                     open_case=False)
    assert (advice.decision, advice.barred, advice.strict_review) == ("review", False, True)
    assert not advice.notify_commit_allowed and advice.notify_commit_review
    assert any("人工复核" in line for line in advice.guidance)
    assert not any("不予受理" in line for line in advice.guidance)


def test_feedback_v1_keeps_its_shape(database: Database, guard_lists: Path) -> None:
    """Feedback v1 measures forbid further keys, so `binding` is not sent: a record of a case with a
    non-binding measure still validates against the shipped schema."""
    store = database.open()
    store.upsert(_records("major_tax_violator"))
    result = Engine(measures=[guard_lists], store=store).check(CO, MATTER)
    book = case_book_for(store)
    case = book.dispose(result.case_id or "", "not_applied", reason="依据待核实")
    record_ = build_feedback(case).model_dump(mode="json")
    jsonschema.validate(record_, json.loads(shipped_schema_text()))
    assert set(record_["measures"][0]) == {"measure_id", "name", "effect", "legal_basis"}
