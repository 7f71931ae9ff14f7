"""The shipped policy cases (measure_lists/cases/*.yaml) under pytest, through the same runner as
`joint-sanctions test`: subject + records + matter → decision, measures, binding, basis or error."""

from __future__ import annotations

from typing import Any

import pytest

from joint_sanctions._compile import CompiledMeasures
from joint_sanctions._load import shipped_measures_dir
from joint_sanctions._policy_cases import BACK_ENDS, PolicyCase, failure_of, read_case_files, run_case

CASES, PROBLEMS = read_case_files([shipped_measures_dir() / "cases"])


def _params() -> list[Any]:
    return [pytest.param(case, id=f"{case.where} {case.name}") for case in CASES]


def test_the_shipped_case_files_are_well_formed() -> None:
    """Every shipped case file reads without a problem, and there are cases to run."""
    assert [str(p) for p in PROBLEMS] == []
    assert len(CASES) >= 200


@pytest.mark.parametrize("case", _params())
@pytest.mark.parametrize("rules", BACK_ENDS)
def test_policy_case(case: PolicyCase, rules: str, shipped: CompiledMeasures) -> None:
    """Each case's subject, records and matter give exactly what it expects on each rule back end."""
    failure = failure_of(case, {rules: run_case(case, shipped, rules)})
    assert failure is None, failure.line() if failure else ""


def test_cases_cover_every_list_and_matter_pair_of_the_shipped_lists(shipped: CompiledMeasures) -> None:
    """Every (list type, matter type) pair some shipped measure covers appears in at least one case."""
    covered: set[tuple[str, str]] = set()
    for case in CASES:
        matter = case.matter if isinstance(case.matter, str) else case.matter.get("matter_type")
        for r in case.records:
            covered.add((r.list_type, matter))
    missing = sorted(set(shipped.index) - covered)
    assert not missing, f"no case for: {missing}"
