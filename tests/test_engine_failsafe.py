"""The engine fails closed and never crashes: reloads in any layout, released rulesets, a watcher that
survives bad revisions, the rule back-end fallback, the module-level check and the check day."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from joint_sanctions import Engine
from joint_sanctions._rules import DurableRunner
from joint_sanctions.stores._sqlite import SqliteStore

from .conftest import record, wait_until

CO = "91410100MA0000015B"
DAY = dt.date(2025, 6, 1)


def _measure(measure_id: str, *, lists: str = "court_defaulter", matters: str = "bidding",
             condition: str | None = None, effect: str = "restrict") -> dict[str, object]:
    measure: dict[str, object] = {
        "id": measure_id, "name": f"措施{measure_id}", "kind": "punishment", "effect": effect,
        "mandatory": False, "list_types": [lists], "matter_types": [matters],
        "legal_basis": [{"document": "测试依据", "number": "", "article": ""}],
        "basis_status": "unconfirmed", "implementing_departments": ["测试部门"]}
    if condition is not None:
        measure["condition"] = condition
    return measure


def _write(path: Path, *measures: dict[str, object]) -> None:
    """A measure list file; each measure on one line (YAML reads JSON), so line numbers are known."""
    lines = "".join(f"  - {json.dumps(m, ensure_ascii=False)}\n" for m in measures)
    path.write_text(f'edition: "t"\nissuer: 测试\nregion_code: "410100"\nmeasures:\n{lines}', encoding="utf-8")


def _engine(folder: Path, tmp_path: Path, **kw: object) -> Engine:
    store = SqliteStore(tmp_path / "r.db")
    store.upsert([record("R1", CO)])
    return Engine(measures=folder, store=store, cases=False, **kw)  # type: ignore[arg-type]


def _ids(engine: Engine) -> list[str]:
    return [m.measure_id for m in engine.check(CO, "bidding", at=DAY).measures]


def test_moving_a_measure_to_another_file_keeps_durable_checks_answering(tmp_path: Path) -> None:
    """Two layouts of the same measures (same revision, other order) both answer under durable_rules
    after reload(), with every measure that shares a rule reported."""
    folder = tmp_path / "m"
    folder.mkdir()
    a, b, c = _measure("T-A"), _measure("T-B"), _measure("T-C", matters="honors")
    _write(folder / "a.yaml", a, c)
    _write(folder / "b.yaml", b)
    engine = _engine(folder, tmp_path, rules="durable")
    first = engine.revision
    assert _ids(engine) == ["T-A", "T-B"]
    _write(folder / "a.yaml", c)
    _write(folder / "b.yaml", b, a)
    assert engine.reload() == first
    assert sorted(_ids(engine)) == ["T-A", "T-B"]


def _rss_kib() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096 // 1024


def test_500_reloads_of_changing_lists_release_old_rulesets(tmp_path: Path) -> None:
    """A watch() over days reloads many revisions: the rulesets of revisions no engine serves are
    deleted from durable_rules, so its ruleset count and the process memory stay flat.

    Each revision has 6 rulesets; durable_rules keeps ~55 KB per ruleset it is never told to delete,
    so a leak would add ~160 MB over 500 reloads, and its count would reach 3,000.
    """
    folder = tmp_path / "m"
    folder.mkdir()

    def write(i: int) -> None:
        _write(folder / "a.yaml", *(_measure(f"T-{lt[:3].upper()}-{mt[:3].upper()}", lists=lt, matters=mt,
                                             condition=f"matter.amount >= {i}")
                                    for lt in ("court_defaulter", "wage_arrears", "major_tax_violator")
                                    for mt in ("bidding", "honors")))

    write(0)
    engine = _engine(folder, tmp_path, rules="durable")
    runner = engine._runner
    assert isinstance(runner, DurableRunner)
    revisions = {engine.revision}
    for i in range(1, 21):  # warm up: allocator pools and caches reach their working size
        write(i)
        revisions.add(engine.reload())
    rulesets, rss = runner.live_rulesets, _rss_kib()
    for i in range(21, 521):
        write(i)
        revisions.add(engine.reload())
        if i % 100 == 0:
            assert [m.measure_id for m in engine.check(CO, "bidding", at=DAY, amount=float(i)).measures] == ["T-COU-BID"]
            assert engine.check(CO, "bidding", at=DAY, amount=float(i - 1)).measures == ()
    assert len(revisions) == 521
    assert runner.live_rulesets <= rulesets
    assert _rss_kib() - rss < 40_000
    engine.close()


def test_watcher_survives_every_error_of_a_bad_revision_and_takes_the_next_good_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision the rule engine refuses, and one whose reload raises anything else, are logged and
    skipped; the old revision keeps serving and the next good revision is picked up."""
    import structlog

    import joint_sanctions._rules as rules_module

    check_module = sys.modules["joint_sanctions._check"]  # the package's 'check' is the function

    folder = tmp_path / "m"
    folder.mkdir()
    _write(folder / "a.yaml", _measure("T-A"))
    engine = _engine(folder, tmp_path, rules="durable")
    good = engine.revision
    # durable refuses what is over its limit; lowered here so that lint-clean lists reach it.
    monkeypatch.setattr(rules_module, "MAX_RULESET_ALTERNATIVES", 2)
    real_compile = check_module.compile_paths

    def compile_or_fail(measures: object) -> object:
        if (folder / "a.yaml").read_text(encoding="utf-8").count("T-BOOM"):
            raise RuntimeError("unexpected failure while compiling")
        return real_compile(measures)  # type: ignore[arg-type]

    monkeypatch.setattr(check_module, "compile_paths", compile_or_fail)
    with structlog.testing.capture_logs() as logs:
        watcher = engine.watch(interval=0.02)
        try:
            _write(folder / "a.yaml", *(_measure(f"T-{i}", condition=f"matter.amount >= {i}") for i in range(3)))
            wait_until(lambda: any(e["event"] == "measures_reload_failed" and e["error"] == "RuleEngineError"
                                     for e in logs))
            _write(folder / "a.yaml", _measure("T-BOOM"))
            wait_until(lambda: any(e["event"] == "measures_watch_failed" for e in logs))
            assert engine.revision == good
            _write(folder / "a.yaml", _measure("T-B"))
            wait_until(lambda: engine.revision != good)
            assert watcher._thread.is_alive()
        finally:
            watcher.stop()
    assert _ids(engine) == ["T-B"]
    failed = next(e for e in logs if e["event"] == "measures_watch_failed")
    assert (failed["error"], failed["revision"]) == ("RuntimeError", good)


FIXTURE = Path(__file__).parent / "fixtures" / "measures"


def _fixture_engines(tmp_path: Path) -> list[Engine]:
    from joint_sanctions._check import compile_paths

    store = SqliteStore(tmp_path / "r.db")
    store.upsert([record("R1", CO)])
    return [Engine(measures=compile_paths(FIXTURE), store=store, cases=False, rules=kind)
            for kind in ("durable", "reference")]


@pytest.mark.parametrize("amount", [0.00001, 0.004, 0.005, 0.01, 999999.99, 999999.994, 999999.995, 1000000,
                                    123456789.125, 10**15, 1e15, 0, 0.0])
def test_amounts_durable_cannot_read_as_written_answer_like_the_reference(tmp_path: Path, amount: float) -> None:
    """Valid amounts whose shortest form is exponent notation (0.00001 is '1e-05', which durable_rules
    refuses) are compared to the fen, so both back ends answer, and answer alike."""
    durable, reference = _fixture_engines(tmp_path)
    answers = [[m.measure_id for m in e.check(CO, "fiscal_funds", at=DAY, amount=amount).measures]
               for e in (durable, reference)]
    assert answers[0] == answers[1]
    assert answers[0] == (["T-FUND-BIG"] if round(amount, 2) >= 1_000_000 else [])


@pytest.mark.parametrize("amount", [1e16, 10**18, 10**400, float("inf"), float("-inf"), float("nan"), -0.01, -1,
                                    1e15 + 0.25, "nan", "1e16"])
def test_non_finite_or_absurd_amounts_are_invalid_matter(tmp_path: Path, amount: object) -> None:
    """An amount outside [0, 10^15] yuan, infinite or NaN is bad input (invalid_matter, one bilingual
    line) for both back ends, given as a keyword or in a matter mapping — never a RuleEngineError."""
    from joint_sanctions import CheckError

    for engine in _fixture_engines(tmp_path):
        for matter, fields in (("fiscal_funds", {"amount": amount}),
                               ({"matter_type": "fiscal_funds", "amount": amount}, {})):
            with pytest.raises(CheckError) as info:
                engine.check(CO, matter, at=DAY, **fields)
            assert info.value.code == "invalid_matter"
            assert "\n" not in str(info.value) and " / " in str(info.value)


def test_unpaired_surrogates_in_check_input_are_refused_and_in_records_do_not_break_checks() -> None:
    """A matter field with an unpaired surrogate is invalid_matter; a stored record holding one (an
    in-memory store can) still gets its answer from durable_rules, the same as the reference's."""
    from joint_sanctions import CheckError
    from joint_sanctions._check import compile_paths
    from joint_sanctions.testing import MemoryStore

    store = MemoryStore()
    store.upsert([record("R1", CO, authority="法院\ud800", reason="事由\udfff")])
    engines = [Engine(measures=compile_paths(FIXTURE), store=store, cases=False, rules=kind)
               for kind in ("durable", "reference")]
    for engine in engines:
        with pytest.raises(CheckError) as info:
            engine.check(CO, "government_procurement", at=DAY, item_code="A\ud800")
        assert info.value.code == "invalid_matter"
    decisions = {e.check(CO, "government_procurement", at=DAY).decision for e in engines}
    assert decisions == {"prohibited"}


def test_the_check_day_changes_at_midnight_china_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an injected clock the check day is cached until midnight CST: a check a millisecond
    before midnight is dated that day, one at midnight the next, in both directions of the cache."""
    check_module = sys.modules["joint_sanctions._check"]
    store = SqliteStore(tmp_path / "r.db")
    store.upsert([record("R1", CO, listed_on=dt.date(2025, 6, 2))])
    engine = Engine(measures=FIXTURE, store=store, cases=False)
    cst = dt.timezone(dt.timedelta(hours=8))
    midnight = dt.datetime(2025, 6, 2, tzinfo=cst).timestamp()
    now = [midnight - 0.001]
    monkeypatch.setattr(check_module, "_wall_clock", lambda: now[0])
    assert engine.check(CO, "government_procurement").decision == "clear"  # listed tomorrow
    assert engine.check(CO, "government_procurement").decision == "clear"  # cached day, same answer
    now[0] = midnight
    result = engine.check(CO, "government_procurement")
    assert result.decision == "prohibited"
    assert result.checked_at == dt.datetime(2025, 6, 1, 16, tzinfo=dt.UTC)
    now[0] = midnight - 86400 * 3  # a clock set back is a new day too
    assert engine.check(CO, "government_procurement").decision == "clear"


def test_module_level_check_uses_the_default_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """joint_sanctions.check() answers with the shipped lists and the database of JOINT_SANCTIONS_DB,
    and reuses one engine."""
    import joint_sanctions

    check_module = sys.modules["joint_sanctions._check"]
    db = tmp_path / "default.db"
    with SqliteStore(db) as store:
        store.upsert([record("R1", CO)])
    monkeypatch.setenv("JOINT_SANCTIONS_DB", f"sqlite:///{db}")
    monkeypatch.setattr(check_module, "_default", None)
    try:
        result = joint_sanctions.check(CO, "government_procurement", at=DAY)
        assert result.decision == "restricted"  # NAT-CD-001 binds; NAT-GP-003's basis is unconfirmed
        assert result.revision == Engine(store=SqliteStore(tmp_path / "other.db"), cases=False).revision
        assert joint_sanctions.check("91350100M000100Y43", "bidding", at=DAY).decision == "clear"
        assert check_module.default_engine() is check_module._default
    finally:
        if check_module._default is not None:
            check_module._default.close()


_NO_DURABLE = """
import json, warnings
from joint_sanctions import CreditRecord, Engine
from joint_sanctions._rules import make_runner
from joint_sanctions.testing import MemoryStore
store = MemoryStore()
store.upsert([CreditRecord(record_id="R1", list_type="court_defaulter", subject_id="91410100MA0000015B",
                           listed_on="2024-01-01")])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    runner = make_runner("auto")
    engine = Engine(store=store, cases=False)
try:
    make_runner("durable")
    explicit = "no error"
except ImportError as exc:
    explicit = "ImportError"
print(json.dumps({"runner": runner.name, "engine": engine.rules_backend, "explicit": explicit,
                  "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
                  "decision": engine.check("91410100MA0000015B", "bidding").decision}))
"""


def test_auto_falls_back_to_the_reference_evaluator_with_a_warning_where_durable_does_not_import(
        tmp_path: Path) -> None:
    """Where durable_rules does not import (as on Python 3.13+), 'auto' warns and uses the reference
    evaluator, and an engine still answers; asking for 'durable' explicitly raises ImportError."""
    shadow = tmp_path / "shadow" / "durable"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("durable_rules does not import here")\n',
                                        encoding="utf-8")
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), *sys.path])}
    out = subprocess.run([sys.executable, "-c", _NO_DURABLE], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert (got["runner"], got["engine"], got["explicit"], got["decision"]) == (
        "reference", "reference", "ImportError", "restricted")  # the fallback evaluates the rules
    assert got["warnings"] == ["RuntimeWarning: durable_rules does not import here; using the reference evaluator"] * 2


def test_releasing_rules_never_waits_for_a_check_in_progress(tmp_path: Path) -> None:
    """An unreachable engine is released by the collector on whatever thread allocates, also the one
    whose check holds durable_rules (seen as a suite frozen inside fire()): release must not wait
    for that check, and the rules it gives up are still freed at the next registration."""
    import threading

    folder = tmp_path / "m"
    folder.mkdir()
    _write(folder / "a.yaml", _measure("T-A"))
    engine = _engine(folder, tmp_path, rules="durable")
    runner = engine._runner
    assert isinstance(runner, DurableRunner)
    done = threading.Event()

    def collected_inside_a_check() -> None:
        with runner._lock:  # what fire() holds while durable_rules runs the check's facts
            engine.close()
            engine._served.release()  # what the finalizer of a collected engine calls
        done.set()

    threading.Thread(target=collected_inside_a_check, daemon=True).start()
    assert done.wait(timeout=60), "releasing rules waited for the lock of a check in progress"
    released = engine.compiled.rules_digest
    for i in range(DurableRunner.IDLE_KEPT + 1):  # newer idle revisions push the released one out
        _write(folder / "a.yaml", _measure("T-A", condition=f"matter.amount >= {i}"))
        other = _engine(folder, tmp_path, rules="durable")
        other.close()
        other._served.release()
    assert released not in runner._registered
