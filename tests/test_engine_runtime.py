"""The engine while it runs: the fast path stays correct as records change, reloads, threads."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog

from joint_sanctions import Engine, MeasureListError, StoreError
from joint_sanctions._check import compile_paths
from joint_sanctions.stores._sqlite import SqliteStore

from .conftest import numbered_uscc, record, unlisted_import, wait_until

FIXTURE = Path(__file__).parent / "fixtures" / "measures"
CO = "91410100MA0000015B"
CO2 = "91350100M000100Y43"
DAY = dt.date(2025, 6, 1)


class CountingStore:
    """Wraps a real store and counts active_records lookups (the database is real)."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.lookups = 0
        self.catch_ups = 0

    def active_records(self, *a: Any) -> Any:
        self.lookups += 1
        return self.inner.active_records(*a)

    def listed_since(self, *a: Any) -> Any:
        self.catch_ups += 1
        return self.inner.listed_since(*a)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def counting(tmp_path: Path) -> Callable[..., tuple[Engine, CountingStore]]:
    def make(*records: Any, **kw: Any) -> tuple[Engine, CountingStore]:
        store = CountingStore(SqliteStore(tmp_path / "r.db"))
        store.upsert(records or [unlisted_import()])  # a store never written to refuses checks
        kw.setdefault("cases", False)
        return Engine(measures=compile_paths(FIXTURE), store=store, **kw), store  # type: ignore[arg-type]
    return make


def test_no_hit_check_touches_neither_database_nor_rules(counting: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A subject on no list is answered from memory: no store lookup, no rule run."""
    engine, store = counting(record("R1", CO2))
    calls: list[Any] = []
    monkeypatch.setattr(engine._runner, "fire", lambda *a: calls.append(a) or [])
    for _ in range(50):
        assert engine.check(CO, "government_procurement", at=DAY).decision == "clear"
    assert (store.lookups, calls) == (0, [])
    assert engine.check(CO2, "government_procurement", at=DAY).decision == "clear"  # listed: looked up
    assert store.lookups == 1


def test_records_imported_while_running_apply_at_once(counting: Callable[..., Any]) -> None:
    """A record written through the engine's store counts on the very next check."""
    engine, store = counting()
    assert engine.check(CO, "government_procurement", at=DAY).decision == "clear"
    store.upsert([record("R1", CO)])
    assert engine.check(CO, "government_procurement", at=DAY).decision == "prohibited"


def test_records_imported_by_another_process_apply_after_the_refresh_interval(tmp_path: Path) -> None:
    """Another process's import is seen by a running engine once its refresh interval has passed."""
    db = tmp_path / "shared.db"
    store = SqliteStore(db)
    store.upsert([unlisted_import()])
    engine = Engine(measures=compile_paths(FIXTURE), store=store, cases=False, refresh_interval=0.2)
    assert engine.check(CO, "government_procurement", at=DAY).decision == "clear"
    csv = tmp_path / "r.csv"
    csv.write_text("record_id,list_type,subject_id,subject_name,subject_type,authority,document_no,listed_on,"
                   f"expires_on,status,reason\nX1,court_defaulter,{CO},某公司,,法院,文号,2024-01-01,,active,\n",
                   encoding="utf-8")
    subprocess.run([sys.executable, "-m", "joint_sanctions", "records", "import", str(csv),
                    "--db", f"sqlite:///{db}"], check=True, capture_output=True)
    wait_until(lambda: engine.check(CO, "government_procurement", at=DAY).decision == "prohibited")


def test_periodic_refresh_reads_no_records_while_nothing_changed(counting: Callable[..., Any],
                                                                 tmp_path: Path) -> None:
    """Polls of an unchanged database cost one version read, not a query over the records; a write by
    another connection is caught up with once."""
    engine, store = counting(record("R1", CO2), refresh_interval=0.01)
    started = store.catch_ups
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        assert engine.check(CO, "government_procurement", at=DAY).decision == "clear"
    assert store.catch_ups == started
    with SqliteStore(tmp_path / "r.db") as other:
        other.upsert([record("R2", CO)])
    wait_until(lambda: engine.check(CO, "government_procurement", at=DAY).decision == "prohibited")
    assert store.catch_ups == started + 1


def test_repair_and_expiry_while_running(counting: Callable[..., Any]) -> None:
    """Repaired or expired records stop counting at once although the subject stays in the set."""
    engine, store = counting(record("R1", CO, expires_on=dt.date(2025, 7, 1)), record("R2", CO2))
    assert engine.check(CO, "government_procurement", at=DAY).decision == "prohibited"
    assert engine.check(CO, "government_procurement", at=dt.date(2025, 7, 1)).decision == "clear"
    store.repair("R2")
    assert engine.check(CO2, "government_procurement", at=DAY).decision == "clear"
    store.set_status("R2", "active")
    assert engine.check(CO2, "government_procurement", at=DAY).decision == "prohibited"


def test_related_party_listed_but_subject_not_takes_the_exact_path(counting: Callable[..., Any]) -> None:
    """The membership test covers related parties, so a listed legal representative is found."""
    person = "410102199003071230"
    engine, _ = counting(record("P1", person))
    subject = {"id": CO, "related_parties": [{"role": "legal_representative", "id": person}]}
    assert engine.check(subject, "government_procurement", at=DAY).decision == "prohibited"


def test_fast_path_result_equals_a_validated_one(counting: Callable[..., Any]) -> None:
    """The unvalidated fast-path result is the same model a full validation would build."""
    engine, _ = counting()
    result = engine.check({"id": CO, "name": "某公司"}, "bidding", at=DAY)
    from joint_sanctions._models import CheckResult

    assert CheckResult.model_validate(result.model_dump()) == result


def test_default_clock_stamps_checks_now_in_utc(counting: Callable[..., Any]) -> None:
    """Without an injected clock a check is stamped with the current time, timezone-aware in UTC."""
    engine, _ = counting(record("R1", CO, listed_on=dt.date(2024, 1, 1)))
    before = dt.datetime.now(dt.UTC)
    result = engine.check(CO, "government_procurement", open_case=False)
    assert before <= result.checked_at <= dt.datetime.now(dt.UTC)
    assert result.checked_at.utcoffset() == dt.timedelta(0)
    assert result.decision == "prohibited"


@pytest.fixture
def zone_utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The machine's local time zone is UTC for the test (the engine must not use it for the day)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("zone_utc")
def test_default_clock_takes_the_date_in_china(counting: Callable[..., Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an injected clock a check is dated in China Standard Time: at 20:00 UTC on 1 June it is
    already 2 June in China, so a record listed on 2 June counts and one that expired then does not."""
    check_module = sys.modules["joint_sanctions._check"]
    evening_utc = dt.datetime(2025, 6, 1, 20, 0, tzinfo=dt.UTC)  # 2025-06-02 04:00 in China
    monkeypatch.setattr(check_module, "_wall_clock", evening_utc.timestamp)
    engine, _ = counting(record("R1", CO, listed_on=dt.date(2025, 6, 2)),
                         record("R2", CO2, listed_on=dt.date(2025, 1, 1), expires_on=dt.date(2025, 6, 2)))
    listed = engine.check(CO, "government_procurement", open_case=False)
    assert listed.decision == "prohibited" and listed.checked_at == evening_utc
    assert engine.check(CO2, "government_procurement", open_case=False).decision == "clear"


def test_default_check_ids_are_unique(counting: Callable[..., Any]) -> None:
    """Without an injected id maker every check gets an id of its own."""
    engine, _ = counting()
    assert len({engine.check(CO2, "bidding").check_id for _ in range(1000)}) == 1000


def _write_measures(folder: Path, effect: str = "prohibit") -> None:
    folder.mkdir(exist_ok=True)
    text = (FIXTURE / "basic.yaml").read_text(encoding="utf-8")
    (folder / "basic.yaml").write_text(text.replace("effect: prohibit\n    mandatory: true\n    list_types: "
                                                    "[court_defaulter, procurement_violator]",
                                                    f"effect: {effect}\n    mandatory: true\n    list_types: "
                                                    "[court_defaulter, procurement_violator]"), encoding="utf-8")


def test_reload_swaps_revision_and_bad_lists_keep_the_old_one(tmp_path: Path) -> None:
    """reload() compiles the new lists fully first; with lint errors the old revision keeps serving."""
    folder = tmp_path / "m"
    _write_measures(folder)
    engine = Engine(measures=folder, store=SqliteStore(tmp_path / "r.db"), cases=False)
    engine.store.upsert([record("R1", CO)])
    first = engine.revision
    assert engine.check(CO, "government_procurement", at=DAY).decision == "prohibited"
    _write_measures(folder, effect="restrict")
    assert engine.reload() != first
    result = engine.check(CO, "government_procurement", at=DAY)
    assert (result.decision, result.revision) == ("restricted", engine.revision)
    good = engine.revision
    (folder / "broken.yaml").write_text("edition: x\nmeasures: [}\n", encoding="utf-8")
    with structlog.testing.capture_logs() as logs, pytest.raises(MeasureListError) as info:
        engine.reload()
    assert info.value.problems and engine.revision == good
    assert any(e["event"] == "measures_reload_failed" for e in logs)
    assert engine.check(CO, "government_procurement", at=DAY).revision == good


def test_checks_in_flight_finish_on_the_revision_they_started_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that started before a reload reports (and is decided by) the old revision."""
    folder = tmp_path / "m"
    _write_measures(folder)
    engine = Engine(measures=folder, store=SqliteStore(tmp_path / "r.db"), cases=False, rules="reference")
    engine.store.upsert([record("R1", CO)])
    old = engine.revision
    gate, release = threading.Event(), threading.Event()
    real = engine._runner.fire

    def slow_fire(*a: Any) -> Any:
        gate.set()
        assert release.wait(30)
        return real(*a)

    monkeypatch.setattr(engine._runner, "fire", slow_fire)
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(engine.check(CO, "government_procurement", at=DAY)))
    t.start()
    assert gate.wait(30)
    _write_measures(folder, effect="restrict")
    engine.reload()
    release.set()
    t.join()
    assert (out[0].revision, out[0].decision) == (old, "prohibited")
    assert engine.revision != old


def test_watch_reloads_on_file_change(tmp_path: Path) -> None:
    """watch() notices an edited measure file and reloads it."""
    folder = tmp_path / "m"
    _write_measures(folder)
    engine = Engine(measures=folder, store=SqliteStore(tmp_path / "r.db"), cases=False)
    first = engine.revision
    watcher = engine.watch(interval=0.05)
    try:
        path = folder / "basic.yaml"
        before = path.stat().st_mtime_ns
        _write_measures(folder, effect="restrict")  # the same size: only the time tells the edit
        if path.stat().st_mtime_ns == before:  # a coarse file-system clock; a real edit comes later
            os.utime(path, ns=(before, before + 1))
        wait_until(lambda: engine.revision != first)
    finally:
        watcher.stop()


def test_many_threads_give_the_same_results_as_one(tmp_path: Path) -> None:
    """8 threads × 100,000 mixed checks on one engine equal a single-threaded run of the same checks."""
    rng = random.Random(11)
    store = SqliteStore(tmp_path / "r.db")
    subjects = [numbered_uscc(n) for n in range(2000)]
    listed = rng.sample(subjects, 40)
    store.upsert([record(f"R{i}", s, rng.choice(["court_defaulter", "market_serious_violator", "tax_credit_a"]))
                  for i, s in enumerate(listed)])
    engine = Engine(measures=compile_paths(FIXTURE), store=store, cases=False)
    matters = ["government_procurement", "fiscal_funds", "administrative_licensing", "bidding"]
    stream = [(rng.choice(subjects), rng.choice(matters)) for _ in range(100_000)]

    def run() -> list[tuple[str, tuple[str, ...]]]:
        return [(r.decision, tuple(m.measure_id for m in r.measures))
                for r in (engine.check(s, m, at=DAY, amount=2e6) for s, m in stream)]

    expected = run()
    outputs: list[Any] = [None] * 8

    def work(i: int) -> None:
        outputs[i] = run()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(o == expected for o in outputs)
    assert sum(d != "clear" for d, _ in expected) > 0


def test_engine_without_shipped_lists_reads_given_folder_only(tmp_path: Path) -> None:
    """--measures replaces the shipped lists: only the given folder's measures exist."""
    folder = tmp_path / "m"
    _write_measures(folder)
    engine = Engine(measures=folder, store=SqliteStore(tmp_path / "r.db"), cases=False)
    assert all(mid.startswith("T-") for mid in engine.compiled.measures)
    shutil.rmtree(folder)


def test_engine_closes_the_store_it_opened_and_leaves_a_given_one_open(tmp_path: Path) -> None:
    """``with Engine(store=URL)`` closes the store it opened; a store passed in stays the caller's."""
    with SqliteStore(tmp_path / "own.db") as created:
        created.upsert([unlisted_import()])
    with Engine(measures=compile_paths(FIXTURE), store=f"sqlite:///{tmp_path / 'own.db'}", cases=False) as engine:
        assert engine.check(CO, "government_procurement", at=DAY).decision == "clear"
    with pytest.raises(StoreError):
        engine.store.count()
    given = SqliteStore(tmp_path / "given.db")
    with Engine(measures=compile_paths(FIXTURE), store=given, cases=False):
        pass
    assert given.count() == 0
    given.close()
