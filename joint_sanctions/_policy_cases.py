"""Running policy cases (``joint-sanctions test``, and the shipped cases under pytest): each case's
records go into a private in-memory SQLite store, its subject is checked for its matter at its time on
each rule back end, and what came out is compared with what the case expects.

Both back ends run every case, so a case also proves they agree; coverage is the measures no case's
check applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._check import Engine
from ._compile import CompiledMeasures
from ._errors import CheckError, Problem
from ._models import CheckResult, CreditRecord
from ._policy_case_files import PolicyCase, read_case_files
from .stores import SqliteStore

__all__ = ["BACK_ENDS", "CaseFailure", "Outcome", "PolicyCase", "TestReport", "failure_of", "read_case_files", "run_case",
           "run_cases"]

#: The rule back ends every case runs on (the names ``Engine(rules=…)`` takes).
BACK_ENDS = ("reference", "durable")
_BACK_END_NAMES = {"reference": "reference", "durable": "durable_rules"}

#: A case without records still needs lists that were written (a store never written to refuses checks):
#: one removed record of a subject no case names.
_PLACEHOLDER = CreditRecord(record_id="POLICY-CASE-NONE", list_type="court_defaulter",
                            subject_id="91410100MA9999999Q", listed_on=dt.date(2000, 1, 1), status="removed")


@dataclass(frozen=True)
class Outcome:
    """What one check of a case gave: its decision, measures and their bases, or an error code."""

    decision: str | None = None
    measures: tuple[str, ...] = ()
    binding: tuple[str, ...] = ()
    basis: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def of(cls, result: CheckResult) -> Outcome:
        return cls(decision=result.decision,
                   measures=tuple(sorted(m.measure_id for m in result.measures)),
                   binding=tuple(sorted(m.measure_id for m in result.measures if m.binding)),
                   basis={m.measure_id: tuple(b.model_dump() for b in m.legal_basis) for m in result.measures})


def _ids(ids: Iterable[str]) -> str:
    return "[" + ", ".join(ids) + "]"


def _mismatches(case: PolicyCase, got: Outcome) -> list[tuple[str, str, str]]:
    """(what, expected, got) for each part of the expectation the outcome misses; empty = the case passes."""
    want = case.expect
    if want.error is not None or got.error is not None:
        if want.error == got.error:
            return []
        expected = f"error {want.error}" if want.error is not None else "a result"
        return [("", expected, f"error {got.error}" if got.error is not None else f"decision {got.decision}")]
    found: list[tuple[str, str, str]] = []
    if want.decision is not None and want.decision != got.decision:
        found.append(("decision", want.decision, str(got.decision)))
    if want.measures is not None and sorted(want.measures) != list(got.measures):
        found.append(("measures", _ids(sorted(want.measures)), _ids(got.measures)))
    if want.binding is not None and sorted(want.binding) != list(got.binding):
        found.append(("binding", _ids(sorted(want.binding)), _ids(got.binding)))
    for measure_id, basis in want.basis.items():
        cited = got.basis.get(measure_id)
        if cited is None or [dict(b) for b in cited] != [dict(b) for b in basis]:
            found.append((f"basis of {measure_id}", str([dict(b) for b in basis]),
                          "not applied" if cited is None else str([dict(b) for b in cited])))
    return found


_ZH = {"decision": "决定", "measures": "措施", "binding": "有约束力的措施", "": ""}


def _zh(what: str) -> str:
    if what.startswith("basis of "):
        return f"{what.removeprefix('basis of ')} 的依据"
    return _ZH[what]


def _zh_value(value: str) -> str:
    if value == "a result":
        return "核查结果"
    if value == "not applied":
        return "未适用"
    for en, zh in (("error ", "错误 "), ("decision ", "决定 ")):
        if value.startswith(en):
            return zh + value.removeprefix(en)
    return value


@dataclass(frozen=True)
class CaseFailure:
    """A case whose checks did not give what it expects, on one or both back ends."""

    case: PolicyCase
    back_ends: tuple[str, ...]
    #: (what, expected, got) per part that differs
    mismatches: tuple[tuple[str, str, str], ...]

    def line(self) -> str:
        """``file:line: name: expected …, got …`` in English and Chinese."""
        exp = "; ".join(f"{w} {e}".strip() for w, e, _ in self.mismatches)
        got = "; ".join(f"{w} {g}".strip() for w, _, g in self.mismatches)
        zh_exp = "；".join(f"{_zh(w)} {_zh_value(e)}".strip() for w, e, _ in self.mismatches)
        zh_got = "；".join(f"{_zh(w)} {_zh_value(g)}".strip() for w, _, g in self.mismatches)
        only, zh_only = "", ""
        if len(self.back_ends) < len(BACK_ENDS):
            names = ", ".join(_BACK_END_NAMES[b] for b in self.back_ends)
            only, zh_only = f" (on {names} only)", f"（仅 {names}）"
        return (f"{self.case.where}: {self.case.name}: expected {exp}, got {got}{only} / "
                f"预期 {zh_exp}，实际 {zh_got}{zh_only}")

    def to_json(self) -> dict[str, Any]:
        return {"file": self.case.path, "line": self.case.line, "name": self.case.name,
                "back_ends": [_BACK_END_NAMES[b] for b in self.back_ends],
                "mismatches": [{"what": w, "expected": e, "got": g} for w, e, g in self.mismatches]}


def run_case(case: PolicyCase, measures: CompiledMeasures, rules: str) -> Outcome:
    """Check ``case`` on the back end ``rules`` over a private in-memory store holding its records."""
    store = SqliteStore(":memory:")
    try:
        store.upsert(list(case.records) or [_PLACEHOLDER])
        engine = Engine(measures=measures, store=store, rules=rules, cases=False)
        try:
            result = engine.check(case.subject, case.matter, at=case.at)
        except CheckError as exc:
            return Outcome(error=exc.code)
        finally:
            engine.close()
    finally:
        store.close()
    return Outcome.of(result)


def failure_of(case: PolicyCase, outcomes: Mapping[str, Outcome]) -> CaseFailure | None:
    """The failure of ``case`` given its outcome per back end; None when every back end passes."""
    failed = {b: tuple(_mismatches(case, o)) for b, o in outcomes.items()}
    failed = {b: m for b, m in failed.items() if m}
    if not failed:
        return None
    # one line per case: the first failing back end's differences, naming the back ends that failed
    return CaseFailure(case, tuple(failed), next(iter(failed.values())))


@dataclass(frozen=True)
class TestReport:
    """What a run of policy cases found."""

    __test__ = False  # not a pytest class, whatever its name

    cases: int
    failures: tuple[CaseFailure, ...]
    problems: tuple[Problem, ...]
    #: the measures of the lists no case's check applied, in list order, with where each is written
    uncovered: tuple[tuple[str, str], ...]
    measure_count: int

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"cases": self.cases, "passed": self.cases - len(self.failures),
                "failed": [f.to_json() for f in self.failures],
                "problems": [{"file": p.path, "line": p.line, "column": p.col, "code": p.code,
                              "message": p.message} for p in self.problems],
                "measures": self.measure_count,
                "uncovered": [{"measure_id": m, "source": s} for m, s in self.uncovered]}


def run_cases(paths: Sequence[str], measures: CompiledMeasures) -> TestReport:
    """Read the case files at ``paths`` and run every well-formed case on every back end."""
    cases, problems = read_case_files(paths)
    failures: list[CaseFailure] = []
    applied: set[str] = set()
    for case in cases:
        outcomes = {b: run_case(case, measures, b) for b in BACK_ENDS}
        for outcome in outcomes.values():
            applied.update(outcome.measures)
        failure = failure_of(case, outcomes)
        if failure is not None:
            failures.append(failure)
    ordered = sorted(measures.measures.items(), key=lambda item: measures.position[item[0]])
    uncovered = tuple((measure_id, c.measure.source or "") for measure_id, c in ordered if measure_id not in applied)
    return TestReport(len(cases), tuple(failures), tuple(problems), uncovered, len(ordered))
