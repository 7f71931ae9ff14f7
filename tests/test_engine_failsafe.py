"""The engine fails closed and never crashes: reloads in any layout, released rulesets, a watcher that
survives bad revisions, the rule back-end fallback, the module-level check and the check day."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from joint_sanctions import Engine
from joint_sanctions.rules import DurableRunner, make_runner
from joint_sanctions.stores.sqlite import SqliteStore

from .conftest import record

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


def _wait(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_watcher_survives_every_error_of_a_bad_revision_and_takes_the_next_good_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision the rule engine refuses, and one whose reload raises anything else, are logged and
    skipped; the old revision keeps serving and the next good revision is picked up."""
    import structlog

    import joint_sanctions.rules as rules_module

    check_module = sys.modules["joint_sanctions.check"]  # the package's 'check' is the function

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
            assert _wait(lambda: any(e["event"] == "measures_reload_failed" and e["error"] == "RuleEngineError"
                                     for e in logs))
            _write(folder / "a.yaml", _measure("T-BOOM"))
            assert _wait(lambda: any(e["event"] == "measures_watch_failed" for e in logs))
            assert engine.revision == good
            _write(folder / "a.yaml", _measure("T-B"))
            assert _wait(lambda: engine.revision != good)
            assert watcher._thread.is_alive()
        finally:
            watcher.stop()
    assert _ids(engine) == ["T-B"]
    failed = next(e for e in logs if e["event"] == "measures_watch_failed")
    assert (failed["error"], failed["revision"]) == ("RuntimeError", good)
