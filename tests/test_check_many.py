"""check_many (set-based: every subject validated, one store query for all that may be listed) gives
exactly what check gives subject by subject; a clear answer built on the fast path is the validated one."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joint_sanctions import CheckError, CheckResult, Engine, Subject
from joint_sanctions._check import compile_paths
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.testing import Clock, SequentialIds

from .conftest import FIXED_NOW, numbered_uscc, record, resident_id

FIXTURE = Path(__file__).parent / "fixtures" / "measures"
CO, CO2, CO3, GOV = "91410100MA0000015B", "91350100M000100Y43", numbered_uscc(7), "124101064100000117"
SHOP = numbered_uscc(8, prefix="92410100MA")   # an individual business (92…)
PERSON, PERSON2, PERSON3 = "410102199003071230", resident_id(3), resident_id(4)
EXPIRED = numbered_uscc(9)                     # listed once: in the membership set, no active record

#: Bare ids, mappings with related parties (listed or not), Subject objects, a pydantic-judged
#: mapping, a normalised spelling, and invalid ids, as hosts send them.
SUBJECTS: list[Any] = [
    CO, CO2, CO3, GOV, SHOP, PERSON, PERSON2, EXPIRED, CO.lower(), f" {CO2} ",
    {"id": CO2, "name": "某公司", "related_parties": [{"role": "legal_representative", "id": PERSON, "name": "张三"}]},
    {"id": CO3, "related_parties": [{"role": "legal_representative", "id": PERSON2}]},
    {"id": CO, "name": "王某某（身份证410102199003071230）", "subject_type": "legal_person"},
    {"id": GOV, "related_parties": [{"role": "principal", "id": PERSON3, "name": "李四"}]},
    {"id": CO3, "related_parties": [{"role": "shareholder", "id": PERSON}]},
    {"id": CO2, "related_parties": [{"role": "legal_representative", "id": PERSON3, "name": 5}]},
    Subject.model_validate({"id": CO3, "related_parties": [{"role": "legal_representative", "id": PERSON3}]}),
    Subject(id=PERSON2, name="赵六"),
]
INVALID: list[Any] = ["123", "91410100MA0000015C", {"id": CO, "related_parties": [{"role": "x", "id": "1"}]},
                      {"name": "no id"}, 42]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    """One SQLite file: a listed company, listed persons (one only as a related party), an expired record."""
    store = SqliteStore(tmp_path_factory.mktemp("many") / "records.db")
    store.upsert([record("R1", CO), record("R2", CO, "market_serious_violator"), record("R3", PERSON),
                  record("R4", PERSON3, "major_tax_violator"), record("R5", CO3, "tax_credit_a"),
                  record("R6", EXPIRED, expires_on=dt.date(2024, 6, 1))])
    return store


def _engine(store: SqliteStore, rules: str) -> Engine:
    return Engine(measures=compile_paths(FIXTURE), store=store, rules=rules, cases=False,
                  clock=Clock(FIXED_NOW), new_id=SequentialIds("chk-"))


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except CheckError as exc:
        return ("error", exc.code, str(exc))


@pytest.mark.parametrize("rules", ["reference", "durable"])
@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.sampled_from(SUBJECTS + INVALID[:2]), max_size=12),
       matter=st.sampled_from(["government_procurement", "bidding", "fiscal_funds", "honors"]),
       amount=st.sampled_from([None, 999_999, 2_000_000]), at=st.sampled_from([None, dt.date(2024, 3, 1)]))
def test_check_many_equals_check_subject_by_subject(store: SqliteStore, rules: str, picks: list[Any], matter: str,
                                                    amount: int | None, at: dt.date | None) -> None:
    """Over mixed inputs (listed, unlisted, related parties, duplicates, invalid ids) check_many returns,
    in input order, results equal to check's one by one (check ids included), or the same error as
    check gives for the first invalid subject, before answering any."""
    one, many = _engine(store, rules), _engine(store, rules)
    kw: dict[str, Any] = {"amount": amount, "at": at, "open_case": False}
    singles = [_outcome(functools.partial(one.check, s, matter, **kw)) for s in picks]
    first_error = next((o for o in singles if isinstance(o, tuple)), None)
    got = _outcome(lambda: many.check_many(picks, matter, **kw))
    if first_error is not None:
        assert got == first_error
        assert many._new_id() == "chk-0"  # refused before any subject was answered
    else:
        assert got == singles
        assert [r.to_json() for r in got] == [r.to_json() for r in singles]


@pytest.mark.parametrize("bad", INVALID)
def test_check_many_refuses_an_invalid_subject_as_check_does(store: SqliteStore, bad: Any) -> None:
    """An invalid subject anywhere in the batch gets check's typed error, resident ids masked."""
    engine = _engine(store, "reference")
    with pytest.raises(CheckError) as single:
        engine.check(bad, "bidding")
    with pytest.raises(CheckError) as batch:
        engine.check_many([CO, PERSON, bad, CO2], "bidding")
    assert (batch.value.code, str(batch.value)) == (single.value.code, str(single.value))


def test_check_many_opens_a_case_for_each_current_hit(store: SqliteStore) -> None:
    """A current check_many opens (or finds open) a case for each result with measures, as check does, and
    none for a clear one."""
    engine = Engine(measures=compile_paths(FIXTURE), store=store, clock=Clock(FIXED_NOW),
                    new_id=SequentialIds("chk-"))
    results = engine.check_many([CO, CO2, CO, PERSON2], "government_procurement")
    assert [r.case_id is not None for r in results] == [True, False, True, False]
    assert results[2].case_id == results[0].case_id == engine.check(CO, "government_procurement").case_id


@pytest.mark.parametrize("subject", [CO2, GOV, SHOP, PERSON2, f" {CO2.lower()} ",
                                     {"id": CO2, "name": "王某某 410102199003071230"},
                                     {"id": GOV, "subject_type": "unincorporated_org"}])
@pytest.mark.parametrize("at", [None, dt.date(2025, 1, 1)])
def test_clear_result_is_the_validated_result(store: SqliteStore, subject: Any, at: dt.date | None) -> None:
    """A clear answer built on the fast path (no validation) equals the CheckResult pydantic validates
    from the same data, field by field, and its to_json() is byte-identical, with the wall clock too."""
    engine = Engine(measures=compile_paths(FIXTURE), store=store, cases=False)
    for result in (engine.check(subject, "bidding", at=at), *engine.check_many([subject], "bidding", at=at)):
        assert type(result) is CheckResult and result.decision == "clear"
        validated = CheckResult.model_validate(result.model_dump())
        assert validated == result
        assert validated.to_json().encode() == result.to_json().encode()
        assert validated.to_dict() == result.to_dict() == json.loads(result.to_json())
        assert PERSON not in result.to_json()
        assert result.checked_at.tzinfo is not None and abs(
            result.checked_at - dt.datetime.now(dt.UTC)).total_seconds() < 3600 or at is not None
