"""District-level checks (design.md §12, docs/government-integrity-districts.md): a 6-digit region code as
the subject sees every active government-dishonesty record of the bodies in that area, and only the
measures written for districts (subject_types: [region]) reach it; on SQLite and PostgreSQL, both rule
back ends."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from joint_sanctions import CheckError, CreditRecord, Engine
from joint_sanctions._batch import run_batch
from joint_sanctions._identifiers import parse_region_code
from joint_sanctions.stores import SqliteStore
from joint_sanctions.stores._gov_district_tables import _BODIES, bodies_in, district_migrations
from joint_sanctions.testing import Clock, MemoryStore

from .conftest import FIXED_NOW, Database, cli, numbered_uscc, record, write_csv

XINZHENG = "410184"  # 新郑市
SHANGJIE = "410106"  # 上街区
TOWN = numbered_uscc(1, "11410184MB")  # a township government of 新郑市 (机关, registered in 410184)
SHANGJIE_GOV = numbered_uscc(2, "11410106MB")  # 上街区人民政府
CO = "91410100MA0000015B"
DAY = dt.date(2025, 6, 1)
DRC = {"organizer": "development_reform"}


def gov(record_id: str, subject_id: str, **kw: Any) -> CreditRecord:
    """A government-dishonesty record of a body."""
    kw.setdefault("authority", "郑州市社会信用体系建设领导小组办公室")
    return record(record_id, subject_id, "government_dishonesty", **kw)


def engine_over(store: Any, records: list[CreditRecord], rules: str = "auto") -> Engine:
    store.upsert(records)
    return Engine(store=store, rules=rules, clock=Clock(FIXED_NOW))


def test_a_district_sees_the_government_dishonesty_of_a_body_in_it(database: Database, back_end: str) -> None:
    """check 410184 honors (a development-and-reform award) finds the record of a township government whose
    region_code is 410184: the seed's district measure applies (unconfirmed basis → review), the hit names
    the record, and the subject is the region."""
    engine = engine_over(database.open(), [gov("G1", TOWN, region_code=XINZHENG, rectify_by=dt.date(2025, 3, 1)),
                                           gov("G2", SHANGJIE_GOV, region_code=SHANGJIE)], back_end)
    result = engine.check(XINZHENG, "honors", at=DAY, **DRC)
    assert [m.measure_id for m in result.measures] == ["GOV-HON-001"]
    assert result.decision == "review"
    assert result.measures[0].record_ids == ("G1",)
    assert [h.record_id for h in result.hits] == ["G1"]
    assert result.hits[0].subject_id == TOWN
    assert (result.subject.id, result.subject.id_kind, result.subject.subject_type) == (
        XINZHENG, "region_code", "region")
    pilot = engine.check(XINZHENG, "pilot_demonstration", at=DAY, **DRC)
    assert [m.measure_id for m in pilot.measures] == ["GOV-PD-001"]
    social = engine.check({"id": XINZHENG, "name": "新郑市"}, "honors", at=DAY, organizer="social_credit")
    assert [m.measure_id for m in social.measures] == ["GOV-HON-002"] and social.subject.name == "新郑市"


def test_a_city_code_covers_its_districts_and_a_district_only_itself(database: Database) -> None:
    """410100 (郑州市) sees the records of bodies in 4101xx; 410106 sees only its own, not 新郑市's."""
    engine = engine_over(database.open(), [gov("G1", TOWN, region_code=XINZHENG)])
    assert [h.record_id for h in engine.check("410100", "honors", at=DAY, **DRC).hits] == ["G1"]
    assert [h.record_id for h in engine.check("410000", "honors", at=DAY, **DRC).hits] == ["G1"]
    other = engine.check(SHANGJIE, "honors", at=DAY, **DRC)
    assert (other.decision, other.hits, other.measures) == ("clear", (), ())


def test_a_record_without_region_code_counts_where_its_uscc_was_registered(database: Database) -> None:
    """A body's record imported without region_code counts in the area of its USCC (positions 3–8)."""
    engine = engine_over(database.open(), [gov("G1", TOWN)])
    assert [h.record_id for h in engine.check(XINZHENG, "honors", at=DAY, **DRC).hits] == ["G1"]
    assert engine.check(SHANGJIE, "honors", at=DAY, **DRC).hits == ()


def test_only_active_government_dishonesty_records_reach_a_district(database: Database) -> None:
    """A repaired record, one not yet listed on the check day, and a court-defaulter record of a body in the
    district do not count; measures not written for districts (DEP-HON-001, the DRC toolbox) never apply."""
    engine = engine_over(database.open(), [
        gov("G1", TOWN, region_code=XINZHENG, status="repaired"),
        gov("G2", TOWN, region_code=XINZHENG, listed_on=dt.date(2025, 7, 1)),
        record("C1", TOWN, "court_defaulter", region_code=XINZHENG),
    ])
    for matter in ("honors", "central_budget_funds", "fiscal_funds"):
        result = engine.check(XINZHENG, matter, at=DAY, **DRC)
        assert (result.decision, result.measures, result.hits) == ("clear", (), ())
    listed = engine.check(XINZHENG, "honors", at=dt.date(2025, 7, 2), **DRC)
    assert [h.record_id for h in listed.hits] == ["G2"]


def test_a_district_is_never_clear_without_government_dishonesty_data() -> None:
    """Fail closed: with records of other lists only, a district check refuses (no_data) instead of
    answering clear; with none at all it refuses as every check does."""
    engine = engine_over(MemoryStore(), [record("C1", CO)])
    with pytest.raises(CheckError) as refused:
        engine.check(XINZHENG, "honors", at=DAY)
    assert refused.value.code == "no_data" and "government_dishonesty" in str(refused.value)
    with pytest.raises(CheckError) as empty:
        Engine(store=MemoryStore(), clock=Clock(FIXED_NOW)).check(XINZHENG, "honors")
    assert empty.value.code == "no_data"


def test_a_current_district_check_with_measures_opens_a_case(database: Database) -> None:
    """The closed loop covers districts: a current check with a measure opens a case for the region."""
    engine = engine_over(database.open(), [gov("G1", TOWN, region_code=XINZHENG)])
    result = engine.check(XINZHENG, "honors", **DRC)
    assert result.case_id is not None


def test_region_codes_are_validated_and_other_subjects_keep_their_answers() -> None:
    """A code that is not 6 digits of a province (11–82) is an invalid subject; companies and people are
    answered as before."""
    engine = engine_over(MemoryStore(), [gov("G1", TOWN, region_code=XINZHENG), record("C1", CO)])
    for bad in ("000000", "91000", "4101840", "99 0100", {"id": "410184", "related_parties": [
            {"role": "legal_representative", "id": CO}]}):
        with pytest.raises(CheckError) as refused:
            engine.check(bad, "honors", at=DAY)
        assert refused.value.code == "invalid_subject"
    assert parse_region_code("４１０１８４") == XINZHENG
    assert engine.check(CO, "honors", at=DAY).decision == "review"
    assert engine.check(numbered_uscc(3), "honors", at=DAY).decision == "clear"


def test_cli_checks_a_district(database: Database) -> None:
    """`check --subject 410184 --matter honors --organizer development_reform --json` prints the district's
    result; a malformed --subject still exits 2; --explain says why the body's other measures do not reach it."""
    store = database.open()
    store.upsert([gov("G1", TOWN, region_code=XINZHENG)])
    done = cli("check", "--subject", XINZHENG, "--matter", "honors", "--organizer", "development_reform",
               "--no-case", "--json", "--db", database.url, cwd=database.workdir)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["subject"]["subject_type"] == "region"
    assert [m["measure_id"] for m in result["measures"]] == ["GOV-HON-001"]
    table = cli("check", "--subject", XINZHENG, "--matter", "honors", "--organizer", "development_reform",
                "--no-case", "--db", database.url, cwd=database.workdir)
    assert table.returncode == 0 and "区县(市)" in table.stdout
    assert cli("check", "--subject", "4101", "--matter", "honors", "--db", database.url,
               cwd=database.workdir).returncode == 2
    explained = cli("check", "--subject", XINZHENG, "--matter", "honors", "--explain", "--json", "--db", database.url,
                    cwd=database.workdir)
    assert explained.returncode == 0, explained.stderr
    trials = {m["measure_id"]: m for m in json.loads(explained.stdout)["explanation"]["measures"]}
    assert trials["DEP-HON-001"]["failed"] == "subject_type" and trials["GOV-HON-001"]["failed"] == "condition"


def test_only_a_region_code_can_be_a_region(tmp_path: Path) -> None:
    """The type region cannot be claimed by a company (it would draw the district measures), a record, or a
    batch row: each is refused (invalid_subject, a refused row), never checked as a district."""
    engine = engine_over(MemoryStore(), [gov("G1", CO)])
    for subject in ({"id": CO, "subject_type": "region"}, {"id": CO, "subject_type": "region", "name": "X"}):
        with pytest.raises(CheckError) as refused:
            engine.check(subject, "honors", at=DAY, **DRC)
        assert refused.value.code == "invalid_subject"
    with pytest.raises(ValueError, match="region"):
        CreditRecord.model_validate({"record_id": "R", "list_type": "government_dishonesty", "subject_id": CO,
                                     "subject_type": "region", "listed_on": DAY})
    store = SqliteStore(tmp_path / "b.db")
    store.upsert([gov("G1", CO)])
    rows = write_csv(tmp_path / "in.csv", [(CO, "某公司", "region"), (numbered_uscc(5), "另一公司", "")],
                     header=("subject_id", "subject_name", "subject_type"))
    summary = run_batch(Engine(store=store, clock=Clock(FIXED_NOW), cases=False), rows, "honors",
                        tmp_path / "out.csv")
    assert (summary.total, [r.line for r in summary.rejected]) == (1, [2])


def test_the_district_query_is_served_by_its_partial_index(tmp_path: Path) -> None:
    """Once the district tables exist, SQLite finds a district's bodies in the partial index of
    government-dishonesty rows, not by scanning every record."""
    store = SqliteStore(tmp_path / "i.db")
    store.upsert([gov("G1", TOWN, region_code=XINZHENG), record("C1", CO)])
    store.migrate(district_migrations(store.dialect))
    with store.reading() as conn:
        plan = conn.execute("EXPLAIN QUERY PLAN " + _BODIES, {"area": "410184%"}).fetchall()
    assert "credit_records_gov_region" in str(plan)
    assert bodies_in(store, "410184") == {TOWN} and bodies_in(store, "410106") == set()
