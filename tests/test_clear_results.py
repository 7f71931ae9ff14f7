"""The lean ``clear`` result of the no-hit path: the same model, fields and JSON as a validated one, each
result its own object, and ``checked_at`` the check's own time."""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joint_sanctions import CheckResult, Engine, Subject
from joint_sanctions import _check as check_module
from joint_sanctions._check import compile_paths
from joint_sanctions._inputs import matter_of

from .conftest import numbered_uscc, record, resident_id

PERSON = resident_id(11)
LISTED = numbered_uscc(900)

#: (what the host passes, the subject as the result shows it: id, id_kind, name, subject_type)
SUBJECTS: list[tuple[Any, tuple[str, str, str, str]]] = [
    (numbered_uscc(1), (numbered_uscc(1), "uscc", "", "legal_person")),
    (numbered_uscc(2).lower(), (numbered_uscc(2), "uscc", "", "legal_person")),
    (numbered_uscc(3, "12410100MA"), (numbered_uscc(3, "12410100MA"), "uscc", "", "government_body")),
    (numbered_uscc(4, "92410100MA"), (numbered_uscc(4, "92410100MA"), "uscc", "", "individual_business")),
    (PERSON, (PERSON[:4] + "*" * 10 + PERSON[-4:], "resident_id", "", "natural_person")),
    ({"id": PERSON, "name": f"王某（{PERSON}）"},
     (PERSON[:4] + "*" * 10 + PERSON[-4:], "resident_id", f"王某（{PERSON[:4]}{'*' * 10}{PERSON[-4:]}）",
      "natural_person")),
    ({"id": PERSON, "subject_type": "individual_business"},
     (PERSON[:4] + "*" * 10 + PERSON[-4:], "resident_id", "", "individual_business")),
    ({"id": numbered_uscc(5), "name": "某公司", "related_parties": [{"role": "legal_representative", "id": PERSON}]},
     (numbered_uscc(5), "uscc", "某公司", "legal_person")),
    (Subject(id=numbered_uscc(6), name="某机构", subject_type="unincorporated_org"),
     (numbered_uscc(6), "uscc", "某机构", "unincorporated_org")),
    ({"id": numbered_uscc(7), "name": 7},  # not plain: pydantic judges it (and refuses a number as a name)
     ("", "", "", "")),
]


def _fields(result: CheckResult) -> dict[str, Any]:
    return {name: getattr(result, name) for name in CheckResult.model_fields}


@pytest.mark.parametrize(("subject", "shown"), SUBJECTS[:-1])
@pytest.mark.parametrize("amount", [None, 1_500_000.0])
def test_a_clear_result_equals_the_validated_one_field_by_field(make_engine: Callable[..., Engine], subject: Any,
                                                               shown: tuple[str, str, str, str],
                                                               amount: float | None) -> None:
    """For every kind of subject a host passes, the clear result built without validation is, field by
    field, the model pydantic validates from its own dump and from its JSON, and shows the subject as
    docs/check-result.md says (resident ids masked, the type inferred from the id)."""
    engine = make_engine([record("R1", LISTED)])
    kw = {} if amount is None else {"amount": amount}
    result = engine.check(subject, "government_procurement", **kw)
    assert type(result) is CheckResult and result.decision == "clear"
    assert (result.subject.id, result.subject.id_kind, result.subject.name, result.subject.subject_type) == shown
    for again in (CheckResult.model_validate(result.model_dump()), CheckResult.model_validate_json(result.model_dump_json())):
        assert _fields(again) == _fields(result)
        assert again == result
        assert again.model_dump_json() == result.model_dump_json()
        assert again.to_json() == result.to_json() and again.to_dict() == result.to_dict()
    assert result.model_fields_set == set(CheckResult.model_fields)
    assert result.subject.model_fields_set == set(type(result.subject).model_fields)
    assert pickle.loads(pickle.dumps(result)) == result


def test_check_many_gives_the_same_clear_results_as_check(make_engine: Callable[..., Engine]) -> None:
    """check_many's clear results equal check's, field by field but for the check id."""
    engine = make_engine([record("R1", LISTED)])
    subjects = [s for s, _ in SUBJECTS[:-1]]
    many = engine.check_many(subjects, "bidding", amount=10.0)
    for subject, got in zip(subjects, many, strict=True):
        one = engine.check(subject, "bidding", amount=10.0)
        assert {**_fields(got), "check_id": ""} == {**_fields(one), "check_id": ""}


def test_a_subject_pydantic_refuses_is_still_refused(make_engine: Callable[..., Engine]) -> None:
    """A mapping that is not plain goes through validation: a number as a name is an invalid subject."""
    from joint_sanctions import CheckError

    with pytest.raises(CheckError) as caught:
        make_engine([record("R1", LISTED)]).check(SUBJECTS[-1][0], "bidding")
    assert caught.value.code == "invalid_subject"


def test_two_clear_results_are_independent_objects(make_engine: Callable[..., Engine]) -> None:
    """Two clear results of the same matter share no mutable part: forcing a change into one (its
    fields are frozen; a host would have to force it) changes neither the other nor a later result."""
    engine = make_engine([record("R1", LISTED)])
    one = engine.check(numbered_uscc(1), "bidding")
    two = engine.check(numbered_uscc(1), "bidding")
    before = two.model_dump_json()
    assert one is not two and one.__dict__ is not two.__dict__ and one.subject is not two.subject
    one.__dict__["decision"] = "prohibited"
    one.__dict__["hits"] = ("forced",)
    one.subject.__dict__["id"] = "changed"
    assert two.model_dump_json() == before
    three = engine.check(numbered_uscc(1), "bidding")
    assert (three.decision, three.hits, three.subject.id) == ("clear", (), numbered_uscc(1))
    assert three.check_id not in (one.check_id, two.check_id) and one.check_id != two.check_id


def test_a_clear_result_follows_a_new_revision_and_new_data(make_engine: Callable[..., Engine]) -> None:
    """After the store changes (data_as_of) or the lists reload (revision), clear results show the new
    values, not a template's old ones."""
    engine = make_engine([record("R1", LISTED)], refresh_interval=0.0)
    first = engine.check(numbered_uscc(1), "bidding")
    engine.store.upsert([record("R2", numbered_uscc(901), "wage_arrears")])
    second = engine.check(numbered_uscc(1), "bidding")
    assert second.data_as_of == engine.data_as_of and "wage_arrears" in second.data_as_of
    assert "wage_arrears" not in first.data_as_of
    fixture = compile_paths(Path(__file__).parent / "fixtures" / "measures")
    assert fixture.revision != first.revision
    engine.reload(fixture)
    assert engine.check(numbered_uscc(1), "bidding").revision == fixture.revision


def test_checked_at_is_each_checks_own_time(make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    """With the default clock every clear result carries the time of its own check, to the microsecond,
    in bare-id, mapping and check_many calls alike; an injected clock is read for every check."""
    engine = make_engine([record("R1", LISTED)], clock=None)
    times = iter([1_750_000_000.000001, 1_750_000_000.000002, 1_750_086_399.5, 1_750_086_400.25])
    now: list[float] = []

    def tick() -> float:
        now.append(next(times))
        return now[-1]

    monkeypatch.setattr(check_module, "_wall_clock", tick)
    got = [engine.check(numbered_uscc(1), "bidding").checked_at,
           engine.check({"id": PERSON}, "bidding").checked_at,
           engine.check(numbered_uscc(2), "bidding", amount=5.0).checked_at,
           *(r.checked_at for r in engine.check_many([numbered_uscc(3), PERSON], "bidding"))]
    expected = [dt.datetime.fromtimestamp(t, dt.UTC) for t in now]
    assert got == [*expected[:3], expected[3], expected[3]]
    ticks = iter(dt.datetime(2025, 6, 1, 9, m, tzinfo=dt.UTC) for m in range(3))
    clocked = make_engine([record("R1", LISTED)], clock=lambda: next(ticks))
    assert [clocked.check(numbered_uscc(1), "bidding").checked_at.minute for _ in range(3)] == [0, 1, 2]


@pytest.mark.parametrize("amount", [0, -0.0, 1, 1_500_000, 2.5, 10**15, 1e15, 10**15 + 1, 1e15 * 1.0000001, -1, -0.01,
                                    float("nan"), float("inf"), True, 10**400, "5"])
def test_an_amount_alone_gives_the_validated_matter_or_the_same_error(make_engine: Callable[..., Engine],
                                                                     amount: Any) -> None:
    """An amount, the one keyword a host commonly passes, makes the Matter validation makes (int as
    float), or an error of the same code, on and beyond the limits of docs/check-result.md."""
    from joint_sanctions import CheckError
    from joint_sanctions._check import coerce_matter

    engine = make_engine([record("R1", LISTED)])

    def outcome(build: Callable[[], Any]) -> Any:
        try:
            return build()
        except CheckError as exc:
            return exc.code  # the message may show an int refused as the float it became

    expected = outcome(lambda: coerce_matter("bidding", {"amount": amount}))
    assert outcome(lambda: matter_of(engine._matters, "bidding", {"amount": amount})) == expected
    got = outcome(lambda: engine.check(numbered_uscc(1), "bidding", amount=amount))
    assert (got.matter if isinstance(got, CheckResult) else got) == expected
    if isinstance(got, CheckResult):
        assert got.matter is not None and type(got.matter.amount) is float
