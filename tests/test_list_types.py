"""The list-type policy file (measure_lists/list_types.yaml): lint, loading, and open-ended records ending
at their list type's maximum publication period (design.md §4, §6)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from joint_sanctions import Engine
from joint_sanctions._cli import main
from joint_sanctions._errors import MeasureListError
from joint_sanctions._list_types import POLICY_FILE, add_period
from joint_sanctions._load import ERROR_CODES, lint, load_list_types, load_measure_lists, shipped_measures_dir
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.testing import Clock

from .conftest import CO, FIXED_NOW, FIXTURE, record

POLICY = """\
edition: "2026-12"
issuer: 郑州市信用办
list_types:
  - list_type: market_serious_violator
    name: 市场监督管理严重违法失信名单
    listed_by: 市场监管部门
    repaired_by: 市场监管部门
    maximum_period: 3 years
    minimum_before_repair: 1 year
    basis: [{document: 市场监督管理严重违法失信名单管理办法, number: 国家市场监督管理总局令第44号, article: ""}]
    basis_status: {status}
  - list_type: safety_serious_violator
    name: 安全生产严重失信主体名单
    listed_by: 应急管理部门
    repaired_by: 应急管理部门
    maximum_period: 3 years
    minimum_before_repair: 12 months
    basis: [{document: 安全生产严重失信主体名单管理办法, number: 应急管理部令第11号, article: ""}]
    basis_status: confirmed
"""


def measures_with_policy(tmp_path: Path, status: str = "unconfirmed") -> Path:
    """The fixture measure lists plus a list-type policy file."""
    folder = tmp_path / "lists"
    shutil.copytree(FIXTURE, folder)
    (folder / POLICY_FILE).write_text(POLICY.replace("{status}", status), encoding="utf-8")
    return folder


def test_shipped_policy_file_lints_clean_and_covers_every_list_type() -> None:
    """The shipped list_types.yaml lints clean with the measure lists and names every list type in §3."""
    assert lint(shipped_measures_dir()) == []
    policy = load_list_types(shipped_measures_dir())
    from joint_sanctions.vocabulary import LIST_TYPES
    assert set(policy.entries) == set(LIST_TYPES)
    assert all(e.name == LIST_TYPES[lt] for lt, e in policy.entries.items())


def test_shipped_values_carry_their_confidence() -> None:
    """Periods of domain.md §3 keep their tag: [C] safety is confirmed, [U] market and [P] wages are not."""
    policy = load_list_types(shipped_measures_dir()).entries
    assert policy["safety_serious_violator"].basis_status == "confirmed"
    assert policy["safety_serious_violator"].maximum_period == (3, "years")
    assert policy["safety_serious_violator"].minimum_before_repair == (12, "months")
    assert policy["market_serious_violator"].basis_status == "unconfirmed"
    assert policy["wage_arrears"].basis_status == "unconfirmed"
    # 失信被执行人: 2 years only for some cases, so no list-wide maximum; government dishonesty: until rectified
    assert policy["court_defaulter"].maximum_period is None
    assert policy["government_dishonesty"].maximum_period is None


def test_policy_problems_are_located_with_stable_codes(tmp_path: Path) -> None:
    """A bad policy file gives every problem as file:line:col with a code, in English and Chinese."""
    folder = measures_with_policy(tmp_path)
    (folder / POLICY_FILE).write_text(
        'edition: "1"\nissuer: x\nlist_types:\n'
        "  - list_type: court_defaultr\n    name: 失信被执行人\n    listed_by: 法院\n    repaired_by: 法院\n"
        "    basis_status: confirmed\n"
        "  - list_type: wage_arrears\n    name: 拖欠\n    listed_by: 人社\n    repaired_by: 人社\n"
        "    maximum_period: 1 year\n    minimum_before_repair: 3 years\n    basis_status: maybe\n"
        "  - list_type: wage_arrears\n    name: 拖欠\n    listed_by: 人社\n    repaired_by: 人社\n"
        "    maximum_period: three years\n    basis_status: unconfirmed\n    colour: red\n",
        encoding="utf-8")
    problems = lint(folder)
    found = {(p.line, p.code) for p in problems}
    assert (4, "unknown_list_type") in found
    assert (8, "basis_status") in found            # confirmed without a basis
    assert (14, "period_order") in found           # minimum before repair longer than the maximum
    assert (15, "unknown_basis_status") in found
    assert (16, "duplicate_list_type") in found
    assert (20, "bad_period") in found
    assert (22, "unknown_field") in found
    assert all(p.path.endswith(POLICY_FILE) and " / " in p.message for p in problems)
    assert {p.code for p in problems} <= set(ERROR_CODES)
    with pytest.raises(MeasureListError):
        load_measure_lists(folder)


def test_lint_command_covers_the_policy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`joint-sanctions lint DIR` reports the policy file's problems and exits 1."""
    folder = measures_with_policy(tmp_path)
    (folder / POLICY_FILE).write_text('edition: "1"\nissuer: x\nlist_types: []\n', encoding="utf-8")
    assert main(["lint", str(folder)]) == 1
    assert f"{POLICY_FILE}:3:" in capsys.readouterr().out


@pytest.mark.parametrize(("day", "period", "end"), [
    (dt.date(2021, 3, 15), (3, "years"), dt.date(2024, 3, 15)),
    (dt.date(2020, 2, 29), (1, "years"), dt.date(2021, 2, 28)),   # no 29 February: the last day of the month
    (dt.date(2023, 1, 31), (1, "months"), dt.date(2023, 2, 28)),
    (dt.date(2023, 1, 31), (12, "months"), dt.date(2024, 1, 31)),
    (dt.date(2023, 1, 31), (90, "days"), dt.date(2023, 5, 1)),
])
def test_periods_are_calendar_periods(day: dt.date, period: tuple[int, str], end: dt.date) -> None:
    """A period counts calendar years, months or days from the listing date."""
    assert add_period(day, period) == end


def engine_over(tmp_path: Path, measures: Path, *records: object) -> Engine:
    store = SqliteStore(tmp_path / "policy.db")
    store.upsert(records)  # type: ignore[arg-type]
    return Engine(measures=measures, store=store, clock=Clock(FIXED_NOW))


def test_open_ended_record_ends_at_its_confirmed_maximum(tmp_path: Path) -> None:
    """A record without expires_on ends at listed_on + the confirmed maximum; before that it counts."""
    engine = engine_over(tmp_path, measures_with_policy(tmp_path),
                         record("R1", CO, "safety_serious_violator", listed_on=dt.date(2021, 3, 15)))
    assert [h.record_id for h in engine.check(CO, "bidding", at=dt.date(2024, 3, 14)).hits] == ["R1"]
    assert engine.check(CO, "bidding", at=dt.date(2024, 3, 15)).hits == ()


def test_an_explicit_expiry_wins_over_the_maximum(tmp_path: Path) -> None:
    """A record's own expires_on decides its end, even past the list type's maximum."""
    engine = engine_over(tmp_path, measures_with_policy(tmp_path),
                         record("R1", CO, "safety_serious_violator", listed_on=dt.date(2021, 3, 15),
                                expires_on=dt.date(2025, 1, 1)))
    assert [h.record_id for h in engine.check(CO, "bidding", at=dt.date(2024, 6, 1)).hits] == ["R1"]


def test_an_unconfirmed_maximum_never_clears_a_record(tmp_path: Path) -> None:
    """Fail closed: an unverified period does not end a record (the 2017 market record still counts)."""
    engine = engine_over(tmp_path, measures_with_policy(tmp_path, "unconfirmed"),
                         record("R1", CO, "market_serious_violator", listed_on=dt.date(2017, 5, 1)))
    assert [h.record_id for h in engine.check(CO, "government_procurement", at=dt.date(2040, 1, 1)).hits] == ["R1"]
    confirmed = engine_over(tmp_path / "c", measures_with_policy(tmp_path / "c", "confirmed"),
                            record("R1", CO, "market_serious_violator", listed_on=dt.date(2017, 5, 1)))
    assert confirmed.check(CO, "government_procurement", at=dt.date(2040, 1, 1)).hits == ()


def test_lists_without_a_policy_file_keep_open_ended_records(tmp_path: Path) -> None:
    """--measures without list_types.yaml: no maximum, so an open-ended record counts as before."""
    engine = engine_over(tmp_path, FIXTURE, record("R1", CO, "safety_serious_violator",
                                                   listed_on=dt.date(2010, 1, 1)))
    assert [h.record_id for h in engine.check(CO, "bidding", at=dt.date(2040, 1, 1)).hits] == ["R1"]


def test_the_policy_is_part_of_the_revision(tmp_path: Path) -> None:
    """Changing a period changes the revision every result records."""
    folder = measures_with_policy(tmp_path)
    before = Engine(measures=folder, store=SqliteStore(tmp_path / "a.db"), cases=False).revision
    text = (folder / POLICY_FILE).read_text(encoding="utf-8").replace("maximum_period: 3 years", "maximum_period: 4 years")
    (folder / POLICY_FILE).write_text(text, encoding="utf-8")
    assert Engine(measures=folder, store=SqliteStore(tmp_path / "b.db"), cases=False).revision != before
