"""Benchmark workers: each contender runs in a fresh process of its own, on the same input files.

    python benchmarks/workers.py KIND SPEC.json OUT.json

KIND is ``import``, ``compile``, ``project``, ``durable`` or ``zen``. SPEC is written by run.py;
OUT receives the timings and, for the checkers, the measure ids each check returned (run.py
compares them). A fresh process per contender keeps their heaps, threads and rule-engine hosts
apart, and makes the resident-memory figure of the project's engine honest.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

# Run as a script, so this folder is on sys.path: the helpers beside it import directly.
from common import quiet_logging, rss_mb, timed

quiet_logging()  # the library is imported later, inside the workers


def _load(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _subject_arg(row: Sequence[Any]) -> str | dict[str, Any]:
    """How a host passes the subject: a bare id, or a mapping when it knows a related party."""
    sid, _matter, _amount, role, rel_id = row[:5]
    if rel_id is None:
        return sid
    return {"id": sid, "related_parties": [{"role": role, "id": rel_id}]}


def _kwargs(row: Sequence[Any]) -> dict[str, Any]:
    return {} if row[2] is None else {"amount": row[2]}


def _compiled_helpers() -> bool | None:
    """Whether the library's compiled helpers serve checks (None: a library without them)."""
    try:
        from joint_sanctions._accel import COMPILED
    except ImportError:
        return None
    return bool(COMPILED)


def _lane_answered() -> int | None:
    """How many checks the library's check lane (Engine.check in C) has answered; None without one."""
    from joint_sanctions import Engine

    answered = getattr(Engine.check, "answered", None)
    return answered if isinstance(answered, int) else None


def _compile(dirs: Sequence[str]) -> Any:
    from joint_sanctions._compile import compile_measures
    from joint_sanctions._load import load_measure_lists

    return compile_measures(load_measure_lists(dirs))


# --- import ---------------------------------------------------------------------------------------


def work_import(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the records CSV into a fresh SQLite file with ``import_records``."""
    from joint_sanctions._records import import_records
    from joint_sanctions.stores._sqlite import SqliteStore

    db = spec["db"]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    t0 = time.perf_counter()
    store = SqliteStore(db)
    report = import_records(store, spec["csv"])
    seconds = time.perf_counter() - t0
    count = store.count()
    store.close()
    errors = list(getattr(report, "errors", []) or [])
    return {
        "import_seconds": seconds,
        "stored": getattr(report, "stored", None),
        "count": count,
        "errors": len(errors),
        "first_errors": [str(e) for e in errors[:3]],
        "db_mb": round(os.path.getsize(db) / 1e6, 1),
        **{f"import_{k}": v for k, v in rss_mb().items()},
    }


# --- compile --------------------------------------------------------------------------------------


def work_compile(spec: dict[str, Any]) -> dict[str, Any]:
    """Median time to load (parse + validate YAML) and to compile the measure lists."""
    from joint_sanctions._compile import compile_measures
    from joint_sanctions._load import load_measure_lists

    load_ms, compile_ms = [], []
    compiled = None
    for _ in range(spec["runs"]):
        t0 = time.perf_counter()
        files = load_measure_lists(spec["dirs"])
        t1 = time.perf_counter()
        compiled = compile_measures(files)
        t2 = time.perf_counter()
        load_ms.append((t1 - t0) * 1000)
        compile_ms.append((t2 - t1) * 1000)
    assert compiled is not None
    return {
        "load_ms": statistics.median(load_ms),
        "compile_ms": statistics.median(compile_ms),
        "compile_ms_runs": [round(x, 2) for x in compile_ms],
        "measures": len(compiled.measures),
        "index_keys": len(compiled.index),
        "revision": compiled.revision,
    }


# --- this project ---------------------------------------------------------------------------------


def work_project(spec: dict[str, Any]) -> dict[str, Any]:
    """Engine start-up and memory, then no-hit / hit / mixed / sample / check_many timings, then answers."""
    mem_start = rss_mb()
    from joint_sanctions import Engine
    from joint_sanctions.stores._sqlite import SqliteStore

    compiled = _compile(spec["dirs"])
    mem_imports = rss_mb()
    t0 = time.perf_counter()
    try:
        engine = Engine(
            measures=compiled,
            store=SqliteStore(spec["db"]),
            cases=False,
            rules="durable",
        )  # the default clock: checks at the current time, the path hosts take
        t1 = time.perf_counter()
        # Whatever the engine loads on its first checks (a membership structure, the ruleset) loads now.
        for row in spec["warmup"]:
            engine.check(_subject_arg(row), row[1], open_case=False, **_kwargs(row))
    except Exception as exc:  # noqa: BLE001  # any failure is a finding run.py reports, not a crash
        import traceback

        return {
            "error": f"{type(exc).__name__}: {exc}",
            "check": row if "engine" in locals() else None,
            "measures": len(compiled.measures),
            "traceback": traceback.format_exc(limit=-4),
        }
    t2 = time.perf_counter()
    mem_engine = rss_mb()
    out: dict[str, Any] = {
        "engine_init_s": t1 - t0,
        "first_checks_s": t2 - t1,
        "startup_s": t2 - t0,
        "rss_start_mb": mem_start["rss_mb"],
        "rss_imports_mb": mem_imports["rss_mb"],
        "rss_mb": mem_engine["rss_mb"],
        "rss_peak_mb": mem_engine["peak_mb"],
        "rules_backend": getattr(engine, "rules_backend", None),
        "compiled_helpers": _compiled_helpers(),
    }

    stream = _load(spec["stream"])
    rows: list[list[Any]] = stream["checks"]
    calls = [(_subject_arg(r), r[1], _kwargs(r)) for r in rows]
    listed = [i for i, r in enumerate(rows) if r[5]]
    unlisted = [i for i, r in enumerate(rows) if not r[5]]
    sample = stream["sample"]
    check = engine.check

    def pass_over(indices: Sequence[int] | None) -> Callable[[], None]:
        chosen = calls if indices is None else [calls[i] for i in indices]

        def run() -> None:
            for subject, matter, kw in chosen:
                check(subject, matter, open_case=False, **kw)

        return run

    runs, budget = spec["runs"], spec["budget_s"]
    # First an untimed pass over every check: it warms every path, collects the answers (the
    # measure ids of each check, kept where non-empty), and turns a failure into a report.
    answers: dict[str, list[str]] = {}
    decisions: dict[str, int] = {}
    lane_before = _lane_answered()
    for i, (subject, matter, kw) in enumerate(calls):
        try:
            result = check(subject, matter, open_case=False, **kw)
        except Exception as exc:  # noqa: BLE001  # any failure is a finding run.py reports, not a crash
            import traceback

            return {
                "error": f"{type(exc).__name__}: {exc}",
                "check": rows[i],
                "measures": len(compiled.measures),
                "traceback": traceback.format_exc(limit=-4),
            }
        ids = sorted({m.measure_id for m in result.measures})
        decisions[result.decision] = decisions.get(result.decision, 0) + 1
        if ids:
            answers[str(i)] = ids

    lane_after = _lane_answered()
    out["lane_share"] = None if lane_before is None or lane_after is None else (lane_after - lane_before) / len(calls)
    sections = {
        "nohit": (pass_over(unlisted), len(unlisted)),
        "hit": (pass_over(listed), len(listed)),
        "mixed": (pass_over(None), len(calls)),
        "mixed_sample": (pass_over(sample), len(sample)),
    }
    # Where the no-hit time goes, by what the host passes (for whoever optimises the check path).
    shapes = {
        "nohit_bare_id": [i for i in unlisted if rows[i][2] is None and rows[i][4] is None],
        "nohit_with_amount": [i for i in unlisted if rows[i][2] is not None and rows[i][4] is None],
        "nohit_with_related_party": [i for i in unlisted if rows[i][4] is not None],
    }
    for name, idx in shapes.items():
        sections[name] = (pass_over(idx), len(idx))
    memo_stats = getattr(engine, "memo_stats", None)  # the firing memo's counters, when the engine has one
    memo: dict[str, Any] = {"before_timing": memo_stats() if memo_stats else None}
    for name, (fn, n) in sections.items():
        out[name] = timed(fn, n, runs=runs, budget_seconds=budget)
        print(
            f"  project {name:<24} {_fmt(out[name]['us'])} µs/check ({out[name]['runs']} runs)",
            file=sys.stderr,
            flush=True,
        )

    # Every check a hit: listed subjects no other check names, each once; each pass draws its amounts
    # anew (a seeded draw per pass), so a memo keyed by anything finer than the rules' abstraction
    # gains nothing from the repeats. The untimed pass over every draw is the warm-up and the answers.
    hit_rows: list[list[Any]] = stream["hit_stream"]["checks"]
    draws: list[list[Any]] = stream["hit_stream"]["amounts"]
    hit_calls = [
        [(_subject_arg(r), r[1], {} if a is None else {"amount": a}) for r, a in zip(hit_rows, amounts, strict=True)]
        for amounts in draws
    ]
    hit_answers: dict[str, list[str]] = {}
    for v, chosen in enumerate(hit_calls):
        for i, (subject, matter, kw) in enumerate(chosen):
            ids = sorted({m.measure_id for m in check(subject, matter, open_case=False, **kw).measures})
            if ids:
                hit_answers[f"{v}:{i}"] = ids
    memo["before_hit_stream"] = memo_stats() if memo_stats else None
    next_draw = iter(range(1 << 62))

    def hit_stream_pass() -> None:
        for subject, matter, kw in hit_calls[next(next_draw) % len(hit_calls)]:
            check(subject, matter, open_case=False, **kw)

    if hit_rows:
        out["hit_stream"] = timed(hit_stream_pass, len(hit_rows), runs=runs, budget_seconds=budget)
        print(f"  project hit_stream               {_fmt(out['hit_stream']['us'])} µs/check", file=sys.stderr,
              flush=True)
    memo["after_hit_stream"] = memo_stats() if memo_stats else None
    out["hit_stream_answers"] = hit_answers
    out["hit_stream_with_measures"] = len(hit_answers)
    out["memo"] = memo

    out["log"] = _decision_log_cost(engine, calls, spec, runs)

    groups = [((matter, amount), idx) for (matter, amount), idx in stream["groups"]]
    batches = [
        ([calls[i][0] for i in idx], matter, {} if amount is None else {"amount": amount})
        for (matter, amount), idx in groups
    ]
    check_many = engine.check_many

    def many() -> None:
        for subjects, matter, kw in batches:
            check_many(subjects, matter, open_case=False, **kw)

    out["check_many"] = timed(many, len(calls), runs=runs, budget_seconds=budget)
    print(
        f"  project check_many               {_fmt(out['check_many']['us'])} µs/subject",
        file=sys.stderr,
        flush=True,
    )

    many_mismatches = []
    for (subjects, matter, kw), (_key, idx) in zip(batches, groups, strict=True):
        results = check_many(subjects, matter, open_case=False, **kw)
        if len(results) != len(idx):
            many_mismatches.append(
                {
                    "group": [matter, kw.get("amount")],
                    "error": f"check_many returned {len(results)} results for {len(idx)} subjects",
                }
            )
            continue
        for i, result in zip(idx, results, strict=True):
            ids = sorted({m.measure_id for m in result.measures})
            if ids != answers.get(str(i), []):
                many_mismatches.append({"index": i, "check_many": ids, "check": answers.get(str(i), [])})
    out.update(
        answers=answers,
        decisions=decisions,
        check_many_mismatches=many_mismatches[:20],
        check_many_mismatch_count=len(many_mismatches),
        revision=compiled.revision,
        rss_after_mb=rss_mb()["rss_mb"],
    )
    return out


def _decision_log_cost(engine: Any, calls: list[Any], spec: dict[str, Any], runs: int) -> dict[str, Any]:
    """The mixed stream with the library's ``check`` event on, as an application keeps it: structlog
    configured for JSON lines appended to a file (level, timestamp, JSON renderer; one write per event).
    Silent and logged runs alternate, so the machine's load falls on both alike. The engine follows a
    new configuration at its next refresh (refresh_interval, 1 s by default): a check after that wait
    rebinds it. ``app_only_us`` is the same event through the application's chain alone (no library):
    the part of the cost that belongs to the application's choice of renderer and file.

    The library's own part is measured apart, as the file's writes vary more than it costs: runs with
    the event on but an application chain that drops it at once (a processor raising DropEvent),
    less the silent runs, less that same empty chain called by the application itself on a like
    event (structlog's dispatch, which any logger costs), each the fastest of its runs. What remains
    is what the library adds: building the event and whatever it runs before the application's
    processors."""
    import logging

    import structlog

    path = os.path.join(os.path.dirname(spec["stream"]), "decision-log.jsonl")
    check = engine.check

    def drop(_logger: Any, _name: str, _event: Any) -> Any:
        raise structlog.DropEvent

    def configure(logged: bool | None) -> Any:
        """Silent (False), the JSON-lines file (True), or an empty chain (None)."""
        if logged is None:
            structlog.configure(processors=[drop], wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
                                logger_factory=structlog.ReturnLoggerFactory(), cache_logger_on_first_use=True)
            return None
        if not logged:
            quiet_logging()
            return None
        f = open(path, "w", encoding="utf-8")  # noqa: SIM115  # open while the logger writes; closed below
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.WriteLoggerFactory(file=f),
            cache_logger_on_first_use=True,
        )
        return f

    def follow() -> None:
        time.sleep(1.05)  # past refresh_interval: the next check rebinds the engine's logger
        subject, matter, kw = calls[0]
        check(subject, matter, open_case=False, **kw)

    def run() -> None:
        for subject, matter, kw in calls:
            check(subject, matter, open_case=False, **kw)

    silent_runs: list[float] = []
    logged_runs: list[float] = []
    empty_runs: list[float] = []
    lines = 0
    for _ in range(max(runs, 1)):
        for logged, into in ((False, silent_runs), (True, logged_runs), (None, empty_runs)):
            f = configure(logged)
            follow()
            # Three runs per setting: the library's part is a small difference, taken between the
            # fastest runs (the least disturbed by the machine's other work).
            into.extend(timed(run, len(calls), runs=3)["runs_us"])
            if f is not None:
                f.close()
                with open(path, "rb") as counted:
                    lines = sum(1 for _ in counted)
    # The application's chain alone, on an event like the library's: what any logger would pay.
    f = configure(True)
    app_log = structlog.get_logger("app").bind()
    event = {"check_id": "0" * 32, "revision": "0" * 16, "subject": calls[0][0] if isinstance(calls[0][0], str) else "",
             "matter_type": calls[0][1], "decision": "clear", "measure_ids": [], "duration_ms": 0.004}
    n = 20_000

    def app_only() -> None:
        for _ in range(n):
            app_log.info("check", **event)

    app_us = timed(app_only, n, runs=max(runs, 1))["us"]
    f.close()
    configure(None)
    app_log = structlog.get_logger("app").bind()
    app_empty_us = min(timed(app_only, n, runs=max(runs, 3))["runs_us"])
    quiet_logging()
    follow()
    with open(path, encoding="utf-8") as written:
        sample_event = json.loads(written.readline() or "null")
    os.remove(path)
    silent, logged = statistics.median(silent_runs), statistics.median(logged_runs)
    library = min(empty_runs) - min(silent_runs) - app_empty_us
    print(f"  project mixed, decision log on   {_fmt(logged)} µs/check (silent {_fmt(silent)}; "
          f"{logged - silent:+.2f} µs; the library's part {library:+.2f} µs)", file=sys.stderr, flush=True)
    return {
        "silent_us": silent,
        "logged_us": logged,
        "extra_us": logged - silent,
        "app_only_us": app_us,
        "library_us": library,
        "empty_chain_us": statistics.median(empty_runs),
        "app_empty_chain_us": app_empty_us,
        "empty_runs_us": [round(x, 3) for x in empty_runs],
        "silent_runs_us": [round(x, 3) for x in silent_runs],
        "logged_runs_us": [round(x, 3) for x in logged_runs],
        "events_last_run": lines,
        "event_keys": sorted(sample_event) if isinstance(sample_event, dict) else None,
    }


# --- peers ----------------------------------------------------------------------------------------


def _peer_inputs(spec: dict[str, Any]) -> tuple[Any, list[list[Any]], list[int], list[int], dict[str, Any]]:
    stream = _load(spec["stream"])
    rows = stream["checks"]
    active = {k: [tuple(r) for r in v] for k, v in _load(spec["active"]).items()}
    listed = [i for i, r in enumerate(rows) if r[5]]
    return _compile(spec["dirs"]), rows, stream["sample"], listed, active


def work_durable(spec: dict[str, Any]) -> dict[str, Any]:
    """durable_rules naive on the sample; durable_rules' own call cost on the hit checks."""
    from peers import DurableNaive, flat_facts

    compiled, rows, sample, listed, active = _peer_inputs(spec)
    day, runs, budget = spec["day"], spec["runs"], spec["budget_s"]
    shapes: dict[str, dict[str, Any]] = {}  # the distinct facts of the workload, ids aside
    for i in sorted(set(sample) | set(listed)):
        for fact in flat_facts(rows[i], day, active):
            shapes.setdefault(json.dumps({k: v for k, v in fact.items() if k != "id"}, sort_keys=True), fact)
    t0 = time.perf_counter()
    naive = DurableNaive(compiled, probe=list(shapes.values()))
    out: dict[str, Any] = {
        "rules": len(compiled.measures),
        "revision": compiled.revision,
        "rulesets": len(naive.rulesets),
        "refusals": naive.refusals,
        "setup_s": time.perf_counter() - t0,
    }
    if naive.refusals:
        print(
            f"  durable_rules refused the ruleset ({naive.refusals[0]}); split into {len(naive.rulesets)} "
            "rulesets, every fact goes to each",
            file=sys.stderr,
            flush=True,
        )

    def naive_pass(indices: Sequence[int]) -> Callable[[], None]:
        chosen = [rows[i] for i in indices]

        def run() -> None:  # what an integrator writes: build the facts, ask the rule engine
            for row in chosen:
                naive.check(flat_facts(row, day, active))

        return run

    for i in sample[:2000]:
        naive.check(flat_facts(rows[i], day, active))
    out["naive_sample"] = timed(naive_pass(sample), len(sample), runs=runs, budget_seconds=budget)
    print(f"  durable naive sample  {_fmt(out['naive_sample']['us'])} µs/check", file=sys.stderr, flush=True)
    out["naive_hit"] = timed(naive_pass(listed), len(listed), runs=runs, budget_seconds=budget)

    # durable_rules' own cost per hit check: only the assert/retract calls the check needs (each
    # fact into the ruleset(s) holding rules for its list and matter type), facts built beforehand
    # with ids unique per pass, as durable_rules refuses a fact identical to one it has seen.
    prebuilt = [
        [(rs, f) for f in flat_facts(rows[i], day, active) for rs in naive.targets(f)] for i in listed
    ]
    call_runs = []
    for p in range(max(runs, 1)):
        batches = [
            [(rs, {**f, "id": f"{p}:{n}:{f['id']}"}) for rs, f in pairs] for n, pairs in enumerate(prebuilt)
        ]
        t = time.perf_counter()
        for pairs in batches:
            naive.assert_and_retract_pairs(pairs)
        call_runs.append((time.perf_counter() - t) / max(1, len(listed)) * 1e6)
    naive.fired.clear()
    out["call_hit"] = {
        "us": statistics.median(call_runs) if listed else None,
        "runs_us": [round(x, 3) for x in call_runs],
        "runs": len(call_runs),
        "items": len(listed),
        "calls_per_check": (sum(len(p) for p in prebuilt) / len(prebuilt)) if prebuilt else 0,
    }
    print(f"  durable own call/hit  {_fmt(out['call_hit']['us'])} µs/check", file=sys.stderr, flush=True)

    answers = {}
    for i in sorted(set(sample) | set(listed)):
        ids = sorted(naive.check(flat_facts(rows[i], day, active)))
        if ids:
            answers[str(i)] = ids
    out["answers"] = answers
    out["checked"] = sorted(set(sample) | set(listed))
    return out


def work_zen(spec: dict[str, Any]) -> dict[str, Any]:
    """zen-engine with the equivalent decision table on the sample (and on the hit checks)."""
    from peers import ZenTable, nested_facts

    compiled, rows, sample, listed, active = _peer_inputs(spec)
    day, runs, budget = spec["day"], spec["runs"], spec["budget_s"]
    t0 = time.perf_counter()
    table = ZenTable(compiled)
    out: dict[str, Any] = {
        "rows": table.rows,
        "loader": table.loader,
        "setup_s": time.perf_counter() - t0,
        "revision": compiled.revision,
    }
    try:
        from importlib.metadata import version

        out["version"] = version("zen-engine")
    except Exception:  # noqa: BLE001  # version is informative only
        out["version"] = None

    def zen_pass(indices: Sequence[int]) -> Callable[[], None]:
        chosen = [rows[i] for i in indices]

        def run() -> None:
            for row in chosen:
                table.check(nested_facts(row, day, active))

        return run

    for i in sample[:2000]:
        table.check(nested_facts(rows[i], day, active))
    out["sample"] = timed(zen_pass(sample), len(sample), runs=runs, budget_seconds=budget)
    print(f"  zen sample            {_fmt(out['sample']['us'])} µs/check", file=sys.stderr, flush=True)
    out["hit"] = timed(zen_pass(listed), len(listed), runs=runs, budget_seconds=budget)
    answers = {}
    for i in sorted(set(sample) | set(listed)):
        ids = sorted(table.check(nested_facts(rows[i], day, active)))
        if ids:
            answers[str(i)] = ids
    out["answers"] = answers
    out["checked"] = sorted(set(sample) | set(listed))
    # The all-hit stream, every draw of its amounts: the agreement run.py asserts there too.
    hit = _load(spec["stream"])["hit_stream"]
    hit_answers = {}
    for v, amounts in enumerate(hit["amounts"]):
        for i, (row, amount) in enumerate(zip(hit["checks"], amounts, strict=True)):
            ids = sorted(table.check(nested_facts([row[0], row[1], amount, *row[3:]], day, active)))
            if ids:
                hit_answers[f"{v}:{i}"] = ids
    out["hit_stream_answers"] = hit_answers
    return out


def _fmt(us: float | None) -> str:
    return "—" if us is None else f"{us:10.2f}"


WORKERS = {
    "import": work_import,
    "compile": work_compile,
    "project": work_project,
    "durable": work_durable,
    "zen": work_zen,
}


def main(argv: Sequence[str]) -> int:
    kind, spec_path, out_path = argv
    spec = _load(spec_path)
    result = WORKERS[kind](spec)
    result["worker_rss"] = rss_mb()
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
