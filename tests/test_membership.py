"""The membership set of listed subjects (joint_sanctions/_membership.c) answers as its twin, a set of
ints, does: for every value a hash can take, across growth, and it serves the engine where compiled."""

from __future__ import annotations

import os
import random
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joint_sanctions import _accel
from joint_sanctions.stores import SqliteStore

from .conftest import numbered_uscc

HASHES = st.integers(min_value=-(2**63), max_value=2**63 - 1)
#: Values a probing table is likeliest to get wrong: its empty-slot mark (0), the extremes, neighbours.
EDGES = [0, 1, -1, 2, -2, 2**63 - 1, -(2**63), 2**62, -(2**62), 2**32, 2**32 - 1, -(2**32)]


def _membership() -> Any:
    built = _accel.BUILT
    if built is None:
        pytest.fail("the compiled helpers are not built: their tests cannot run (see test_accel)")
    return built.Membership


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(st.one_of(HASHES, st.sampled_from(EDGES)), max_size=80), max_size=8),
       probes=st.lists(st.one_of(HASHES, st.sampled_from(EDGES)), max_size=60))
def test_membership_answers_as_a_set_of_ints_does(batches: list[list[int]], probes: list[int]) -> None:
    """After every update (the table grows past 16 slots on the way), `in` and len() agree with a set
    for every member, every probe and the edge values; iteration gives the members."""
    Membership = _membership()
    got, want = Membership(), set()
    for batch in batches:
        got.update(batch)
        want.update(batch)
        assert len(got) == len(want)
        for value in [*want, *probes, *EDGES]:
            assert (value in got) == (value in want), value
    assert sorted(got) == sorted(want)
    assert sorted(Membership(want)) == sorted(want)


def test_a_large_membership_has_no_false_answer_and_takes_under_a_third_of_a_set() -> None:
    """200,000 random members and as many others: every member found, no other one (the filter in front
    may say "maybe", the table decides); its memory is under a third of the set's with its ints."""
    Membership = _membership()
    rng = random.Random(20261202)
    members = [rng.getrandbits(64) - 2**63 for _ in range(200_000)]
    got = Membership()
    for start in range(0, len(members), 7_000):  # grown in steps, as polls add subjects
        got.update(members[start:start + 7_000])
    want = set(members)
    others = [v for v in (rng.getrandbits(64) - 2**63 for _ in range(200_000)) if v not in want]
    assert all(v in got for v in members)
    assert not any(v in got for v in others)
    as_a_set = sys.getsizeof(want) + sum(sys.getsizeof(v) for v in want)
    assert sys.getsizeof(got) * 3 < as_a_set


def test_membership_refuses_what_is_not_a_hash_value_and_keeps_what_it_had() -> None:
    """update() and add() refuse ints beyond 64 bits (OverflowError) and non-ints (TypeError), adding
    nothing of that batch; `in` answers False for them, as a set of such ints would."""
    Membership = _membership()
    got = Membership([5, 7])
    for bad, error in (([1, 2**64], OverflowError), ([3, "a"], TypeError), ([-(2**63) - 1], OverflowError)):
        with pytest.raises(error):
            got.update(bad)
    with pytest.raises(TypeError):
        got.add(1.5)
    with pytest.raises(TypeError):
        got.update(None)
    assert sorted(got) == [5, 7]
    assert 2**64 not in got and "a" not in got and None not in got and 7.0 not in got
    got.add(True)  # a bool is an int, as in a set
    assert 1 in got and len(got) == 3


def test_the_engine_keeps_listed_subjects_in_a_membership_where_compiled(tmp_path: Any) -> None:
    """Where the helpers serve, ListedSubjects holds a Membership (else a set, its twin) with every
    listed subject's hash, and a write is seen on the next check through it."""
    from joint_sanctions import CreditRecord, Engine

    store = SqliteStore(tmp_path / "records.db")
    engine = Engine(store=store, cases=False)
    expected = set if os.environ.get("JOINT_SANCTIONS_PURE_PYTHON") else _membership()
    assert type(engine._listed.hashes) is expected
    subject = numbered_uscc(42)
    assert hash(subject) not in engine._listed.hashes
    store.upsert([CreditRecord(record_id="R-42", list_type="court_defaulter", subject_id=subject,
                               subject_name="某公司", authority="某法院", document_no="（2025）执1号",
                               listed_on="2025-01-01", status="active", reason="失信被执行人")])
    assert engine.check(subject, "bidding").decision != "clear"
    assert hash(subject) in engine._listed.hashes
