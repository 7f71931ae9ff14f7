"""Data-driven policy cases (tests/cases/*.yaml): subject + records + matter → measures, decision or error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from joint_sanctions import CheckError, CreditRecord, Engine
from joint_sanctions._compile import CompiledMeasures

CASES_DIR = Path(__file__).parent / "cases"


def _load_cases() -> list[Any]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")) or []):
            cases.append(pytest.param(case, id=f"{path.stem}[{i}] {case['name']}"))
    return cases


CASES = _load_cases()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("rules", ["durable", "reference"])
def test_policy_case(case: dict[str, Any], rules: str, make_engine: Callable[..., Engine]) -> None:
    """Each case's subject, records and matter give exactly the wanted measures, decision and cited
    legal basis (or error)."""
    records = [CreditRecord.model_validate({"subject_name": "", **r}) for r in case.get("records", [])]
    engine = make_engine(records, rules=rules)
    at = case.get("at", dt.date(2025, 6, 1))
    matter = case["matter"]
    if "want_error_code" in case:
        with pytest.raises(CheckError) as info:
            engine.check(case["subject"], matter, at=at)
        assert info.value.code == case["want_error_code"]
        return
    result = engine.check(case["subject"], matter, at=at)
    got = sorted(m.measure_id for m in result.measures)
    assert got == sorted(case.get("want_measures", [])), result.to_json()
    if "want_decision" in case:
        assert result.decision == case["want_decision"]
    for measure_id, basis in case.get("want_basis", {}).items():
        applied = next(m for m in result.measures if m.measure_id == measure_id)
        assert [b.model_dump() for b in applied.legal_basis] == basis, measure_id


def test_cases_cover_every_list_and_matter_pair_of_the_shipped_lists(shipped: CompiledMeasures) -> None:
    """Every (list type, matter type) pair some shipped measure covers appears in at least one case."""
    covered: set[tuple[str, str]] = set()
    for param in CASES:
        case = param.values[0]
        matter = case["matter"] if isinstance(case["matter"], str) else case["matter"].get("matter_type")
        for r in case.get("records", []):
            covered.add((r["list_type"], matter))
    missing = sorted(set(shipped.index) - covered)
    assert not missing, f"no case for: {missing}"
