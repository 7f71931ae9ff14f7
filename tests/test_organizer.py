"""The matter organiser (``matter.organizer``): model, coercion, conditions, lint, CLI and adapters."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joint_sanctions import CheckError, Engine, Matter
from joint_sanctions._check import coerce_matter
from joint_sanctions._cli import main
from joint_sanctions._load import lint
from joint_sanctions.adapters import AdapterInputError, funds, reviews
from joint_sanctions.vocabulary import ORGANIZERS

from .conftest import record

GOV = "124101064100000117"
CO = "91410100MA0000015B"
DAY = dt.date(2025, 6, 1)

LIST = """\
edition: "test"
issuer: 测试
region_code: "410100"
measures:
  - id: T-DRC-ONLY
    name: 取消发展改革系统评优评先资格
    kind: punishment
    effect: prohibit
    mandatory: true
    list_types: [court_defaulter]
    matter_types: [honors, central_budget_funds]
    legal_basis:
      - {document: 中华人民共和国测试法, number: "", article: 第一条}
    basis_status: confirmed
    implementing_departments: [发展改革部门]
    condition: "matter.organizer == 'development_reform'"
  - id: T-NOT-CREDIT
    name: 非信用办评选从严审核
    kind: punishment
    effect: strict_review
    mandatory: false
    list_types: [court_defaulter]
    matter_types: [honors]
    legal_basis:
      - {document: 测试依据, number: "", article: ""}
    basis_status: unconfirmed
    implementing_departments: [评选单位]
    condition: "matter.organizer not in ['social_credit']"
"""


@pytest.fixture
def measures(tmp_path: Path) -> Path:
    path = tmp_path / "organizer.yaml"
    path.write_text(LIST, encoding="utf-8")
    return path


def ids(result: Any) -> list[str]:
    return [m.measure_id for m in result.measures]


def test_the_organisers_are_the_vocabulary_of_the_design() -> None:
    """The organiser ids are development_reform, social_credit and other, each with its Chinese name."""
    assert list(ORGANIZERS) == ["development_reform", "social_credit", "other"]
    assert all(ORGANIZERS.values())


def test_a_matter_is_organised_by_other_unless_told() -> None:
    """A matter whose organiser the host does not know is organised by `other`."""
    assert Matter(matter_type="honors").organizer == "other"
    assert coerce_matter("honors", {}).organizer == "other"
    assert coerce_matter({"matter_type": "honors", "organizer": None}, {}).organizer == "other"


@pytest.mark.parametrize("given", [
    {"matter": "honors", "organizer": "social_credit"},
    {"matter": {"matter_type": "honors", "organizer": "social_credit"}},
    {"matter": Matter(matter_type="honors", organizer="social_credit")},
])
def test_the_organiser_is_taken_from_a_keyword_a_mapping_or_a_model(given: dict[str, Any]) -> None:
    """Every way a host passes a matter carries its organiser."""
    extra = {k: v for k, v in given.items() if k != "matter"}
    assert coerce_matter(given["matter"], extra).organizer == "social_credit"


@pytest.mark.parametrize("bad", ["drc", "", "Development_Reform", 3, ["other"], "发展改革系统"])
@pytest.mark.parametrize("rules", ["durable", "reference"])
def test_an_unknown_organiser_is_invalid_matter_in_one_line(make_engine: Callable[..., Engine], measures: Path,
                                                           bad: object, rules: str) -> None:
    """An organiser outside the vocabulary is refused (`invalid_matter`), one bilingual line, in every form."""
    engine = make_engine([record("R1", CO)], measures=measures, rules=rules)
    for call in (lambda: engine.check(CO, "honors", at=DAY, organizer=bad),
                 lambda: engine.check(CO, {"matter_type": "honors", "organizer": bad}, at=DAY),
                 lambda: engine.check_many([CO], "honors", at=DAY, organizer=bad)):
        with pytest.raises(CheckError) as info:
            call()
        assert info.value.code == "invalid_matter"
        text = str(info.value)
        assert "\n" not in text and "organizer" in text and " / " in text and "development_reform" in text


@pytest.mark.parametrize("rules", ["durable", "reference"])
@pytest.mark.parametrize(("organizer", "want"), [
    (None, ["T-NOT-CREDIT"]),
    ("other", ["T-NOT-CREDIT"]),
    ("development_reform", ["T-DRC-ONLY", "T-NOT-CREDIT"]),
    ("social_credit", []),
])
def test_a_condition_tests_the_organiser_alike_in_both_back_ends(
        make_engine: Callable[..., Engine], measures: Path, rules: str, organizer: str | None,
        want: list[str]) -> None:
    """`matter.organizer` in a condition sees the host's organiser, `other` when none is given."""
    engine = make_engine([record("R1", CO)], measures=measures, rules=rules)
    assert ids(engine.check(CO, "honors", at=DAY, organizer=organizer)) == want
    assert ids(engine.check(CO, {"matter_type": "honors", "organizer": organizer}, at=DAY)) == want


def test_lint_refuses_an_organiser_a_condition_could_never_meet(tmp_path: Path) -> None:
    """A condition comparing the organiser with a value outside the vocabulary is a located lint error."""
    path = tmp_path / "bad.yaml"
    path.write_text(LIST.replace("== 'development_reform'", "== 'drc'"), encoding="utf-8")
    problems = lint([path])
    assert [(p.line, p.col, p.code) for p in problems] == [(16, 37, "condition_type")]  # at the value
    assert "development_reform" in problems[0].message and " / " in problems[0].message


def test_cli_check_organizer_reaches_the_shipped_district_measures(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`check --organizer development_reform` brings the development-and-reform award measure; none, not."""
    csv = tmp_path / "r.csv"
    csv.write_text("record_id,list_type,subject_id,subject_name,subject_type,authority,document_no,listed_on,"
                   "expires_on,status,reason\n"
                   f"G1,government_dishonesty,{GOV},某区政府,government_body,郑州市发展和改革委员会,郑发改〔2024〕1号,"
                   "2024-01-01,,active,\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'js.db'}"
    assert main(["records", "import", str(csv), "--db", url]) == 0
    capsys.readouterr()
    base = ["check", "--subject", GOV, "--matter", "honors", "--at", "2025-06-01", "--json", "--db", url]
    assert main([*base, "--organizer", "development_reform"]) == 0
    with_drc = [m["measure_id"] for m in json.loads(capsys.readouterr().out)["measures"]]
    assert main(base) == 0
    without = [m["measure_id"] for m in json.loads(capsys.readouterr().out)["measures"]]
    assert "GOV-HON-001" in with_drc and "GOV-HON-001" not in without


def test_cli_check_refuses_an_unknown_organizer_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--organizer` outside the vocabulary is a wrong command line (exit 2), one line naming the option."""
    with pytest.raises(SystemExit) as info:
        main(["check", "--subject", GOV, "--matter", "honors", "--organizer", "drc",
              "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--organizer" in err[-1]


def test_funds_adapter_passes_the_project_organiser(make_engine: Callable[..., Engine], measures: Path) -> None:
    """A funds application names who organises it; conditions on the organiser see it."""
    engine = make_engine([record("R1", CO)], measures=measures, cases=False)
    project = {"matter_type": "central_budget_funds", "project_name": "示例项目", "project_code": "P-1"}
    drc = funds.check_application(engine, {**project, "organizer": "development_reform"}, {"id": CO, "name": "甲"})
    plain = funds.check_application(engine, project, {"id": CO, "name": "甲"})
    assert [r.measure_id for r in drc.applicant.reasons] == ["T-DRC-ONLY"]
    assert plain.applicant.reasons == ()
    with pytest.raises(AdapterInputError) as info:
        funds.check_application(engine, {**project, "organizer": "drc"}, {"id": CO, "name": "甲"})
    assert info.value.where == "project"


def test_reviews_adapter_passes_the_award_organiser(make_engine: Callable[..., Engine], measures: Path) -> None:
    """A batch review for a social-credit-system award passes its organiser to every check."""
    engine = make_engine([record("R1", CO)], measures=measures, cases=False)
    drc = reviews.review(engine, [{"id": CO, "name": "甲"}], "honors", organizer="development_reform")
    credit = reviews.review(engine, [{"id": CO, "name": "甲"}], {"matter_type": "honors",
                                                               "organizer": "social_credit"})
    assert [r.measure_id for r in drc.candidates[0].reasons] == ["T-DRC-ONLY", "T-NOT-CREDIT"]
    assert credit.candidates[0].reasons == ()
