"""``make bench``, part 2: batch verification throughput (issue 4), subjects per second.

    python benchmarks/batch.py                        # 10,958 and 1,000,000 subjects, 1,000,000 records
    python benchmarks/batch.py --records 100000 --sizes 10958,100000 --runs 1   # a quick dry run

It generates (or reuses) the records of the data set (benchmarks/datagen.py, the file run.py
writes), imports them into a SQLite file, writes deterministic batch input CSVs (design.md §8:
``subject_id, subject_name, subject_type, legal_representative_id``; ~2 % of the subjects, or their
legal representative, have an active record), then times the path ``joint-sanctions batch FILE
--matter TYPE --out REPORT`` takes: ``Engine(measures, store=URL, cases=False)``, ``open_batch(FILE)``
and ``run_batch(engine, source, matter, REPORT)``, each size and report format in a fresh process
(so its peak RSS is its own). It checks every report (row count, no subject without an active
record flagged, the same decisions in every format), runs the CLI itself once on the small batch,
prints a table and writes benchmarks/batch-results.json.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script, so this folder is on sys.path: the helpers beside it import directly.
import datagen
from common import log, machine_info, quiet_logging, report, rss_mb, timed

HERE = Path(__file__).resolve().parent
quiet_logging()

#: Issue 4: "batch throughput (subjects per second) for 10,958 and for 1,000,000 subjects".
SIZES = (10_958, 1_000_000)
#: Issue 4: "A batch of 10,958 subjects must finish in seconds" — read here as under 10 s, CLI included.
SMALL_SIZE, SMALL_TARGET_S = 10_958, 10.0
#: Formats timed on batches up to --all-formats-up-to subjects; larger batches get .csv only.
FORMATS = (".csv", ".xlsx", ".html")
#: Bump when the input files' content changes, so stale ones in benchmarks/data/batch/ are not reused.
INPUT_VERSION = 1
#: A worker running longer than this is taken for hung.
WORKER_TIMEOUT_S = 3600


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=",".join(map(str, SIZES)),
                   help="batch sizes, comma-separated (default 10958,1000000)")
    p.add_argument("--records", type=int, default=1_000_000,
                   help="credit records in the store (default 1,000,000)")
    p.add_argument("--measures", type=int, default=1000,
                   help="generated measures added to the shipped lists, as in run.py (0: shipped lists only)")
    p.add_argument("--matter", default="government_procurement", help="matter type of every batch")
    p.add_argument("--all-formats-up-to", type=int, default=SMALL_SIZE,
                   help="batches up to this size are timed for .csv, .xlsx and .html; larger ones for .csv")
    p.add_argument("--runs", type=int, default=3,
                   help="timed batches per size and format; the median is reported")
    p.add_argument("--budget", type=float, default=240.0,
                   help="seconds one size and format may take; fewer runs are made beyond it (default 240)")
    p.add_argument("--seed", type=int, default=20250601)
    p.add_argument("--listed-share", type=float, default=0.02,
                   help="share of subjects (or their legal representative) with an active record")
    p.add_argument("--fresh-db", action="store_true",
                   help="import the records again even if the file is there")
    p.add_argument("--data-dir", type=Path, default=HERE / "data")
    p.add_argument("--results", type=Path, default=HERE / "batch-results.json")
    p.add_argument("--worker", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --- inputs -----------------------------------------------------------------------------------------


def input_key(params: datagen.Params) -> dict[str, Any]:
    return {"subjects": params.checks, "listed_share": params.listed_share, **params.records_key(),
            "input_version": INPUT_VERSION}


def write_batch_csv(stream: datagen.Stream, path: Path, key: dict[str, Any]) -> list[int]:
    """The batch input file (design.md §8) for a generated check stream; returns the listed lines.

    One row per check of the stream (its matter and amount are ignored: a batch has one matter).
    A related party becomes the ``legal_representative_id`` (the only role a batch file names).
    ``subject_type`` is given as its id on a third of the rows, as its Chinese name on another third,
    and left blank on the rest. Line 1 is the header, so check i is on line i + 2.
    """
    from joint_sanctions.vocabulary import SUBJECT_TYPES

    tmp = path.with_name(path.name + ".tmp")
    listed: list[int] = []
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(("subject_id", "subject_name", "subject_type", "legal_representative_id"))
        for i, c in enumerate(stream.checks):
            person = c.id_kind == "resident_id"
            name = f"张某{i}" if person else f"郑州某某{i}有限公司"
            kind = (c.subject_type, SUBJECT_TYPES[c.subject_type], "")[i % 3]
            rep = c.related_id if c.related_id and not person else ""
            w.writerow((c.subject_id, name, kind, rep))
            if c.listed:
                listed.append(i + 2)
    os.replace(tmp, path)
    path.with_name(path.name + ".listed.json").write_text(json.dumps(listed))
    datagen._write_stamp(path, key)
    return listed


def import_db(csv_path: Path, db: Path, key: dict[str, Any], fresh: bool) -> dict[str, Any]:
    """Import the records into ``db`` with ``import_records`` (reused when stamped with ``key``)."""
    from joint_sanctions._records import import_records
    from joint_sanctions.stores._sqlite import SqliteStore

    if not fresh and datagen._stamp_ok(db, key):
        store = SqliteStore(db)
        count = store.count()
        store.close()
        return {"reused": True, "count": count, "seconds": None, "errors": 0}
    for suffix in ("", "-wal", "-shm", ".ok"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    store = SqliteStore(db)
    report = import_records(store, csv_path)
    seconds = time.perf_counter() - t0
    count = store.count()
    store.close()
    if not report.errors:
        datagen._write_stamp(db, key)
    return {"reused": False, "count": count, "seconds": seconds, "errors": len(report.errors),
            "first_errors": [str(e) for e in report.errors[:3]]}


# --- the worker: one size and format in a fresh process ---------------------------------------------


def work(spec: dict[str, Any]) -> dict[str, Any]:
    """Engine start-up as the CLI builds it, then ``runs`` batches through open_batch + run_batch."""
    mem_start = rss_mb()
    from joint_sanctions._batch import open_batch, run_batch
    from joint_sanctions._check import Engine

    mem_imports = rss_mb()
    t0 = time.perf_counter()
    # What cli/batch.py does: --measures DIR… (or the shipped lists), --db URL, no case book.
    engine = Engine(measures=spec["measures"], store=spec["db_url"], cases=False)
    startup_s = time.perf_counter() - t0
    mem_engine = rss_mb()
    summaries: list[Any] = []

    def one_batch() -> None:
        with open_batch(spec["input"]) as source:
            summaries.append(run_batch(engine, source, spec["matter"], spec["report"], open_cases=False))

    t = timed(one_batch, spec["subjects"], runs=spec["runs"], min_seconds=0.0,
              budget_seconds=spec["budget_s"])
    mem_after = rss_mb()
    summary = summaries[-1]
    problems = verify(spec, summary)
    return {
        "format": spec["format"],
        "subjects": spec["subjects"],
        "seconds": t["us"] * spec["subjects"] / 1e6,
        "per_s": 1e6 / t["us"],
        "first_run_s": t["runs_us"][0] * spec["subjects"] / 1e6,
        "runs_s": [round(us * spec["subjects"] / 1e6, 3) for us in t["runs_us"]],
        "runs": t["runs"],
        "summary_seconds": [round(s.seconds, 3) for s in summaries],
        "engine_startup_s": startup_s,
        "measures": len(engine.compiled.measures),
        "revision": engine.revision,
        "rss_imports_mb": mem_imports["rss_mb"],
        "rss_engine_mb": mem_engine["rss_mb"],
        "rss_after_mb": mem_after["rss_mb"],
        "rss_peak_mb": mem_after["peak_mb"],
        "rss_start_mb": mem_start["rss_mb"],
        "report_mb": round(os.path.getsize(spec["report"]) / 1e6, 2),
        "counts": dict(summary.counts),
        "flagged": summary.flagged,
        "rejected": len(summary.rejected),
        "measure_counts_top": dict(list(summary.measure_counts.items())[:5]),
        "problems": problems,
    }


def verify(spec: dict[str, Any], summary: Any) -> list[str]:
    """What the report must say: every row checked, and no subject without an active record flagged."""
    listed = set(json.loads(Path(spec["input"] + ".listed.json").read_text()))
    n = spec["subjects"]
    problems = []
    if summary.total != n or summary.rejected:
        problems.append(f"{summary.total} checked, {len(summary.rejected)} rejected of {n} rows: "
                        f"{[str(r) for r in summary.rejected[:3]]}")
    if spec["format"] == ".csv":
        lines, false_hits = 0, []
        with open(spec["report"], encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            for row in reader:
                lines += 1
                if row[3] != "clear" and int(row[0]) not in listed:
                    false_hits.append(row[0])
        if header[:6] != ["line", "subject_id", "subject_name", "decision", "measure_ids", "record_ids"]:
            problems.append(f"CSV report header {header}")
        if lines != n:
            problems.append(f"the CSV report has {lines} rows for {n} subjects")
        if false_hits:
            problems.append(f"{len(false_hits)} subjects without an active record flagged, "
                            f"lines {false_hits[:5]}")
    elif spec["format"] == ".html":
        text = Path(spec["report"]).read_text(encoding="utf-8")
        m = re.search(r'id="summary".*?data-total>(\d+)<.*?data-flagged>(\d+)<', text, re.DOTALL)
        if not m or (int(m[1]), int(m[2])) != (summary.total, summary.flagged):
            problems.append("the HTML summary does not give the total and flagged counts")
    elif spec["format"] == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(spec["report"], read_only=True)
        rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True)) - 1
        sheets = len(book.worksheets)
        book.close()
        if rows != n or sheets != 2:
            problems.append(f"the XLSX report has {rows} result rows for {n} subjects and {sheets} sheets")
    if summary.flagged > len(listed):
        problems.append(f"{summary.flagged} flagged but only {len(listed)} subjects listed")
    return problems


def run_worker(spec: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    name = f"{spec['subjects']}{spec['format'].replace('.', '-')}"
    spec_path, out_path = run_dir / f"{name}.spec.json", run_dir / f"{name}.out.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    out_path.unlink(missing_ok=True)
    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", str(spec_path), str(out_path)],
                              check=False, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log(f"\nbenchmark aborted: the {name} worker ran longer than {WORKER_TIMEOUT_S} s (a hang?).")
        sys.exit(3)
    if proc.returncode != 0 or not out_path.exists():
        log(f"\nbenchmark aborted: the {name} worker failed (exit {proc.returncode}); "
            "its traceback is above.")
        sys.exit(3)
    result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
    return result


def run_cli(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """``python -m joint_sanctions batch …`` once, timed from process start to exit."""
    cmd = [sys.executable, "-m", "joint_sanctions", "batch", spec["input"], "--matter", spec["matter"],
           "--out", str(out), "--db", spec["db_url"]]
    for d in spec["measures"] or ():
        cmd += ["--measures", d]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    wall = time.perf_counter() - t0
    m = re.search(r"checked (\d+) subject\(s\) in ([0-9.]+) s", proc.stdout)
    return {"command": " ".join(["joint-sanctions", *cmd[3:]]), "exit": proc.returncode, "wall_s": wall,
            "checked": int(m[1]) if m else None, "batch_s": float(m[2]) if m else None,
            "stdout": proc.stdout.strip().splitlines()[:1], "stderr": proc.stderr.strip().splitlines()[:5]}


# --- the table --------------------------------------------------------------------------------------


def render(res: dict[str, Any]) -> str:
    rows = []
    for r in res["batches"]:
        small = r["subjects"] == SMALL_SIZE
        total = r["seconds"] + r["engine_startup_s"]
        rows.append((
            f"batch of {r['subjects']:,} subjects → {r['format']} report",
            f"{r['seconds']:,.2f} s",
            f"{r['per_s']:,.0f} /s",
            f"{r['first_run_s']:,.2f} s",
            f"{r['engine_startup_s']:,.2f} s",
            f"{r['rss_peak_mb']:,.0f} MB",
            f"< {SMALL_TARGET_S:g} s" if small else "",
            ("met" if total < SMALL_TARGET_S else "NOT MET") if small else "",
        ))
    cli = res.get("cli")
    if cli:
        ok = cli["exit"] == 0 and cli["wall_s"] < SMALL_TARGET_S
        rows.append((f"CLI `joint-sanctions batch` of {cli['checked'] or 0:,} → .csv, process start to exit",
                     f"{cli['wall_s']:,.2f} s", f"{(cli['checked'] or 0) / cli['wall_s']:,.0f} /s",
                     "", "", "",
                     f"< {SMALL_TARGET_S:g} s", "met" if ok else "NOT MET"))
    imp = res["import"]
    rows.append((f"import of {res['records']:,} records (import_records → SQLite)",
                 "reused" if imp["reused"] else f"{imp['seconds']:,.1f} s",
                 "" if imp["reused"] else f"{res['records'] / imp['seconds']:,.0f} /s", "", "", "", "", ""))
    head = ("measurement", "median", "subjects/s", "first run", "engine start", "peak RSS",
            "target (issue 4)", "")
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i in (0, 6, 7) else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def footer(res: dict[str, Any]) -> str:
    m = res["machine"]
    first = res["batches"][0]
    notes = [
        (f"median of {res['runs_requested']} batches per size and format (runs made: "
         f"{'/'.join(str(r['runs']) for r in res['batches'])}); each size and format in a fresh process. "
         "median = open_batch + run_batch (read CSV, check, write the report, move it into place); "
         "'first run' is the process's first batch; 'engine start' = Engine(...) as the CLI builds it, "
         "not in the median. peak RSS = VmHWM of that process."),
        (f"Store: SQLite file with {res['records']:,} generated records (datagen, seed {res['seed']}); "
         f"measures: {first['measures']:,} (shipped + {res['generated_measures']:,} generated); matter "
         f"{res['matter']}; no cases opened (the CLI's default)."),
        (f"Input: generated CSV with subject_id, subject_name, subject_type (id, Chinese name or blank), "
         f"legal_representative_id; {res['listed_share'] * 100:.1f} % of the subjects or their legal "
         "representative have an active record, 0.5 % only inactive ones."),
        ("Every report was checked: one row per subject, none rejected, no subject without an active "
         "record flagged, the same decisions in every format."),
        "structlog is configured in the benchmark processes to drop info-level events.",
        (f"Machine: {m['cpu']} ({m['cpus']} CPUs), Python {m['python']}, load average before {m['loadavg']}, "
         f"after {res['loadavg_after']}."),
    ]
    for size, counts in res["decisions"].items():
        notes.append(f"decisions, {int(size):,} subjects: {counts}")
    if max(m["loadavg"] or [0]) > 0.5 * (m["cpus"] or 1):
        notes.append("WARNING: the machine was busy when the run started; timings are noisy.")
    return "\n".join("  * " + n for n in notes)


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        spec = json.loads(Path(args.worker[0]).read_text(encoding="utf-8"))
        out = work(spec)
        Path(args.worker[1]).write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
        return 0
    started = time.perf_counter()
    info = machine_info()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    data = args.data_dir
    batch_dir = data / "batch"
    batch_dir.mkdir(parents=True, exist_ok=True)
    today = datagen.today_cst()
    if not datagen.FIRST_DAY <= today <= datagen.LAST_DAY:
        log(f"benchmark aborted: the data set is dated for checks from {datagen.FIRST_DAY} "
            f"to {datagen.LAST_DAY}")
        return 2

    params = datagen.Params(records=args.records, checks=0, measures=args.measures, seed=args.seed,
                            listed_share=args.listed_share)
    csv_path = data / f"records-{args.records}-seed{args.seed}.csv"
    measures_dir = data / f"measures-{args.measures}-seed{args.seed}"
    inputs = {n: batch_dir / f"subjects-{n}-records{args.records}-seed{args.seed}.csv" for n in sizes}
    keys = {n: input_key(dataclasses.replace(params, checks=n)) for n in inputs}
    log(f"[1/4] data set: {args.records:,} records, batches of {', '.join(f'{n:,}' for n in sizes)} subjects")
    t0 = time.perf_counter()
    stale = [n for n, p in inputs.items() if not datagen._stamp_ok(p, keys[n])]
    if stale or not datagen._stamp_ok(csv_path, params.records_key()):
        recs = datagen.generate_records(params)
        wrote = datagen.write_records_csv(recs, csv_path, params.records_key())
        log(f"      {'wrote' if wrote else 'reused'} {csv_path.name}")
        for n in stale:
            stream = datagen.generate_stream(dataclasses.replace(params, checks=n), recs)
            listed = write_batch_csv(stream, inputs[n], keys[n])
            log(f"      wrote {inputs[n].name}: {len(listed):,} of {n:,} subjects listed")
            del stream
        del recs
    if args.measures:
        datagen.write_measures(params, measures_dir)
    log(f"      {time.perf_counter() - t0:.1f} s")

    from joint_sanctions._load import shipped_measures_dir

    measures = [str(shipped_measures_dir()), str(measures_dir)] if args.measures else None
    db = batch_dir / f"records-{args.records}-seed{args.seed}.db"
    log(f"[2/4] importing {args.records:,} records into {db.name} (import_records)")
    imp = import_db(csv_path, db, params.records_key(), args.fresh_db)
    took = "reused" if imp["reused"] else f"{imp['seconds']:.1f} s"
    log(f"      {took}, {imp['count']:,} stored")
    if imp["errors"] or imp["count"] != args.records:
        log(f"benchmark aborted: the import rejected rows or lost records: {imp.get('first_errors')}")
        return 2

    log(f"[3/4] batches (matter {args.matter}), each size and format in a fresh process")
    batches, problems = [], []
    for n in sizes:
        for fmt in FORMATS if n <= args.all_formats_up_to else (".csv",):
            spec = {"input": str(inputs[n]), "subjects": n, "format": fmt, "matter": args.matter,
                    "report": str(batch_dir / f"report-{n}{fmt}"), "db_url": f"sqlite:///{db}",
                    "measures": measures, "runs": args.runs, "budget_s": args.budget}
            r = run_worker(spec, batch_dir)
            log(f"      {n:>9,} {fmt:<5} {r['seconds']:8.2f} s  {r['per_s']:>9,.0f} subjects/s  "
                f"peak {r['rss_peak_mb']:.0f} MB  ({r['runs']} runs)")
            problems += [f"{n:,} {fmt}: {p}" for p in r["problems"]]
            batches.append(r)
    decisions: dict[str, dict[str, int]] = {}
    for r in batches:
        seen = decisions.setdefault(str(r["subjects"]), r["counts"])
        if seen != r["counts"]:
            problems.append(f"{r['subjects']:,} {r['format']}: decisions {r['counts']}, "
                            f"another format {seen}")

    log("[4/4] the CLI once on the small batch")
    cli = None
    small = min(sizes)
    if small <= args.all_formats_up_to:
        spec = {"input": str(inputs[small]), "matter": args.matter, "db_url": f"sqlite:///{db}",
                "measures": measures}
        cli = run_cli(spec, batch_dir / f"cli-report-{small}.csv")
        log(f"      exit {cli['exit']}, {cli['wall_s']:.2f} s: {cli['stdout']}")
        if cli["exit"] != 0 or cli["checked"] != small:
            problems.append(f"the CLI run failed: exit {cli['exit']}, {cli['stdout']} {cli['stderr']}")
    if problems:
        log("\nbenchmark aborted: the reports are wrong; no batch-results.json written.")
        for p in problems:
            log(" - " + p)
        return 1

    res: dict[str, Any] = {
        "batches": batches,
        "per_s": {f"{r['subjects']}{r['format']}": r["per_s"] for r in batches},
        "seconds": {f"{r['subjects']}{r['format']}": r["seconds"] for r in batches},
        "rss_peak_mb": {f"{r['subjects']}{r['format']}": r["rss_peak_mb"] for r in batches},
        "cli": cli,
        "import": imp,
        "records": args.records,
        "generated_measures": args.measures,
        "matter": args.matter,
        "listed_share": args.listed_share,
        "decisions": decisions,
        "runs_requested": args.runs,
        "seed": args.seed,
        "check_day": today.isoformat(),
        "structlog": "info-level events dropped (make_filtering_bound_logger(WARNING)) "
                     "in the benchmark processes",
        "machine": info,
    }
    report(res, render, footer, args.results, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
