"""Set-based re-screening of registered subjects, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from joint_sanctions._errors import CheckError, IdentifierError, StoreError
from joint_sanctions._models import CreditRecord, Subject
from joint_sanctions._rescreen import RescreenReport, StatusChange, register_subjects, rescreen
from joint_sanctions.stores._postgres import PostgresStore
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.testing import MemoryStore

from .conftest import numbered_uscc

A, B, C, D = (numbered_uscc(n) for n in range(1, 5))
PERSON = "410102199003071230"
DAY = dt.date(2025, 6, 1)

Store = SqliteStore | PostgresStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty SQLite or PostgreSQL store."""
    opened: Store
    if request.param == "sqlite":
        opened = SqliteStore(request.getfixturevalue("tmp_path") / "records.db")
    else:
        opened = PostgresStore(request.getfixturevalue("pg_url"))
    yield opened
    opened.close()


def rec(record_id: str, subject_id: str, list_type: str = "court_defaulter", **kw: Any) -> CreditRecord:
    return CreditRecord.model_validate({"record_id": record_id, "subject_id": subject_id,
                                        "list_type": list_type, "listed_on": dt.date(2024, 1, 10), **kw})


def kinds(report: RescreenReport) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return {c.subject_id: (c.kind, c.before, c.after) for c in report.changes}


def last_status(store: Store) -> dict[str, tuple[str | None, Any]]:
    with store.transaction() as conn:
        rows = conn.execute("SELECT subject_id, last_status, last_screened_on FROM registered_subjects")
        return {subject_id: (status, str(on) if on is not None else None) for subject_id, status, on in rows}


def test_first_run_reports_listed_subjects_as_newly_listed(store: Store) -> None:
    """On the first run every listed subject is newly listed, with its sorted active list types."""
    register_subjects(store, [A, {"id": B, "name": "乙公司"}, Subject(id=C, name="丙公司")])
    store.upsert([
        rec("R1", A),
        rec("R2", C, "wage_arrears"), rec("R3", C, "court_defaulter"),
        rec("R4", C, "major_tax_violator", expires_on=dt.date(2025, 1, 1)),  # expired by DAY
        rec("R5", D),  # not registered
    ])
    report = rescreen(store, day=DAY)
    assert report.day == DAY and report.screened == 3
    assert kinds(report) == {
        A: ("newly_listed", (), ("court_defaulter",)),
        C: ("newly_listed", (), ("court_defaulter", "wage_arrears")),
    }
    assert report.changes[1].name == "丙公司"
    assert report.newly_listed == report.changes and report.changed == report.delisted == ()


def test_second_run_without_changes_reports_nothing_and_stamps_the_day(store: Store) -> None:
    """A run after which nothing changed reports nothing but records that every subject was screened."""
    register_subjects(store, [A, B])
    store.upsert([rec("R1", A)])
    rescreen(store, day=DAY)
    report = rescreen(store, day=DAY + dt.timedelta(days=1))
    assert report.screened == 2 and report.changes == ()
    assert last_status(store) == {A: ("court_defaulter", "2025-06-02"), B: ("", "2025-06-02")}


def test_changes_since_the_last_run_are_reported_by_kind(store: Store) -> None:
    """Repair delists, a new record lists, another list type changes, expiry delists on its day."""
    register_subjects(store, [A, B, C, D])
    store.upsert([rec("R1", A), rec("R3", C), rec("R4", D, expires_on=dt.date(2025, 6, 2))])
    rescreen(store, day=DAY)
    store.repair("R1")
    store.upsert([rec("R2", B, "honesty_model"), rec("R5", C, "wage_arrears")])
    report = rescreen(store, day=dt.date(2025, 6, 2))
    assert kinds(report) == {
        A: ("delisted", ("court_defaulter",), ()),
        B: ("newly_listed", (), ("honesty_model",)),
        C: ("changed", ("court_defaulter",), ("court_defaulter", "wage_arrears")),
        D: ("delisted", ("court_defaulter",), ()),
    }
    assert [c.subject_id for c in report.changes] == sorted([A, B, C, D])
    assert rescreen(store, day=dt.date(2025, 6, 2)).changes == ()


def test_listing_day_is_inclusive_and_expiry_exclusive(store: Store) -> None:
    """A record counts from its listed_on and stops on its expires_on, as in a check."""
    register_subjects(store, [A])
    store.upsert([rec("R1", A, listed_on=dt.date(2025, 6, 1), expires_on=dt.date(2025, 6, 3))])
    assert rescreen(store, day=dt.date(2025, 5, 31)).changes == ()
    assert kinds(rescreen(store, day=dt.date(2025, 6, 1)))[A][0] == "newly_listed"
    assert rescreen(store, day=dt.date(2025, 6, 2)).changes == ()
    assert kinds(rescreen(store, day=dt.date(2025, 6, 3)))[A][0] == "delisted"


def test_registration_updates_name_and_keeps_the_status(store: Store) -> None:
    """Registering again updates the name and type given, and keeps the last status."""
    register_subjects(store, [{"id": A, "name": "旧名"}])
    store.upsert([rec("R1", A)])
    rescreen(store, day=DAY)
    assert register_subjects(store, [{"id": A, "name": "错名"}, {"id": A, "name": "新名",
                                                                  "subject_type": "legal_person"}]) == 2
    assert rescreen(store, day=DAY).changes == ()
    store.repair("R1")
    register_subjects(store, [A])  # a bare id: name and type stay
    (change,) = rescreen(store, day=DAY).changes
    assert (change.name, change.subject_type, change.kind) == ("新名", "legal_person", "delisted")


def test_registration_takes_a_lazy_iterable_larger_than_a_batch(store: Store) -> None:
    """A generator of more subjects than one registration batch is registered whole."""
    assert register_subjects(store, (numbered_uscc(n) for n in range(10_001))) == 10_001
    store.upsert([rec("R1", numbered_uscc(10_000))])
    report = rescreen(store, day=DAY)
    assert report.screened == 10_001
    assert [c.subject_id for c in report.changes] == [numbered_uscc(10_000)]


def test_a_resident_id_is_masked_in_repr_only(store: Store) -> None:
    """A natural person's id is returned whole for the host but masked in the change's repr."""
    register_subjects(store, [PERSON])
    store.upsert([rec("R1", PERSON)])
    (change,) = rescreen(store, day=DAY).changes
    assert change.subject_id == PERSON
    assert PERSON not in repr(change) and "4101" in repr(change)


def test_screening_only_some_subjects(store: Store) -> None:
    """With subject ids given only those are screened; unregistered ones are ignored."""
    register_subjects(store, [A, B])
    store.upsert([rec("R1", A), rec("R2", B), rec("R3", C)])
    report = rescreen(store, [A, C], day=DAY)
    assert report.screened == 1 and [c.subject_id for c in report.changes] == [A]
    assert last_status(store)[B] == (None, None)
    assert [c.subject_id for c in rescreen(store, day=DAY).changes] == [B]


def test_invalid_ids_are_refused(store: Store) -> None:
    """An invalid id refuses the registration batch or the run, with the library's errors."""
    with pytest.raises(CheckError):
        register_subjects(store, ["not-an-id"])
    with pytest.raises(IdentifierError):
        rescreen(store, ["not-an-id"], day=DAY)


def test_a_failed_run_stores_nothing(store: Store) -> None:
    """A run that fails half-way leaves the registry as it was and the next run works."""
    register_subjects(store, [A])
    store.upsert([rec("R1", A)])
    with store.transaction() as conn:
        conn.execute("ALTER TABLE credit_records RENAME TO credit_records_away")
    with pytest.raises(StoreError):
        rescreen(store, day=DAY)
    with store.transaction() as conn:
        conn.execute("ALTER TABLE credit_records_away RENAME TO credit_records")
    assert last_status(store) == {A: (None, None)}
    assert kinds(rescreen(store, day=DAY)) == {A: ("newly_listed", (), ("court_defaulter",))}


def test_concurrent_runs_report_each_change_once(store: Store) -> None:
    """Two runs at once take turns: a change is reported by one of them only."""
    register_subjects(store, (numbered_uscc(n) for n in range(2_000)))
    store.upsert(rec(f"R{n}", numbered_uscc(n)) for n in range(0, 2_000, 3))
    reports: list[RescreenReport] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        reports.append(rescreen(store, day=DAY))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r.changes) for r in reports) == [0, 667]


def test_agrees_with_the_records_on_random_data(store: Store) -> None:
    """Over random records and days, each change matches the records active on the day."""
    rng = random.Random(20250601)
    subjects = [numbered_uscc(n) for n in range(60)]
    register_subjects(store, subjects)
    list_types = ["court_defaulter", "wage_arrears", "tax_credit_a", "major_tax_violator"]
    expected: dict[str, tuple[str, ...]] = {}
    for round_no, day in enumerate([dt.date(2024, 3, 1), dt.date(2024, 9, 1), dt.date(2025, 3, 1)]):
        batch = []
        for n in range(80):
            listed = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(500))
            expires = rng.choice([None, listed + dt.timedelta(days=rng.randrange(1, 300))])
            batch.append(rec(f"R{round_no}-{n}", rng.choice(subjects), rng.choice(list_types),
                             listed_on=listed, expires_on=expires,
                             status=rng.choice(["active", "active", "repaired"])))
        store.upsert(batch)
        active = [r for r in store.iter_records() if r.is_active(day)]
        now: dict[str, tuple[str, ...]] = {
            s: tuple(sorted({r.list_type for r in active if r.subject_id == s})) for s in subjects}
        report = rescreen(store, day=day)
        assert {c.subject_id: (c.before, c.after) for c in report.changes} == {
            s: (expected.get(s, ()), now[s]) for s in subjects if now[s] != expected.get(s, ())}
        expected = now


def test_other_stores_are_refused() -> None:
    """A store without SQL (the in-memory fake) raises StoreError naming its type."""
    with pytest.raises(StoreError, match="MemoryStore"):
        rescreen(MemoryStore(), day=DAY)


def test_status_change_kind() -> None:
    """The kind follows from the sets before and after."""
    assert StatusChange(A, "", None, (), ("court_defaulter",)).kind == "newly_listed"
    assert StatusChange(A, "", None, ("court_defaulter",), ()).kind == "delisted"
    assert StatusChange(A, "", None, ("court_defaulter",), ("wage_arrears",)).kind == "changed"


def test_an_open_ended_record_leaves_the_screen_at_its_confirmed_maximum(store: Store) -> None:
    """With the list-type policy, an open-ended record counts until listed_on + its list type's confirmed
    maximum, as a check counts it; an unconfirmed maximum never ends one (fail closed)."""
    from joint_sanctions._list_types import Policies

    policies = Policies(entries={}, maxima={"safety_serious_violator": (3, "years")})
    register_subjects(store, [A, B])
    store.upsert([rec("S1", A, "safety_serious_violator", listed_on=dt.date(2021, 2, 28)),
                  rec("M1", B, "market_serious_violator", listed_on=dt.date(2017, 1, 1))])
    before = rescreen(store, day=dt.date(2024, 2, 27), policies=policies)
    assert kinds(before) == {A: ("newly_listed", (), ("safety_serious_violator",)),
                             B: ("newly_listed", (), ("market_serious_violator",))}
    after = rescreen(store, day=dt.date(2024, 2, 28), policies=policies)  # 2021-02-28 + 3 years
    assert kinds(after) == {A: ("delisted", ("safety_serious_violator",), ())}


def test_the_last_ended_listing_day_is_exact_on_calendar_edges() -> None:
    """For any day and period, the cut-off listing day is the last one whose record has ended by that day
    (month ends and leap days included), the same calendar the check uses."""
    from joint_sanctions._list_types import add_period
    from joint_sanctions._rescreen import _last_listing_ended

    rng = random.Random(7)
    days = [dt.date(2024, 2, 29), dt.date(2025, 2, 28), dt.date(2024, 3, 31), dt.date(2023, 12, 31)]
    days += [dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(4000)) for _ in range(300)]
    for day in days:
        for period in ((3, "years"), (1, "years"), (6, "months"), (1, "months"), (90, "days")):
            last = _last_listing_ended(period, day)
            assert add_period(last, period) <= day < add_period(last + dt.timedelta(days=1), period)
