"""``make bench``, part 3: closed-loop delivery throughput (issue 3), cases delivered per second.

    python benchmarks/loop.py                  # 2,000 cases, 1 and 4 workers, HTTP and JSONL sinks
    python benchmarks/loop.py --cases 300 --runs 1   # a quick dry run

For every measurement, in a fresh SQLite file and through the public API only: import generated
records (benchmarks/datagen.py), check listed subjects with an ``Engine`` whose case book is
``case_book_for(store)`` until N cases are open (发起/响应), dispose each with ``CaseBook.dispose``
(处置: applied, partially applied, not applied with a reason), then time
``deliver(book, sink, workers=W)`` (反馈) into

- ``HttpSink(sim.url)``, ``sim = PlatformSimulator()`` on 127.0.0.1 in this process (it validates
  every record against the feedback v1 schema and answers 201, or 409 to a resend);
- ``JsonlFileSink(FILE)`` (one line per record, fsynced).

It asserts that every case was delivered exactly once (no case pending, as many records at the
receiver as cases, 0 duplicates, 0 invalid), prints a table and writes benchmarks/loop-results.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script, so this folder is on sys.path: the helpers beside it import directly.
import datagen
from common import log, machine_info, quiet_logging, report, rss_mb

HERE = Path(__file__).resolve().parent
quiet_logging()

#: deliver()'s default (and ``cases feedback --workers``'s) is 1; 4 shows what threads add.
WORKERS = (1, 4)
SINKS = ("http", "jsonl")
_DISPOSALS = (
    {"result": "applied", "text": "已按措施限制参加政府采购", "department": "郑州市财政局",
     "department_code": "11410100005252001X"},
    {"result": "partially_applied", "text": "部分实施", "reason": "部分措施不适用于本事项",
     "department": "郑州市发展和改革委员会"},
    {"result": "not_applied", "reason": "主体已完成信用修复，依法不再实施", "department": "郑州市市场监督管理局"},
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=2000, help="disposed cases per measurement (default 2,000)")
    p.add_argument("--workers", default=",".join(map(str, WORKERS)),
                   help="deliver(workers=…) values, comma-separated "
                        "(default 1,4; the library's default is 1)")
    p.add_argument("--sinks", default=",".join(SINKS), help="http, jsonl or both (default both)")
    p.add_argument("--runs", type=int, default=3,
                   help="runs per sink and worker count; the median is reported")
    p.add_argument("--records", type=int, default=20_000, help="generated records in each fresh store")
    p.add_argument("--seed", type=int, default=20250601)
    p.add_argument("--data-dir", type=Path, default=HERE / "data")
    p.add_argument("--results", type=Path, default=HERE / "loop-results.json")
    return p.parse_args(argv)


def listed_subjects(recs: datagen.Records) -> list[str]:
    """Distinct subjects with an active record on the check day, in record order."""
    day = datagen.REFERENCE_DAY.toordinal()
    seen: dict[int, None] = {}
    for i in range(len(recs)):
        if recs.is_active(i, day):
            seen.setdefault(recs.subject[i], None)
    return [recs.subject_id(s) for s in seen]


def prepare(db: Path, records_csv: Path, subjects: list[str], n_cases: int) -> tuple[Any, dict[str, Any]]:
    """A fresh store with ``n_cases`` disposed cases, made through the public API; timings of each step."""
    from joint_sanctions import Engine, import_records
    from joint_sanctions._cases import case_book_for
    from joint_sanctions.stores._sqlite import SqliteStore

    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    store = SqliteStore(db)
    t0 = time.perf_counter()
    import_records(store, records_csv)
    t1 = time.perf_counter()
    book = case_book_for(store)
    engine = Engine(store=store, cases=book)  # the shipped measure lists, cases opened in the store's file
    matters = datagen.MATTER_TYPES
    case_ids: list[str] = []
    checks = 0
    t2 = time.perf_counter()
    for sid in subjects:
        matter = matters[checks % len(matters)]
        checks += 1
        result = engine.check(sid, matter, item_code=f"4101000{checks:06d}",
                              application_no=f"ZZ2025{checks:08d}", department="郑州市公共资源交易中心")
        if result.case_id is not None:
            case_ids.append(result.case_id)
            if len(case_ids) == n_cases:
                break
    t3 = time.perf_counter()
    if len(case_ids) < n_cases:
        raise SystemExit(f"only {len(case_ids)} cases opened from {checks} listed subjects; raise --records")
    for i, case_id in enumerate(case_ids):
        book.dispose(case_id, **_DISPOSALS[i % len(_DISPOSALS)])
    t4 = time.perf_counter()
    pending = book.pending_count()
    if pending != n_cases:
        raise SystemExit(f"{pending} cases pending after disposing {n_cases}")
    return book, {"import_s": t1 - t0, "open_s": t3 - t2, "checks": checks, "dispose_s": t4 - t3,
                  "case_ids": case_ids}


def measure(sink_kind: str, workers: int, book: Any, case_ids: list[str], out_dir: Path) -> dict[str, Any]:
    """One timed ``deliver`` run into a fresh receiver; what the receiver got."""
    from joint_sanctions._delivery import HttpSink, JsonlFileSink, deliver
    from joint_sanctions.testing.simulator import PlatformSimulator

    n = len(case_ids)
    if sink_kind == "http":
        with PlatformSimulator() as sim, HttpSink(sim.url) as sink:
            t0 = time.perf_counter()
            report = deliver(book, sink, workers=workers)
            seconds = time.perf_counter() - t0
            got = sim.summary()
            received = {"records": got["accepted"], "requests": got["requests"],
                        "duplicates": got["duplicates"],
                        "mismatched": got["mismatched"], "invalid": got["invalid"],
                        "overlapping": got["overlapping"], "missing": len(set(case_ids) - set(sim.accepted))}
    else:
        path = out_dir / f"feedback-{workers}w.jsonl"
        path.unlink(missing_ok=True)
        with JsonlFileSink(path) as sink:
            t0 = time.perf_counter()
            report = deliver(book, sink, workers=workers)
            seconds = time.perf_counter() - t0
        lines = path.read_bytes().splitlines()
        keys = [json.loads(line)["case_id"] for line in lines]
        received = {"records": len(set(keys)), "requests": len(lines),
                    "duplicates": len(keys) - len(set(keys)), "mismatched": 0, "invalid": 0,
                    "overlapping": 0, "missing": len(set(case_ids) - set(keys))}
    stats = book.stats()
    problems = []
    if len(report.delivered) != n or report.rejected or report.left_pending or report.pending_after:
        problems.append(f"delivered {len(report.delivered)} of {n}, rejected {len(report.rejected)}, "
                        f"left pending {len(report.left_pending)}, pending after {report.pending_after}")
    if stats.delivered != n or stats.pending:
        problems.append(f"case book: {stats.delivered} fed back, {stats.pending} pending of {n}")
    if received["records"] != n or received["missing"] or received["invalid"] or received["mismatched"]:
        problems.append(f"receiver: {received}")
    return {"sink": sink_kind, "workers": workers, "cases": n, "seconds": seconds, "per_s": n / seconds,
            "attempts": report.attempts, "received": received, "problems": problems}


# --- the table --------------------------------------------------------------------------------------


def render(res: dict[str, Any]) -> str:
    rows = []
    labels = {"http": "HttpSink → PlatformSimulator (127.0.0.1)", "jsonl": "JsonlFileSink (fsync per record)"}
    for m in res["measurements"]:
        default = " (default)" if m["workers"] == 1 else ""
        rows.append((f"deliver {m['cases']:,} cases, {labels[m['sink']]}, {m['workers']} worker(s){default}",
                     f"{m['seconds']:,.2f} s", f"{m['per_s']:,.0f} /s", f"{m['received_records']:,}",
                     f"{m['duplicates']:,}", "0" if m["duplicates"] == 0 else "NOT MET"))
    p = res["prepare"]
    n = res["cases"]
    rows.append((f"open {n:,} cases (Engine.check with a case book; {p['checks']:,} checks)",
                 f"{p['open_s']:,.2f} s", f"{n / p['open_s']:,.0f} /s", "", "", ""))
    rows.append((f"dispose {n:,} cases (CaseBook.dispose)", f"{p['dispose_s']:,.2f} s",
                 f"{n / p['dispose_s']:,.0f} /s", "", "", ""))
    head = ("measurement", "median", "cases/s", "at receiver", "duplicates", "(0 expected)")
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i in (0, 5) else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def footer(res: dict[str, Any]) -> str:
    m = res["machine"]
    notes = [
        (f"median of {res['runs_requested']} runs per sink and worker count; each run starts from a fresh "
         f"SQLite file with {res['records']:,} generated records and {res['cases']:,} disposed cases "
         "(set-up not timed); median = the deliver(book, sink, workers=W) call alone. Open / dispose rows: "
         "medians of the set-ups."),
        ("The simulator runs in this process (threads of a ThreadingHTTPServer, keep-alive, Nagle off) and "
         "validates each record against the feedback v1 JSON Schema: it shares the sender's GIL, so HTTP "
         "numbers include the receiver's work."),
        ("Asserted on every run: every case delivered once and fed back, none pending, the receiver holds "
         "exactly the cases sent, none invalid, none resent with another body. 'duplicates' = resends the "
         "receiver saw (409 from the simulator, repeated case_id lines in the JSONL file)."),
        "Shipped measure lists; checks at the current time; structlog drops info-level events here.",
        (f"Machine: {m['cpu']} ({m['cpus']} CPUs), Python {m['python']}, load average before {m['loadavg']}, "
         f"after {res['loadavg_after']}; peak RSS {res['rss_peak_mb']:.0f} MB."),
    ]
    if max(m["loadavg"] or [0]) > 0.5 * (m["cpus"] or 1):
        notes.append("WARNING: the machine was busy when the run started; timings are noisy.")
    return "\n".join("  * " + n for n in notes)


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    info = machine_info()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    sinks = [s.strip() for s in args.sinks.split(",") if s.strip()]
    if not set(sinks) <= set(SINKS) or not workers or min(workers) < 1:
        log(f"--sinks takes {', '.join(SINKS)}; --workers positive integers")
        return 2
    out_dir = args.data_dir / "loop"
    out_dir.mkdir(parents=True, exist_ok=True)

    params = datagen.Params(records=args.records, checks=0, measures=0, seed=args.seed)
    log(f"[1/3] {args.records:,} generated records (datagen, seed {args.seed})")
    recs = datagen.generate_records(params)
    records_csv = args.data_dir / f"records-{args.records}-seed{args.seed}.csv"
    datagen.write_records_csv(recs, records_csv, params.records_key())
    subjects = listed_subjects(recs)
    del recs

    log(f"[2/3] {len(workers) * len(sinks)} measurements × {args.runs} runs, {args.cases:,} cases each")
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    prepared: list[dict[str, Any]] = []
    problems: list[str] = []
    db = out_dir / "loop.db"
    for sink_kind in sinks:
        for w in workers:
            for r in range(args.runs):
                book, prep = prepare(db, records_csv, subjects, args.cases)
                case_ids = prep.pop("case_ids")
                prepared.append(prep)
                m = measure(sink_kind, w, book, case_ids, out_dir)
                runs.setdefault((sink_kind, w), []).append(m)
                problems += [f"{sink_kind} {w} worker(s), run {r + 1}: {p}" for p in m["problems"]]
                log(f"      {sink_kind:<5} {w} worker(s) run {r + 1}: {m['seconds']:6.2f} s, "
                    f"{m['per_s']:7,.0f} cases/s, duplicates {m['received']['duplicates']}  "
                    f"(set-up: open {prep['open_s']:.1f} s, dispose {prep['dispose_s']:.1f} s)")
    if problems:
        log("\nbenchmark aborted: delivery lost, duplicated or refused cases; no loop-results.json written.")
        for p in problems:
            log(" - " + p)
        return 1

    log("[3/3] table")
    measurements = []
    for (sink_kind, w), ms in runs.items():
        seconds = statistics.median(m["seconds"] for m in ms)
        measurements.append({
            "sink": sink_kind, "workers": w, "cases": args.cases, "seconds": seconds,
            "per_s": args.cases / seconds, "runs_s": [round(m["seconds"], 3) for m in ms],
            "received_records": ms[-1]["received"]["records"],
            "duplicates": sum(m["received"]["duplicates"] for m in ms),
            "requests": [m["received"]["requests"] for m in ms], "attempts": [m["attempts"] for m in ms],
            "overlapping": sum(m["received"]["overlapping"] for m in ms),
        })
    prep_median = {k: statistics.median(p[k] for p in prepared) for k in ("import_s", "open_s", "dispose_s")}
    prep_median["checks"] = prepared[0]["checks"]
    res: dict[str, Any] = {
        "measurements": measurements,
        "per_s": {f"{m['sink']}_{m['workers']}w": m["per_s"] for m in measurements},
        "duplicates": sum(m["duplicates"] for m in measurements),
        "cases": args.cases,
        "records": args.records,
        "prepare": prep_median,
        "open_per_s": args.cases / prep_median["open_s"],
        "dispose_per_s": args.cases / prep_median["dispose_s"],
        "runs_requested": args.runs,
        "seed": args.seed,
        "rss_peak_mb": rss_mb()["peak_mb"],
        "structlog": "info-level events dropped (make_filtering_bound_logger(WARNING)) "
                     "in the benchmark process",
        "machine": info,
    }
    report(res, render, footer, args.results, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
