"""check(): records, dates, related parties, incentives, decisions, JSON shape, errors and the decision log."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from joint_sanctions import CheckError, Engine, Matter, Subject
from joint_sanctions._check import coerce_matter, coerce_subject, compile_paths
from joint_sanctions._errors import UnreadableRecordError
from joint_sanctions._inputs import matter_of
from joint_sanctions.testing import MemoryStore

from .conftest import Database, assert_masked, record

FIXTURE = Path(__file__).parent / "fixtures" / "measures"
CO = "91410100MA0000015B"      # a company
CO2 = "91350100M000100Y43"
GOV = "124101064100000117"     # a government body (USCC starting with 1)
PERSON = "410102199003071230"  # a natural person
PERSON_MASKED = "4101**********1230"
DAY = dt.date(2025, 6, 1)


@pytest.fixture
def engine_with(make_engine: Callable[..., Engine]) -> Callable[..., Engine]:
    compiled = compile_paths(FIXTURE)
    return lambda *records, **kw: make_engine(records, measures=compiled, **kw)


def ids(result: Any) -> list[str]:
    return [m.measure_id for m in result.measures]


def test_listed_company_is_prohibited_with_legal_basis(engine_with: Callable[..., Engine]) -> None:
    """A court defaulter gets the procurement ban with its cited article and the record that caused it."""
    result = engine_with(record("R1", CO)).check({"id": CO, "name": "某公司"}, "government_procurement", at=DAY)
    assert result.decision == "prohibited"
    assert ids(result) == ["T-GP-BAN"]
    m = result.measures[0]
    assert m.record_ids == ("R1",) and m.basis_status == "confirmed" and m.via_related_party is None
    assert m.legal_basis[0].article == "第七十七条"
    assert [h.record_id for h in result.hits] == ["R1"]


def test_clean_subject_is_clear_and_the_rule_engine_is_not_touched(engine_with: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    """A subject with no active record is clear, and the rule back end is never called."""
    engine = engine_with(record("R1", CO2))
    calls: list[Any] = []
    real = engine._runner.fire
    monkeypatch.setattr(engine._runner, "fire", lambda *a: calls.append(a) or real(*a))
    result = engine.check(CO, "government_procurement", at=DAY)
    assert (result.decision, result.measures, result.hits, calls) == ("clear", (), (), [])


def test_listed_subject_on_a_list_no_measure_covers_has_hits_but_no_rule_run(
        engine_with: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    """Hits show every active record even when no measure applies to this matter; no rule runs then."""
    engine = engine_with(record("R1", CO, "wage_arrears"))
    calls: list[Any] = []
    real = engine._runner.fire
    monkeypatch.setattr(engine._runner, "fire", lambda *a: calls.append(a) or real(*a))
    result = engine.check(CO, "government_procurement", at=DAY)
    assert result.decision == "clear" and [h.record_id for h in result.hits] == ["R1"] and calls == []


@pytest.mark.parametrize(("listed_on", "expires_on", "status", "at", "applies"), [
    (dt.date(2024, 1, 1), None, "active", DAY, True),
    (dt.date(2024, 1, 1), DAY, "active", DAY, False),                       # expires_on is exclusive
    (dt.date(2024, 1, 1), DAY + dt.timedelta(days=1), "active", DAY, True),
    (DAY, None, "active", DAY, True),                                        # listed_on is inclusive
    (DAY + dt.timedelta(days=1), None, "active", DAY, False),                # listed in the future
    (dt.date(2024, 1, 1), None, "repaired", DAY, False),
    (dt.date(2024, 1, 1), None, "removed", DAY, False),
    (dt.date(2024, 1, 1), dt.date(2025, 1, 1), "active", dt.date(2024, 12, 31), True),  # historical check
])
def test_record_activity_at_the_check_time(engine_with: Callable[..., Engine], listed_on: dt.date,
                                           expires_on: dt.date | None, status: str, at: dt.date,
                                           applies: bool) -> None:
    """A record counts only while listed_on ≤ t < expires_on and it is neither repaired nor removed."""
    engine = engine_with(record("R1", CO, listed_on=listed_on, expires_on=expires_on, status=status))
    assert (ids(engine.check(CO, "government_procurement", at=at)) == ["T-GP-BAN"]) is applies


def test_repair_stops_the_measures_at_once(engine_with: Callable[..., Engine]) -> None:
    """After credit repair the same engine no longer applies the measure."""
    engine = engine_with(record("R1", CO))
    assert engine.check(CO, "government_procurement", at=DAY).decision == "prohibited"
    engine.store.repair("R1")
    assert engine.check(CO, "government_procurement", at=DAY).decision == "clear"


def test_measure_validity_dates(engine_with: Callable[..., Engine]) -> None:
    """A measure applies only from valid_from (inclusive) until valid_to (exclusive)."""
    engine = engine_with(record("R1", CO, "safety_serious_violator", listed_on=dt.date(2020, 1, 1)))
    assert ids(engine.check(CO, "bidding", at=dt.date(2023, 9, 30))) == []
    assert ids(engine.check(CO, "bidding", at=dt.date(2023, 10, 1))) == ["T-NEW"]
    assert ids(engine.check(CO, "bidding", at=dt.date(2026, 1, 1))) == []


def test_check_date_is_taken_in_china_standard_time(engine_with: Callable[..., Engine]) -> None:
    """At 17:00 UTC on 30 Sep it is already 1 Oct in China, so the 1 Oct measure applies."""
    engine = engine_with(record("R1", CO, "safety_serious_violator", listed_on=dt.date(2020, 1, 1)))
    late = dt.datetime(2023, 9, 30, 17, 0, tzinfo=dt.UTC)
    assert ids(engine.check(CO, "bidding", at=late)) == ["T-NEW"]


def test_condition_on_the_matter_amount(engine_with: Callable[..., Engine]) -> None:
    """The amount condition applies the measure only to large amounts, never when the amount is unknown."""
    engine = engine_with(record("R1", CO))
    assert ids(engine.check(CO, "fiscal_funds", at=DAY, amount=2_000_000)) == ["T-FUND-BIG"]
    assert ids(engine.check(CO, "fiscal_funds", at=DAY, amount=999_999)) == []
    assert ids(engine.check(CO, "fiscal_funds", at=DAY)) == []


def test_related_party_propagation_masks_the_person(engine_with: Callable[..., Engine]) -> None:
    """A listed legal representative brings the related-party measure to the company, id masked."""
    engine = engine_with(record("R9", PERSON, "court_defaulter"), record("R2", CO, "market_serious_violator"))
    subject = {"id": CO, "name": "某公司",
               "related_parties": [{"role": "legal_representative", "id": PERSON, "name": "张三"}]}
    result = engine.check(subject, "government_procurement", at=DAY)
    assert sorted(ids(result)) == ["T-GP-BAN", "T-GP-REVIEW"]
    ban = next(m for m in result.measures if m.measure_id == "T-GP-BAN")
    assert ban.via_related_party is not None
    assert (ban.via_related_party.role, ban.via_related_party.id) == ("legal_representative", PERSON_MASKED)
    assert {h.record_id for h in result.hits} == {"R2", "R9"}
    assert PERSON not in result.to_json()


def test_related_party_in_a_role_the_measure_does_not_name(engine_with: Callable[..., Engine]) -> None:
    """A listed shareholder does not bring a measure that names only legal representatives."""
    engine = engine_with(record("R9", PERSON))
    subject = {"id": CO, "related_parties": [{"role": "shareholder", "id": PERSON}]}
    result = engine.check(subject, "government_procurement", at=DAY)
    assert (result.decision, result.hits) == ("clear", ())


def test_government_body_dishonesty_bars_honors_only_for_government_bodies(
        engine_with: Callable[..., Engine]) -> None:
    """subject_types: a government body (inferred from its USCC) loses honours; a company does not."""
    engine = engine_with(record("G1", GOV, "government_dishonesty"), record("G2", CO, "government_dishonesty"))
    gov = engine.check(GOV, "honors", at=DAY)
    assert (ids(gov), gov.subject.subject_type) == (["T-HONORS-GOV"], "government_body")
    assert ids(engine.check(CO, "honors", at=DAY)) == []


def test_subject_type_given_beats_records_and_inference(engine_with: Callable[..., Engine]) -> None:
    """The subject type passed in wins; else the stored records' type; else the one inferred from the id."""
    engine = engine_with(record("G2", CO, "government_dishonesty", subject_type="government_body"))
    assert engine.check(CO, "honors", at=DAY).subject.subject_type == "government_body"
    assert engine.check({"id": CO, "subject_type": "legal_person"}, "honors", at=DAY).decision == "clear"


def test_natural_person_for_civil_servant_hiring_is_masked_everywhere(engine_with: Callable[..., Engine]) -> None:
    """A listed person may not be hired; the result, its JSON and the decision log never show the id."""
    engine = engine_with(record("P1", PERSON))
    with structlog.testing.capture_logs() as logs:
        result = engine.check({"id": PERSON, "name": "张三"}, "civil_servant_hiring", at=DAY)
    assert ids(result) == ["T-HIRE"] and result.decision == "prohibited"
    assert result.subject.id == PERSON_MASKED and result.subject.subject_type == "natural_person"
    assert PERSON not in result.to_json() and PERSON not in repr(logs)


def test_incentive_beside_a_punishment_does_not_change_the_decision(engine_with: Callable[..., Engine]) -> None:
    """A red-list incentive is listed beside the punishment and never overrides it."""
    engine = engine_with(record("R1", CO), record("A1", CO, "tax_credit_a", authority="税务局"))
    result = engine.check(CO, "government_procurement", at=DAY)
    assert sorted(ids(result)) == ["T-GP-BAN", "T-GREEN"]
    assert result.decision == "prohibited"
    assert [m.measure_id for m in result.incentives] == ["T-GREEN"]
    assert result.incentives[0].tags == ("green_channel",)


def test_incentive_alone_leaves_the_decision_clear(engine_with: Callable[..., Engine]) -> None:
    """A subject only on a red list is clear, with its incentive measure."""
    result = engine_with(record("A1", CO, "tax_credit_a")).check(CO, "administrative_licensing", at=DAY)
    assert (result.decision, ids(result)) == ("clear", ["T-GREEN"])


def test_decision_review_for_strict_review(engine_with: Callable[..., Engine]) -> None:
    """A strict-review measure alone gives the decision 'review'."""
    result = engine_with(record("M1", CO, "market_serious_violator")).check(CO, "government_procurement", at=DAY)
    assert result.decision == "review"


def test_decision_review_for_a_restriction_whose_basis_is_unconfirmed(engine_with: Callable[..., Engine]) -> None:
    """A restriction whose basis is unconfirmed does not bind: 'review' (the legality guard; tests/test_guard.py)."""
    result = engine_with(record("R1", CO)).check(CO, "fiscal_funds", at=DAY, amount=5e6)
    assert result.decision == "review"


def test_result_json_has_the_contract_keys(engine_with: Callable[..., Engine]) -> None:
    """The JSON of a result carries the keys of design.md §5 with the documented shapes."""
    result = engine_with(record("R1", CO, expires_on=dt.date(2027, 1, 1))).check(
        {"id": CO, "name": "某公司"}, "government_procurement", at=DAY)
    doc = json.loads(result.to_json())
    assert {"check_id", "checked_at", "revision", "subject", "matter_type", "decision", "measures",
            "case_id", "hits"} <= set(doc)
    assert set(doc["subject"]) == {"id", "id_kind", "name", "subject_type"}
    m = doc["measures"][0]
    assert {"measure_id", "name", "kind", "effect", "mandatory", "legal_basis", "basis_status", "binding",
            "record_ids", "via_related_party"} <= set(m)
    assert set(m["legal_basis"][0]) == {"document", "number", "article"}
    assert {"record_id", "list_type", "authority", "document_no", "listed_on", "expires_on"} <= set(doc["hits"][0])
    assert doc["hits"][0]["listed_on"] == "2024-01-01" and doc["hits"][0]["expires_on"] == "2027-01-01"
    assert doc["checked_at"].startswith("2025-06-01") and doc["case_id"] is None
    assert "某公司" in result.to_json()  # Chinese kept readable, not \\u-escaped


@pytest.mark.parametrize("subject", [
    CO, f" {CO.lower()} ", "９１４１０１００ＭＡ０００００１５Ｂ", {"id": CO}, Subject(id=CO)])
def test_subject_forms(engine_with: Callable[..., Engine], subject: Any) -> None:
    """A bare id (any case, full-width), a mapping and a Subject model all check the same subject."""
    assert engine_with(record("R1", CO)).check(subject, "government_procurement", at=DAY).decision == "prohibited"


@pytest.mark.parametrize(("subject", "matter", "code"), [
    (CO, "moon_landing", "unknown_matter_type"),
    (CO, {"item_code": "X"}, "unknown_matter_type"),
    ("91410100MA0000015C", "honors", "invalid_subject"),
    ("410102199003071231", "honors", "invalid_subject"),
    ("", "honors", "invalid_subject"),
    ({"name": "无标识"}, "honors", "invalid_subject"),
    ({"id": CO, "related_parties": [{"role": "legal_representative", "id": "410102199003071231"}]},
     "honors", "invalid_subject"),
    ({"id": CO, "subject_type": "alien"}, "honors", "invalid_subject"),
    # Unhashable or uniterable values in a mapping: refused, not a crash (a TypeError from a set test).
    ({"id": CO, "subject_type": []}, "honors", "invalid_subject"),
    ({"id": CO, "related_parties": [{"role": [], "id": CO}]}, "honors", "invalid_subject"),
    ({"id": CO, "related_parties": 1}, "honors", "invalid_subject"),
])
def test_bad_input_gets_a_typed_error(engine_with: Callable[..., Engine], subject: Any, matter: Any,
                                      code: str) -> None:
    """Unknown matter types and invalid subjects raise CheckError with a stable code; ids stay masked."""
    with pytest.raises(CheckError) as info:
        engine_with().check(subject, matter, at=DAY)
    assert info.value.code == code
    assert "410102199003071231" not in str(info.value)


def test_check_many_keeps_input_order(engine_with: Callable[..., Engine]) -> None:
    """check_many answers every subject in order."""
    results = engine_with(record("R1", CO)).check_many([CO2, CO, GOV], "government_procurement", at=DAY)
    assert [r.decision for r in results] == ["clear", "prohibited", "clear"]


def test_decision_log_event(engine_with: Callable[..., Engine]) -> None:
    """Each check logs one event with check id, revision, masked subject, matter, decision, measures, duration."""
    engine = engine_with(record("R1", CO))
    with structlog.testing.capture_logs() as logs:
        result = engine.check(CO, "government_procurement", at=DAY)
    (event,) = [e for e in logs if e["event"] == "check"]
    assert event["check_id"] == result.check_id and event["revision"] == engine.revision
    assert (event["subject"], event["matter_type"], event["decision"]) == (CO, "government_procurement",
                                                                           "prohibited")
    assert event["measure_ids"] == ["T-GP-BAN"] and event["duration_ms"] >= 0


def test_check_many_logs_one_event_per_subject_in_input_order(engine_with: Callable[..., Engine]) -> None:
    """check_many logs one check event per subject, in input order, with each result's check id, decision
    and measures, the resident id masked."""
    engine = engine_with(record("R1", CO), record("P1", PERSON))
    subjects: list[Any] = [CO2, CO, {"id": GOV, "related_parties": [{"role": "legal_representative", "id": PERSON}]},
                           PERSON, GOV]
    with structlog.testing.capture_logs() as logs:
        results = engine.check_many(subjects, "government_procurement", at=DAY)
    events = [e for e in logs if e["event"] == "check"]
    assert [(e["check_id"], e["decision"], e["measure_ids"]) for e in events] == [
        (r.check_id, r.decision, [m.measure_id for m in r.measures]) for r in results]
    assert [r.decision for r in results] == ["clear", "prohibited", "prohibited", "prohibited", "clear"]
    assert PERSON not in repr(logs)


def test_both_back_ends_give_the_same_results(engine_with: Callable[..., Engine]) -> None:
    """The durable and reference back ends return identical results on the same engine inputs."""
    recs = [record("R1", CO), record("A1", CO, "tax_credit_a"), record("R9", PERSON)]
    subject = {"id": CO, "related_parties": [{"role": "legal_representative", "id": PERSON}]}
    a = engine_with(*recs, rules="durable").check(subject, "government_procurement", at=DAY)
    b = engine_with(*recs, rules="reference").check(subject, "government_procurement", at=DAY)
    # data_as_of differs: each engine has a store of its own, written at its own time.
    assert a.model_dump(exclude={"check_id", "data_as_of"}) == b.model_dump(exclude={"check_id", "data_as_of"})


def test_injected_clock_and_ids_make_results_reproducible(engine_with: Callable[..., Engine]) -> None:
    """With the clock and id factory injected, a check without 'at' is fully reproducible."""
    result = engine_with(record("R1", CO)).check(CO, "government_procurement")
    assert result.check_id == "chk-0"
    assert result.checked_at == dt.datetime(2025, 6, 1, 4, 0, tzinfo=dt.UTC)


# --- fast construction of inputs: the same models validation builds ---------------------------------

_TEXTS = st.one_of(st.none(), st.text(max_size=8), st.integers(0, 99))
_IDS = st.sampled_from(["91410100MA0000015B", "410102199003071230", "41010219900307123x", "９１４１０１００ＭＡ００００００１５Ｂ",
                        "91410100MA0000015C", "", "x"])


@settings(max_examples=400, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(["item_code", "application_no", "department", "department_code",
                                               "region_code", "amount", "colour"]),
                              st.one_of(_TEXTS, st.floats(allow_nan=False), st.booleans()), max_size=4),
       matter=st.sampled_from(["bidding", "honors", "nope"]))
def test_matter_from_keywords_equals_the_validated_one(fields: dict[str, Any], matter: str) -> None:
    """What check() builds from a matter id and keywords is the Matter validation builds, or the same error."""
    cache: dict[str, Matter] = {}
    try:
        expected: Any = coerce_matter(matter, fields)
    except CheckError as exc:
        expected = (type(exc), exc.code, str(exc))
    try:
        got: Any = matter_of(cache, matter, fields)
    except CheckError as exc:
        got = (type(exc), exc.code, str(exc))
    assert got == expected
    if isinstance(got, Matter):
        assert Matter.model_validate(got.model_dump()) == got


_PARTIES = st.lists(st.one_of(st.fixed_dictionaries({"role": st.sampled_from(["legal_representative", "principal",
                                                                               "boss"]), "id": _IDS},
                                                    optional={"name": _TEXTS}),
                              st.just("not a party")), max_size=3)


_MAPPINGS = st.fixed_dictionaries({"id": _IDS}, optional={
    "name": _TEXTS, "related_parties": st.one_of(_PARTIES, _PARTIES.map(tuple), st.just("x")),
    "subject_type": st.sampled_from([None, "legal_person", "region", "alien"]), "colour": st.just("red")})


_GOOD_IDS = st.sampled_from(["91410100MA0000015B", "410102199003071230", "41010219900307123x", "110101198001011237"])
#: Mostly valid mappings (a host's usual calls), some of them plain, parties as a list or a tuple.
_GOOD_MAPPINGS = st.fixed_dictionaries({"id": _GOOD_IDS}, optional={
    "name": st.text(max_size=4),
    "related_parties": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["legal_representative", "principal"]),
                                                        "id": _GOOD_IDS}, optional={"name": st.text(max_size=4)}),
                                max_size=3).flatmap(lambda parties: st.sampled_from([parties, tuple(parties)])),
    "subject_type": st.sampled_from([None, "legal_person", "natural_person", "region"])})


@settings(max_examples=400, deadline=None)
@given(subject=st.one_of(_MAPPINGS, _GOOD_MAPPINGS))
def test_subject_from_a_mapping_equals_the_validated_one(subject: dict[str, Any]) -> None:
    """A mapping becomes the Subject validation builds (ids normalised), or the same CheckError."""
    def validated() -> Any:
        try:
            return Subject.model_validate(subject)
        except ValueError:
            return "invalid"

    def coerced() -> Any:
        try:
            return coerce_subject(subject)
        except CheckError as exc:
            assert exc.code == "invalid_subject"
            return "invalid"

    assert coerced() == validated()


@settings(max_examples=400, deadline=None)
@given(subject=st.one_of(_MAPPINGS, _GOOD_MAPPINGS), listed=st.lists(st.booleans(), min_size=4, max_size=4))
def test_triage_answers_clear_exactly_when_no_id_the_subject_names_is_listed(subject: dict[str, Any],
                                                                            listed: list[bool]) -> None:
    """Triage gives a clear answer's parts (the validated subject's id, kind, name and type) exactly when
    neither the subject nor any related party is listed, else the validated Subject; an invalid
    mapping is refused as coerce_subject refuses it. The membership is the engine's; where compiled,
    triage_plain (check_many's reading of plain mappings in C) gives triage's clear answer or None."""
    from joint_sanctions._accel import membership, triage_plain
    from joint_sanctions._inputs import triage

    try:
        expected = coerce_subject(subject)
    except CheckError as exc:
        with pytest.raises(CheckError) as refused:
            triage(subject, set())
        assert (refused.value.code, str(refused.value)) == (exc.code, str(exc))
        return
    named = [expected.id, *(p.id for p in expected.related_parties)]
    hashes = membership([hash(i) for i, on in zip(named, listed, strict=False) if on])
    got = triage(subject, hashes)
    if hashes:
        assert got == expected
    else:
        assert got == (expected.id, expected.id_kind, expected.name, expected.subject_type)
    if triage_plain is not None:
        assert triage_plain(subject, hashes) in (None, got if isinstance(got, tuple) else None)


def test_check_many_reads_a_plain_mapping_in_c_where_compiled() -> None:
    """Where compiled, a plain mapping with a legal representative, no one listed, is answered by
    triage_plain itself (check_many's commonest mapping); listed, it is left to triage."""
    from joint_sanctions._accel import COMPILED, membership, triage_plain

    subject = {"id": "91410100MA0000015B", "name": "某公司",
               "related_parties": [{"role": "legal_representative", "id": "410102199003071230"}]}
    if not COMPILED:
        assert triage_plain is None
        return
    assert triage_plain is not None
    assert triage_plain(subject, membership()) == ("91410100MA0000015B", "uscc", "某公司", None)
    assert triage_plain(subject, membership([hash("410102199003071230")])) is None


# --- resident ids typed into names (design.md §9 "Hostile input") ----------------------------------

OTHER = "410105198509230440"  # someone's id typed into a name


@pytest.mark.parametrize("listed", [False, True], ids=["clear", "with-measures"])
def test_ids_typed_into_names_are_masked_in_the_result(engine_with: Callable[..., Engine], listed: bool) -> None:
    """A subject's or related party's name holding a resident id (any spelling) comes back masked."""
    records = [record("R9", PERSON, "court_defaulter"), record("R2", CO, "market_serious_violator")]
    engine = engine_with(*(records if listed else ()))
    subject = {"id": CO, "name": f"某公司（法人身份证{OTHER[:6]} {OTHER[6:14]} {OTHER[14:]}）",
               "related_parties": [{"role": "legal_representative", "id": PERSON,
                                    "name": "张三 ４１０１ ０２１９ ９００３ ０７１２ ３０"}]}
    result = engine.check(subject, "government_procurement", at=DAY)
    assert result.decision == ("prohibited" if listed else "clear")
    assert result.subject.name.startswith("某公司（法人身份证4101** ")
    assert_masked(result.to_json(), OTHER, PERSON)
    via = [m.via_related_party for m in result.measures if m.via_related_party is not None]
    assert len(via) == (1 if listed else 0)
    assert all(v.name.startswith("张三 ４１０１ ") for v in via)


# --- a record the engine cannot read (design.md §9) -------------------------------------------------


@pytest.mark.parametrize("column, value", [("list_type", "bogus_list"), ("subject_type", "alien"),
                                           ("record_id", "")])
def test_a_tampered_record_fails_its_subjects_check_closed(database: Database, shipped: Any, column: str,
                                                           value: str) -> None:
    """A stored record with a value the engine does not know never yields `clear` for its subject: the
    check raises UnreadableRecordError naming the record; other subjects check normally."""
    store = database.open()
    store.upsert([record("R-BAD", CO), record("R-OK", CO2)])
    assert database.rows(f"UPDATE credit_records SET {column} = ? WHERE record_id = 'R-BAD' "
                         "RETURNING subject_id", (value,)) == [(CO,)]
    engine = Engine(measures=shipped, store=store, clock=lambda: dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    with pytest.raises(UnreadableRecordError) as caught:
        engine.check({"id": CO}, "government_procurement")
    shown = "" if column == "record_id" else "R-BAD"
    assert caught.value.record_id == shown and repr(shown) in str(caught.value)
    assert column in str(caught.value) and "无法读取" in str(caught.value)
    assert engine.check({"id": CO2}, "government_procurement").decision == "restricted"
    assert engine.check({"id": PERSON}, "government_procurement").decision == "clear"


def test_sqlite_record_with_a_broken_date_is_unreadable(tmp_path: Path, shipped: Any) -> None:
    """A listing date that is not a date (SQLite stores text) is reported like any unreadable value."""
    from joint_sanctions.stores._sqlite import SqliteStore

    store = SqliteStore(tmp_path / "r.db")
    store.upsert([record("R-BAD", CO)])
    store.connection.execute("UPDATE credit_records SET listed_on = '2024-13-45'")
    with pytest.raises(UnreadableRecordError, match=r"record 'R-BAD'.*listed_on"):
        Engine(measures=shipped, store=store).check({"id": CO}, "government_procurement")


def test_cli_check_on_a_tampered_record_is_one_line_and_exit_1(database: Database) -> None:
    """`check` names the unreadable record in one line (no internal error) and exits 1."""
    import subprocess
    import sys

    with database.open() as store:
        store.upsert([record("R-BAD", CO)])
    database.rows("UPDATE credit_records SET list_type = 'x' RETURNING record_id")
    done = subprocess.run([sys.executable, "-m", "joint_sanctions", "check", "--subject", CO, "--matter",
                           "government_procurement", "--json", "--db", database.url],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "R-BAD" in lines[0] and "internal error" not in lines[0], lines


@pytest.mark.parametrize("at", [
    dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(-dt.timedelta(hours=12))),
    dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=14))),
    dt.date(1, 1, 1),
    dt.date(9999, 12, 31),
])
def test_a_check_time_at_the_ends_of_the_calendar_is_bad_input(engine_with: Callable[..., Engine],
                                                                  at: dt.date | dt.datetime) -> None:
    """A check as of a time the calendar cannot convert to China time (or move by a day) is refused as bad
    input, never an OverflowError: by check, check_many and explain alike."""
    engine = engine_with(record("R1", CO, "court_defaulter"))
    for ask in (lambda: engine.check(CO, "government_procurement", at=at),
                lambda: engine.check(PERSON, "government_procurement", at=at),
                lambda: engine.check_many([CO, PERSON], "government_procurement", at=at),
                lambda: engine.explain(CO, "government_procurement", at=at)):
        with pytest.raises(CheckError) as info:
            ask()
        assert info.value.code == "invalid_matter" and "check time" in str(info.value)


class _ReadsSpied(MemoryStore):
    """A store that notes the subject ids each lookup asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []

    def active_records(self, subject_ids: Any, day: dt.date) -> Any:
        self.asked.append(sorted(subject_ids))
        return super().active_records(subject_ids, day)


def test_a_hit_reads_only_the_ids_the_membership_set_names(shipped: Any) -> None:
    """A subject whose legal representative alone is listed is read from the store by the representative's
    id only: an id the membership set does not name has no record that counts on any day (its no-hit
    check is answered without a read for that reason), so its read would find nothing. The answer is the
    one a read of every id gives; with both listed, both are read; check_many reads alike."""
    store = _ReadsSpied()
    store.upsert([record("R1", PERSON, list_type="trading_serious_violator"), record("R2", GOV)])
    engine = Engine(measures=shipped, store=store)
    represented = {"id": CO, "related_parties": [{"role": "legal_representative", "id": PERSON}]}
    both = {"id": GOV, "related_parties": [{"role": "legal_representative", "id": PERSON}]}
    got = engine.check(represented, "government_procurement", at=DAY)
    assert store.asked == [[PERSON]] and [h.record_id for h in got.hits] == ["R1"] and got.decision == "review"
    every = Engine(measures=shipped, store=store)._evaluate  # the answer from every id's records
    subject = coerce_subject(represented)
    all_records = MemoryStore.active_records(store, [CO, PERSON], DAY)
    want = every(engine.compiled, subject, coerce_matter("government_procurement", {}), got.checked_at, DAY,
                 {PERSON: subject.related_parties[0]}, all_records)
    assert got.model_dump(exclude={"check_id"}) == want.model_dump(exclude={"check_id"})
    store.asked.clear()
    engine.check(both, "government_procurement", at=DAY)
    assert store.asked == [[GOV, PERSON]]
    store.asked.clear()
    engine.check_many([represented, CO2, both], "government_procurement", at=DAY)
    assert store.asked == [[GOV, PERSON]]
