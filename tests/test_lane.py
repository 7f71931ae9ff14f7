"""The check lane (joint_sanctions/_lane.c): Engine.check's commonest call answered in C gives exactly
the answer of check as written in Python (its twin, ``__wrapped__``), answers only when it may, and
leaves every other call to that path. Runs in both modes: with JOINT_SANCTIONS_PURE_PYTHON=1 the
lane is built but does not serve, and these tests wrap check in it as the library would."""

from __future__ import annotations

import datetime as dt
import gc
import inspect
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joint_sanctions import CheckError, Engine, Matter, Subject, _accel, case_book_for
from joint_sanctions import _check as check_module
from joint_sanctions._conditions import AMOUNT_MAX
from joint_sanctions._inputs import _parse_id
from joint_sanctions._models import fields_set
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.vocabulary import RELATED_PARTY_ROLES, SUBJECT_TYPES

from .conftest import numbered_uscc, record, resident_id
from .test_accel import _compiled_module

LISTED = numbered_uscc(1)
UNLISTED = numbered_uscc(2)
PERSON = resident_id(7)


@pytest.fixture(scope="module")
def lane() -> Any:
    """Engine.check with the lane: the class's own where it serves, else the built one set up as _check
    sets it up."""
    if _accel.COMPILED:
        assert type(Engine.check).__name__ == "CheckLane"
        return Engine.check
    built = _compiled_module()
    built.setup_lane(check_globals=vars(check_module), fromtimestamp=check_module._from_timestamp,
                     utc=check_module._UTC, matter=Matter, matter_fields=fields_set(Matter), amount_max=AMOUNT_MAX,
                     perf_counter=time.perf_counter, parse_id=_parse_id,
                     subject_types=frozenset(SUBJECT_TYPES) - {"region"}, roles=frozenset(RELATED_PARTY_ROLES))
    return built.CheckLane(Engine.check)


@pytest.fixture
def engine(tmp_path: Path, shipped: Any) -> Iterator[Engine]:
    """An engine at the current time (the lane's case) over a SQLite file: one subject listed."""
    store = SqliteStore(tmp_path / "records.db")
    store.upsert([record("R1", LISTED), record("R2", PERSON)])
    with Engine(measures=shipped, store=store, clock=None, refresh_interval=3600) as engine:
        yield engine


def _as_answered(call: Callable[[], Any]) -> Any:
    """A check's answer without what differs between two checks (its id and time): the JSON of its
    result, or the error it raised."""
    try:
        result = call()
    except CheckError as exc:
        return ("error", exc.code, str(exc))
    return result.model_dump(mode="json", exclude={"check_id", "checked_at"})


def _twin(engine: Engine, *args: Any, **kw: Any) -> Any:
    return _as_answered(lambda: Engine.check.__wrapped__(engine, *args, **kw)
                        if hasattr(Engine.check, "__wrapped__") else Engine.check(engine, *args, **kw))


def test_check_is_the_lane_around_check_as_written(lane: Any) -> None:
    """Engine.check reads as the method it wraps (name, docs, signature); called on an instance, on the
    class and kept as a bound method (which keeps its engine alive), it checks alike."""
    assert lane.__name__ == "check" and lane.__qualname__ == "Engine.check"
    assert lane.__module__ == "joint_sanctions._check" and "Check one subject" in (lane.__doc__ or "")
    assert list(inspect.signature(lane).parameters)[:3] == ["self", "subject", "matter"]
    assert lane.__wrapped__.__qualname__ == "Engine.check"


def test_the_lane_answers_a_clear_bare_uscc_as_the_twin_does(engine: Engine, lane: Any) -> None:
    """A bare upper-case USCC no one is listed under, or a plain mapping whose id is one (a name, a subject
    type, related parties of any id kind, none listed), with no amount, an amount (float or int) or the
    keywords that do not change a clear answer, is answered by the lane, as check as written answers it."""
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((UNLISTED, "bidding"), {}),
        ((UNLISTED, "bidding"), {"amount": 12.5}),
        ((UNLISTED, "bidding"), {"amount": 3}),
        ((UNLISTED, "bidding"), {"amount": 0}),
        ((UNLISTED, "bidding"), {"amount": AMOUNT_MAX}),
        ((UNLISTED, "government_procurement"), {"open_case": True, "caller": "hall", "at": None}),
        ((numbered_uscc(3, prefix="11410100MA"), "special_bond"), {}),  # a government body
        ((numbered_uscc(4, prefix="92410100MA"), "honors"), {"amount": 1.0}),  # an individual business
        (({"id": UNLISTED}, "bidding"), {}),
        (({"id": UNLISTED, "name": "某某公司（王某某 410102199001011234）", "subject_type": "unincorporated_org",
           "related_parties": [{"role": "legal_representative", "id": resident_id(8), "name": "王某某"},
                               {"role": "shareholder", "id": numbered_uscc(6).lower()}]}, "bidding"), {"amount": 9}),
        (({"id": UNLISTED, "name": "", "subject_type": None, "related_parties": None}, "honors"), {}),
        (({"id": UNLISTED, "related_parties": ()}, "honors"), {}),
    ]
    for args, kw in calls:
        _twin(engine, *args, **kw)  # the matter is resolved once, as before any lane answer
        before = lane.answered
        got = _as_answered(lambda: lane(engine, *args, **kw))  # noqa: B023
        assert lane.answered == before + 1, (args, kw)
        assert got == _twin(engine, *args, **kw) and got["decision"] == "clear"


def test_the_lane_leaves_every_other_call_to_check_as_written(engine: Engine, lane: Any, tmp_path: Path) -> None:
    """Whatever the lane cannot answer exactly, check as written answers: a listed subject, another kind of
    id or subject, an amount outside the rules' range or of another type, another keyword, a check in the
    past, an unknown matter; and the answer is that path's."""
    _twin(engine, UNLISTED, "bidding")
    left: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((LISTED, "bidding"), {}),
        ((PERSON, "bidding"), {}),
        ((UNLISTED.lower(), "bidding"), {}),
        ((UNLISTED[:17] + ("0" if UNLISTED[17] != "0" else "1"), "bidding"), {}),
        ((Subject(id=UNLISTED), "bidding"), {}),
        (({"id": UNLISTED.lower()}, "bidding"), {}),
        (({"id": LISTED, "name": "x"}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": [{"role": "legal_representative", "id": PERSON}]}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": [{"role": "legal_representative", "id": "12345"}]}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": [{"role": "nobody", "id": UNLISTED}]}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": [{"id": UNLISTED}]}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": [{"role": "shareholder", "id": UNLISTED, "x": 1}]}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": [{"role": "shareholder", "id": UNLISTED, "name": None}]}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": iter([])}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": "x"}, "bidding"), {}),
        (({"id": UNLISTED, "related_parties": [{"role": "shareholder", "id": numbered_uscc(n)} for n in range(10, 15)]},
          "bidding"), {}),
        (({"id": UNLISTED, "subject_type": "region"}, "bidding"), {}),
        (({"id": UNLISTED, "subject_type": "nonsense"}, "bidding"), {}),
        (({"id": UNLISTED, "name": "a\x00b"}, "bidding"), {}),
        (({"id": UNLISTED, "name": 5}, "bidding"), {}),
        (({"id": UNLISTED, "other": 1}, "bidding"), {}),
        (({"id": UNLISTED, 1: 1}, "bidding"), {}),
        (({"name": "x"}, "bidding"), {}),
        ((UNLISTED, Matter(matter_type="bidding")), {}),
        ((UNLISTED, "bidding"), {"amount": -1.0}),
        ((UNLISTED, "bidding"), {"amount": float("nan")}),
        ((UNLISTED, "bidding"), {"amount": AMOUNT_MAX * 2}),
        ((UNLISTED, "bidding"), {"amount": 10**400}),
        ((UNLISTED, "bidding"), {"amount": True}),
        ((UNLISTED, "bidding"), {"amount": "12"}),
        ((UNLISTED, "bidding"), {"amount": None}),
        ((UNLISTED, "bidding"), {"item_code": "X-1"}),
        ((UNLISTED, "bidding"), {"at": dt.date(2025, 1, 1)}),
        ((UNLISTED, "no_such_matter"), {}),
    ]
    for args, kw in left:
        before = lane.answered
        got = _as_answered(lambda: lane(engine, *args, **kw))  # noqa: B023
        assert lane.answered == before, (args, kw)
        assert got == _twin(engine, *args, **kw), (args, kw)


def test_the_lane_leaves_an_engine_with_a_clock_or_an_age_limit_or_no_data(tmp_path: Path, shipped: Any,
                                                                          lane: Any) -> None:
    """An injected clock, a max_data_age or a store that never got a record: check as written decides (the
    last refuses: no_data)."""
    fixed = dt.datetime(2025, 6, 1, 9, tzinfo=dt.UTC)
    stores = [SqliteStore(tmp_path / f"{n}.db") for n in range(3)]
    for store in stores[:2]:
        store.upsert([record("R1", LISTED)])
    engines = [Engine(measures=shipped, store=stores[0], clock=lambda: fixed),
               Engine(measures=shipped, store=stores[1], clock=None, max_data_age=dt.timedelta(days=3650)),
               Engine(measures=shipped, store=stores[2], clock=None)]
    for engine in engines:
        with engine:
            for _ in range(2):
                before = lane.answered
                got = _as_answered(lambda: lane(engine, UNLISTED, "bidding"))  # noqa: B023
                assert lane.answered == before and got == _twin(engine, UNLISTED, "bidding")
    assert got == ("error", "no_data", got[2])


def test_a_write_is_seen_before_the_lane_answers_again(engine: Engine, lane: Any) -> None:
    """The process's own write makes a refresh due: the lane leaves that check to check as written, which
    refreshes and so finds the newly listed subject; the next clear check is the lane's again."""
    lane(engine, UNLISTED, "bidding")
    engine.store.upsert([record("R9", UNLISTED)])
    before = lane.answered
    hit = lane(engine, UNLISTED, "bidding")
    assert lane.answered == before and hit.decision != "clear" and [h.record_id for h in hit.hits] == ["R9"]
    assert lane(engine, numbered_uscc(5), "bidding").decision == "clear" and lane.answered == before + 1


def test_the_lane_follows_the_engine_whatever_changed_since_its_last_answer(tmp_path: Path, shipped: Any,
                                                                          lane: Any) -> None:
    """The lane keeps what it read of an engine while the engine's and its listed subjects' dicts are
    unchanged: two engines checked in turn each answer from their own store; a refresh's new data_as_of
    shows in the next answer; a clock or an age limit set on an engine after lane answers sends the next
    check to check as written."""
    stores = [SqliteStore(tmp_path / f"{n}.db") for n in range(2)]
    stores[0].upsert([record("R1", LISTED)])
    stores[1].upsert([record("R2", UNLISTED)])
    with Engine(measures=shipped, store=stores[0], clock=None, refresh_interval=3600) as one, \
            Engine(measures=shipped, store=stores[1], clock=None, refresh_interval=3600) as two:
        for engine in (one, two):
            lane(engine, UNLISTED, "bidding")  # the first check of a matter resolves it: check as written
        for _ in range(3):
            before = lane.answered
            assert lane(one, UNLISTED, "bidding").decision == "clear" and lane.answered == before + 1
            assert lane(two, UNLISTED, "bidding").decision != "clear" and lane.answered == before + 1
            assert lane(two, LISTED, "bidding").decision == "clear" and lane.answered == before + 2
        as_of = lane(one, UNLISTED, "bidding").data_as_of
        stores[0].upsert([record("R3", numbered_uscc(9), list_type="wage_arrears")])
        lane(one, numbered_uscc(9), "bidding")  # refreshes (check as written)
        after = lane(one, UNLISTED, "bidding").data_as_of
        assert after != as_of and after == one._listed.data_as_of and "wage_arrears" in after
        for name, value in (("_max_age", dt.timedelta(days=3650)), ("_clock", lambda: dt.datetime.now(dt.UTC))):
            lane(one, UNLISTED, "bidding")
            setattr(one, name, value)
            before = lane.answered
            assert lane(one, UNLISTED, "bidding").decision == "clear" and lane.answered == before
            setattr(one, name, None)


def test_a_poll_due_is_left_to_check_as_written(engine: Engine, lane: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the poll for other processes' writes is due, the lane leaves the check to the path that polls."""
    lane(engine, UNLISTED, "bidding")
    monkeypatch.setattr(check_module, "_monotonic", lambda: engine._listed.next_poll + 1)
    before = lane.answered
    assert lane(engine, UNLISTED, "bidding").decision == "clear" and lane.answered == before


def test_the_wall_clock_is_read_once_per_check_and_a_new_day_computed(engine: Engine, lane: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check reads the wall clock once, whichever path answers, and carries that time; a check just
    after midnight (China Standard Time) starts a new check day, in the lane as in check as written."""
    cst_midnight = dt.datetime(2026, 12, 2, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()
    ticks = iter([cst_midnight - 0.5, cst_midnight - 0.25, cst_midnight + 0.000001, cst_midnight + 1.5])
    read: list[float] = []

    def tick() -> float:
        read.append(next(ticks))
        return read[-1]

    monkeypatch.setattr(check_module, "_wall_clock", tick)
    got = [lane(engine, UNLISTED, "bidding").checked_at, lane(engine, LISTED, "bidding").checked_at,
           lane(engine, UNLISTED, "bidding").checked_at, lane(engine, UNLISTED, "bidding", amount=2).checked_at]
    assert got == [dt.datetime.fromtimestamp(t, dt.UTC) for t in read] and len(read) == 4
    assert engine._day[2] == dt.date(2026, 12, 2) and engine._day[0] == cst_midnight


@pytest.mark.parametrize("host_ids", [False, True])
def test_a_lane_check_writes_its_check_event(tmp_path: Path, shipped: Any, lane: Any, host_ids: bool) -> None:
    """With check events on, a check the lane answers logs one event with what check as written logs, key
    for key in the same order (a bare id and a mapping; the engine's own check ids or a host's)."""
    store = SqliteStore(tmp_path / "records.db")
    store.upsert([record("R1", LISTED)])
    kw: dict[str, Any] = {"new_id": iter(f"host-{n}" for n in range(99)).__next__} if host_ids else {}
    twin = Engine.check.__wrapped__ if hasattr(Engine.check, "__wrapped__") else Engine.check
    with Engine(measures=shipped, store=store, clock=None, **kw) as engine:
        lane(engine, UNLISTED, "bidding")
        for subject in (UNLISTED, {"id": UNLISTED, "related_parties": [{"role": "shareholder", "id": PERSON}]}):
            with structlog.testing.capture_logs() as events:
                engine._bind_log()
                engine._log_checks = True
                before = lane.answered
                lane(engine, subject, "bidding", amount=5)
                assert lane.answered == before + 1
                twin(engine, subject, "bidding", amount=5)
            fast, slow = (e for e in events if e["event"] == "check")
            assert list(fast) == list(slow) and fast["check_id"].startswith("host-" if host_ids else "")
            for event in (fast, slow):
                event.pop("check_id"), event.pop("duration_ms")
            assert fast == slow and fast["decision"] == "clear" and fast["subject"] == UNLISTED


def test_a_listed_bare_uscc_goes_straight_to_the_store_lookup(tmp_path: Path, shipped: Any, lane: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare USCC someone is listed under is handed to the engine's lookup as check as written hands it
    (not counted as answered in C): the same measures and hits, one case opened and then found again, with
    the caller; none with open_case=False; with check events on, the event names the measures; a
    CheckError of the lookup is the same error either way."""
    store = SqliteStore(tmp_path / "records.db")
    store.upsert([record("R1", LISTED)])
    twin = Engine.check.__wrapped__ if hasattr(Engine.check, "__wrapped__") else Engine.check
    with Engine(measures=shipped, store=store, clock=None) as engine:
        lane(engine, UNLISTED, "bidding")
        before = lane.answered
        quiet = lane(engine, LISTED, "bidding", open_case=False, amount=5)
        assert quiet.measures and quiet.case_id is None and lane.answered == before
        assert _as_answered(lambda: lane(engine, LISTED, "bidding", open_case=False, amount=5)) == _twin(
            engine, LISTED, "bidding", open_case=False, amount=5)
        opened = lane(engine, LISTED, "bidding", caller="portal")
        assert opened.case_id is not None and lane.answered == before
        assert _as_answered(lambda: lane(engine, LISTED, "bidding")) == _twin(engine, LISTED, "bidding")
        assert case_book_for(store).get(opened.case_id).caller == "portal"
        with structlog.testing.capture_logs() as events:
            engine._bind_log()
            engine._log_checks = True
            lane(engine, LISTED, "bidding", open_case=False)
            twin(engine, LISTED, "bidding", open_case=False)
        fast, slow = (e for e in events if e["event"] == "check")
        for event in (fast, slow):
            event.pop("check_id"), event.pop("duration_ms")
        assert fast == slow and fast["measure_ids"] == [m.measure_id for m in quiet.measures]
        engine._log_checks = False

        def refuse(*_: Any) -> Any:
            raise CheckError("stale_data", "refused in the lookup")

        monkeypatch.setattr(engine, "_lookup", refuse)
        assert _as_answered(lambda: lane(engine, LISTED, "bidding")) == _twin(engine, LISTED, "bidding") == (
            "error", "stale_data", "refused in the lookup")


def test_an_error_of_the_id_maker_reaches_the_caller(tmp_path: Path, shipped: Any, lane: Any) -> None:
    """A host's id maker that fails makes the lane raise its error, as check as written does."""
    store = SqliteStore(tmp_path / "records.db")
    store.upsert([record("R1", LISTED)])
    calls = iter(range(10))

    def new_id() -> str:
        if next(calls) >= 1:
            raise RuntimeError("ids exhausted")
        return "first"

    with Engine(measures=shipped, store=store, clock=None, new_id=new_id) as engine:
        assert lane(engine, UNLISTED, "bidding").check_id == "first"
        with pytest.raises(RuntimeError, match="ids exhausted"):
            lane(engine, UNLISTED, "bidding")


def test_lane_checks_hold_no_memory(engine: Engine, lane: Any) -> None:
    """Twenty thousand lane answers, dropped, leave nothing behind (no reference kept in C)."""
    ids = [numbered_uscc(n) for n in range(100, 20_100)]
    lane(engine, ids[0], "bidding")
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        answered = lane.answered
        for i, subject in enumerate(ids):
            lane(engine, subject, "bidding", amount=float(i))
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert lane.answered == answered + len(ids) and grown < 64 * 1024


_MATTERS = st.sampled_from(["bidding", "government_procurement", "special_bond", "fiscal_funds", "no_such"])
_AMOUNTS = st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-5, 10**16), st.sampled_from(
    [0, 0.0, -0.0, AMOUNT_MAX, AMOUNT_MAX + 1, 1e15 - 0.5, 10**15, 10**15 + 1, True, "5"]))


_IDS = st.one_of(st.sampled_from([LISTED, UNLISTED, PERSON, UNLISTED.lower(), "", resident_id(9)]),
                st.integers(0, 9_999_999).map(numbered_uscc), st.text(max_size=20))
_TEXTS = st.one_of(st.sampled_from(["", "王某某", "a\x00b", f"某公司 {PERSON}"]), st.text(max_size=8), st.none(),
                   st.integers(0, 3))
_PARTIES = st.lists(st.dictionaries(st.sampled_from(["role", "id", "name", "x"]), st.one_of(
    _IDS, _TEXTS, st.sampled_from(["legal_representative", "shareholder", "principal", "nobody"]))), max_size=5)
_MAPPINGS = st.dictionaries(st.sampled_from(["id", "name", "subject_type", "related_parties", "other"]), st.one_of(
    _IDS, _TEXTS, st.sampled_from(["legal_person", "natural_person", "region", "nonsense"]), _PARTIES,
    _PARTIES.map(tuple)))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=st.one_of(_IDS, _MAPPINGS, _MAPPINGS.map(lambda m: {**m, "id": UNLISTED}),
                         _PARTIES.map(lambda ps: {"id": UNLISTED, "related_parties": ps})),
       matter=_MATTERS, amount=st.one_of(st.just("absent"), _AMOUNTS),
       more=st.sampled_from([{}, {"open_case": False}, {"caller": "x"}, {"item_code": "A"}, {"at": None}]))
def test_the_lane_and_the_twin_agree_on_any_call(engine: Engine, lane: Any, subject: Any, matter: str,
                                                 amount: Any, more: dict[str, Any]) -> None:
    """On generated subjects (bare ids listed, unlisted, of other kinds, mutated, random text; mappings of
    every shape, with related parties), matters (one unknown) and amounts (on and next to the rules'
    bounds, of other types), the lane's check and check as written give the same answer or error."""
    kw = dict(more) if amount == "absent" else {**more, "amount": amount}
    assert _as_answered(lambda: lane(engine, subject, matter, **kw)) == _twin(engine, subject, matter, **kw)


def test_a_bound_check_keeps_its_engine(tmp_path: Path, shipped: Any) -> None:
    """``Engine(...).check`` kept alone (as a host hands it to an executor) keeps its engine alive."""
    store = SqliteStore(tmp_path / "records.db")
    store.upsert([record("R1", LISTED)])
    bound = Engine(measures=shipped, store=store, clock=None).check
    gc.collect()
    assert bound(UNLISTED, "bidding").decision == "clear" and bound(UNLISTED, "bidding").decision == "clear"


@settings(max_examples=3000, deadline=None)
@given(t=st.one_of(st.floats(0, 4e9), st.floats(0, 2.6e11), st.integers(0, 4_000_000_000).map(
    lambda n: n + st_fractions[n % len(st_fractions)]), st.sampled_from([0.0, -1.0, 2.6e11, float("nan"), 1, 2**40])))
def test_the_lanes_check_time_is_fromtimestamps(lane: Any, t: float) -> None:
    """The lane's check time is datetime.fromtimestamp(t, UTC) to the microsecond (half a microsecond
    rounded to even, a fraction rounding up to the next second), or the same error."""
    del lane  # set up
    speedups = _accel.BUILT
    assert speedups is not None
    try:
        want: Any = dt.datetime.fromtimestamp(t, dt.UTC)
    except (ValueError, OverflowError, OSError) as exc:
        want = type(exc)
    try:
        got: Any = speedups.utc(t)
    except (ValueError, OverflowError, OSError) as exc:
        got = type(exc)
    assert got == want and (isinstance(got, type) or got.tzinfo is dt.UTC)


#: Fractions of a second on and next to the rounding points of microseconds.
st_fractions = [0.0, 0.5e-6, 1.5e-6, 2.5e-6, 0.9999995, 0.9999994, 0.9999996, 0.4999995, 0.1234565, 0.999999]
