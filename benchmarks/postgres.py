"""PostgreSQL in production (issue 6): import, check latency, re-screening, two-process delivery.

    .venv/bin/python benchmarks/postgres.py                  # full size: 1,000,000 records
    .venv/bin/python benchmarks/postgres.py --records 20000 --subjects 20000 --cases 500   # a dry run

It starts a throwaway PostgreSQL server (tests/pgserver.py), or uses the one ``JOINT_SANCTIONS_TEST_PG``
names, and works in a fresh database of its own. It imports the deterministic records CSV of
benchmarks/datagen.py (COPY), times checks through the public API on that database, re-screens
registered subjects twice, delivers disposed cases to the platform simulator from two processes at
once, prints a table and writes benchmarks/postgres-results.json (see benchmarks/README.md).

Exit status: 0 done; 1 the delivery lost or duplicated cases; 2 the data set, the import or a check
answer is wrong; 3 the PostgreSQL server could not be started.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

# Run as a script, so this folder is on sys.path: the helpers beside it import directly.
import datagen
from common import log, machine_info, quiet_logging

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))  # for tests.pgserver; after this folder, so `common` is the one here
quiet_logging()

from joint_sanctions import Engine, StoreError, import_records
from joint_sanctions._check import SubjectLike
from joint_sanctions._load import shipped_measures_dir
from joint_sanctions._rescreen import register_subjects, rescreen
from joint_sanctions.stores._postgres import PostgresStore
from tests import pgserver

T = TypeVar("T")

FULL_RECORDS = 1_000_000
#: Issue 5's import target for SQLite at 1,000,000 records; issue 6 names no numeric targets.
SQLITE_IMPORT_TARGET_S = 30.0
#: The shipped lists apply a measure for this matter to every punishment list type (the
#: development-and-reform toolbox, design.md §4): a punished subject checked for it opens a case.
CASE_MATTER = "central_budget_funds"
CASE_DEPARTMENT = "郑州市发展和改革委员会"
#: A delivery process still running after this long is taken for hung.
DELIVERY_TIMEOUT_S = 900
#: Checks of each kind made untimed before the timed pass.
WARMUP_CHECKS = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=FULL_RECORDS, help="credit records (default 1,000,000)")
    p.add_argument(
        "--subjects",
        type=int,
        default=FULL_RECORDS,
        help="subjects registered for re-screening: the data set's, then clean ones (default 1,000,000)",
    )
    p.add_argument("--cases", type=int, default=10_000, help="disposed cases delivered (default 10,000)")
    p.add_argument(
        "--checks", type=int, default=10_000, help="timed checks, half hit and half no-hit (default 10,000)"
    )
    p.add_argument(
        "--repairs",
        type=int,
        default=300,
        help="active records repaired between the two re-screening runs (default 300)",
    )
    p.add_argument("--seed", type=int, default=20250601)
    p.add_argument("--data-dir", type=Path, default=HERE / "data")
    p.add_argument("--results", type=Path, default=HERE / "postgres-results.json")
    return p.parse_args(argv)


def timed_s(action: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``action`` took, and what it returned."""
    t0 = time.perf_counter()
    value = action()
    return time.perf_counter() - t0, value


# --- 1. the database ------------------------------------------------------------------------------


class Database:
    """A fresh database on a throwaway server (or on ``JOINT_SANCTIONS_TEST_PG``'s), gone after ``with``."""

    def __init__(self) -> None:
        self.server = pgserver.start()
        self.given = self.server.data_dir is None
        try:
            self.url = self.server.create_database()
        except BaseException:
            self.server.stop()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.server.drop_database(self.url)  # a given server is left as it was found
        finally:
            self.server.stop()


# --- 2. import ------------------------------------------------------------------------------------


def import_step(url: str, csv_path: Path, expected: int) -> dict[str, Any]:
    """``import_records(PostgresStore(url), csv)`` into the empty database, opening the store included."""
    t0 = time.perf_counter()
    with PostgresStore(url) as store:
        report = import_records(store, csv_path)
        seconds = time.perf_counter() - t0
        count = store.count()
        # What an operator runs after a bulk load (autovacuum would too, when it gets to it): every
        # run then times the checks with the planner's statistics in place.
        with store.connection() as conn:
            analyze_s, _ = timed_s(lambda: conn.execute("ANALYZE"))
            version = conn.execute("SHOW server_version").fetchone()
    if report.errors or count != expected:
        log(
            f"benchmark aborted: the import rejected rows or lost records ({count:,} of {expected:,} "
            f"stored): {[str(e) for e in report.errors[:3]]}"
        )
        sys.exit(2)
    return {
        "import_seconds": seconds,
        "import_rows_per_s": count / seconds,
        "analyze_s": analyze_s,
        "postgres_version": version[0] if version else "?",
    }


# --- 3. checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One check as a host makes it: the subject (a bare id, or a mapping naming a related party)."""

    subject: SubjectLike
    subject_id: str
    matter_type: str
    fields: dict[str, Any]


def call_of(check: datagen.Check) -> Call:
    subject: SubjectLike = check.subject_id
    if check.related_id is not None:
        subject = {
            "id": check.subject_id,
            "related_parties": [{"role": check.related_role, "id": check.related_id}],
        }
    return Call(
        subject, check.subject_id, check.matter_type, {} if check.amount is None else {"amount": check.amount}
    )


def per_call_ns(engine: Engine, calls: Sequence[Call]) -> list[int]:
    """Nanoseconds of each ``engine.check`` call in turn (the collector stays on; collected first)."""
    check, clock = engine.check, time.perf_counter_ns
    out: list[int] = []
    gc.collect()
    for c in calls:
        t0 = clock()
        check(c.subject, c.matter_type, **c.fields)
        out.append(clock() - t0)
    return out


def median_p99_us(ns: Sequence[int]) -> tuple[float, float]:
    p99 = statistics.quantiles(ns, n=100, method="inclusive")[98] if len(ns) > 1 else ns[0]
    return statistics.median(ns) / 1000, p99 / 1000


def verify(engine: Engine, hit: Sequence[Call], nohit: Sequence[Call], listed: set[str]) -> None:
    """The data set and the database agree: a listed subject shows hits, an unlisted one is clear."""
    for c in hit:
        result = engine.check(c.subject, c.matter_type, **c.fields)
        if c.subject_id in listed and not result.hits:
            log(f"benchmark aborted: listed subject {c.subject_id} ({c.matter_type}) came back without hits")
            sys.exit(2)
    for c in nohit:
        result = engine.check(c.subject, c.matter_type, **c.fields)
        if result.hits or result.measures:
            log(f"benchmark aborted: unlisted subject {c.subject_id} ({c.matter_type}) got {result.decision}")
            sys.exit(2)


def check_step(url: str, stream: datagen.Stream) -> dict[str, Any]:
    """Engine start-up, then each hit and each no-hit check timed on its own."""
    hit = [call_of(c) for c in stream.checks if c.listed]
    nohit = [call_of(c) for c in stream.checks if not c.listed]
    t0 = time.perf_counter()
    engine = Engine(measures=shipped_measures_dir(), store=url, cases=False)
    construct_s = time.perf_counter() - t0
    first = hit[0] if hit else nohit[0]
    engine.check(first.subject, first.matter_type, **first.fields)  # the first check: pool, ruleset
    startup_s = time.perf_counter() - t0
    try:
        verify(engine, hit[:WARMUP_CHECKS], nohit[:WARMUP_CHECKS], set(stream.listed_ids))
        hit_us, nohit_us = median_p99_us(per_call_ns(engine, hit)), median_p99_us(per_call_ns(engine, nohit))
    finally:
        engine.store.close()
    return {
        "check_hit_median_us": hit_us[0],
        "check_hit_p99_us": hit_us[1],
        "check_nohit_median_us": nohit_us[0],
        "check_nohit_p99_us": nohit_us[1],
        "startup_s": startup_s,
        "engine_construct_s": construct_s,
        "hit_checks": len(hit),
        "nohit_checks": len(nohit),
        "rules_backend": engine.rules_backend,
    }


# --- 4. re-screening ------------------------------------------------------------------------------


def registered_ids(recs: datagen.Records, n: int) -> Iterator[str]:
    """``n`` subject ids: the data set's subjects first, then clean organisations on no list."""
    own = min(n, len(recs.subject_types))
    yield from (recs.subject_id(s) for s in range(own))
    yield from (datagen.uscc(datagen.UNLISTED_OFFSET + i) for i in range(n - own))


def to_repair(recs: datagen.Records, subjects: int, k: int, seed: int) -> list[str]:
    """``k`` record ids, active on the check day, of registered subjects (same seed → same records)."""
    today = datagen.today_cst().toordinal()
    active = [i for i in range(len(recs)) if recs.subject[i] < subjects and recs.is_active(i, today)]
    return [recs.record_id(i) for i in random.Random(seed * 1009 + 6).sample(active, min(k, len(active)))]


def rescreen_step(url: str, recs: datagen.Records, args: argparse.Namespace) -> dict[str, Any]:
    """Register the subjects, re-screen them all, repair a few records, re-screen again."""
    repairs = to_repair(recs, args.subjects, args.repairs, args.seed)
    with PostgresStore(url) as store:
        register_s, registered = timed_s(
            lambda: register_subjects(store, registered_ids(recs, args.subjects))
        )
        first_s, first = timed_s(lambda: rescreen(store))
        for record_id in repairs:
            store.repair(record_id)
        second_s, second = timed_s(lambda: rescreen(store))
    return {
        "rescreen_subjects": first.screened,
        "rescreen_first_s": first_s,
        "rescreen_second_s": second_s,
        "rescreen_changes": len(second.changes),
        "registered": registered,
        "register_s": register_s,
        "rescreen_first_changes": len(first.changes),
        "rescreen_second_delisted": len(second.delisted),
        "records_repaired": len(repairs),
    }


# --- 5. two-process delivery ----------------------------------------------------------------------


class NoCaseBackend(Exception):
    """``case_book_for(PostgresStore(...))`` raised :class:`StoreError`: cases cannot live in PostgreSQL."""


def open_disposed_cases(url: str, listed_ids: Sequence[str], n: int) -> tuple[float, int]:
    """``n`` cases, each opened by a check of a listed subject and disposed ``applied``.

    Returns:
        Seconds taken, and how many cases were opened (fewer than ``n`` only when no listed subject
        opens a case).

    Raises:
        NoCaseBackend: ``case_book_for`` gives no case book for a PostgreSQL store.
    """
    from joint_sanctions._cases import case_book_for

    t0 = time.perf_counter()
    store = PostgresStore(url)
    try:
        try:
            book = case_book_for(store)
        except StoreError as exc:
            raise NoCaseBackend(str(exc)) from exc
        engine = Engine(measures=shipped_measures_dir(), store=store, cases=book)
        opened = 0
        while opened < n:
            before = opened
            for subject_id in listed_ids:  # again from the start when n exceeds the listed subjects
                case_id = engine.check(subject_id, CASE_MATTER).case_id
                if case_id is None:
                    continue  # only on incentive lists: no punishment measure, no case
                book.dispose(case_id, "applied", department=CASE_DEPARTMENT)
                opened += 1
                if opened == n:
                    break
            if opened == before:
                break
    finally:
        store.close()
    return time.perf_counter() - t0, opened


def deliver_step(url: str, stream: datagen.Stream, n: int) -> dict[str, Any] | None:
    """Two ``cases feedback`` processes at once empty the outbox into the platform simulator.

    Returns:
        The measurements, or None when there is no PostgreSQL case backend yet.
    """
    from joint_sanctions.testing.simulator import PlatformSimulator

    try:
        prepare_s, opened = open_disposed_cases(url, stream.listed_ids, n)
    except NoCaseBackend as exc:
        log(f"      skipped: no PostgreSQL case backend yet ({exc})")
        return None
    log(f"      {opened:,} cases opened and disposed in {prepare_s:.1f} s; two delivery processes start")
    command = [sys.executable, "-m", "joint_sanctions", "cases", "feedback", "--db", url, "--json"]
    with PlatformSimulator() as platform:
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [*command, "--to", platform.url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            outputs = [p.communicate(timeout=DELIVERY_TIMEOUT_S) for p in procs]
        finally:
            for p in procs:  # only when one hung (or this process is interrupted)
                if p.poll() is None:
                    p.kill()
                    p.wait()
        seconds = time.perf_counter() - t0
        accepted, duplicates, requests = (
            len(platform.accepted),
            len(platform.duplicates),
            len(platform.requests),
        )
    per_process: list[int | None] = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        try:
            per_process.append(int(json.loads(out.strip().splitlines()[-1])["delivered"]))
        except (ValueError, IndexError, KeyError):
            per_process.append(None)
            log(f"      a delivery process failed (exit {proc.returncode}):\n{err.strip()[-2000:]}")
    return {
        "delivery_cases": opened,
        "delivery_seconds": seconds,
        "delivery_per_s": accepted / seconds,
        "delivery_duplicates": duplicates,
        "delivery_accepted": accepted,
        "delivery_requests": requests,
        "delivery_per_process": per_process,
        "delivery_exit_codes": [p.returncode for p in procs],
        "cases_prepare_s": prepare_s,
    }


# --- the table ------------------------------------------------------------------------------------


def _num(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def _sqlite_baseline(records: int) -> dict[str, Any]:
    """``make bench``'s SQLite numbers (benchmarks/results.json) when made on as many records."""
    try:
        res: dict[str, Any] = json.loads((HERE / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return res if res.get("records") == records else {}


def render(res: dict[str, Any]) -> str:
    full = res["records"] >= FULL_RECORDS
    base = _sqlite_baseline(res["records"])

    def sqlite(key: str, unit: str, digits: int = 2) -> str:
        if not base.get(key):
            return ""
        # make bench checks against the shipped lists plus its generated measures; this run uses
        # the shipped lists only, so a hit costs less rule work here.
        return f"SQLite (make bench, {base.get('measures', '?'):,} measures): {base[key]:,.{digits}f} {unit}"

    imp = res["import_seconds"]
    import_status = ("met" if imp <= SQLITE_IMPORT_TARGET_S else "NOT MET") if full else "n/a (small run)"
    rows: list[tuple[str, str, str, str]] = [
        (
            f"import of {res['records']:,} records (COPY)",
            _num(imp),
            "s",
            f"≤ {SQLITE_IMPORT_TARGET_S:g} s, SQLite's target (issue 5): {import_status}",
        ),
        ("import rate", _num(res["import_rows_per_s"], 0), "rows/s", ""),
        (
            "engine start-up (construct + first check)",
            _num(res["startup_s"], 2),
            "s",
            sqlite("startup_s", "s"),
        ),
        (
            f"hit check, median ({res['hit_checks']:,}, to the database)",
            _num(res["check_hit_median_us"]),
            "µs",
            sqlite("hit_us_per_check", "µs mean"),
        ),
        ("hit check, p99", _num(res["check_hit_p99_us"]), "µs", ""),
        (
            f"no-hit check, median ({res['nohit_checks']:,})",
            _num(res["check_nohit_median_us"], 2),
            "µs",
            sqlite("nohit_us_per_check", "µs mean"),
        ),
        ("no-hit check, p99", _num(res["check_nohit_p99_us"], 2), "µs", ""),
        (
            f"register {res['registered']:,} subjects",
            _num(res["register_s"]),
            "s",
            f"{res['registered'] / res['register_s']:,.0f} subjects/s",
        ),
        (
            f"re-screen {res['rescreen_subjects']:,} subjects, first run",
            _num(res["rescreen_first_s"]),
            "s",
            (
                f"{res['rescreen_subjects'] / res['rescreen_first_s']:,.0f} subjects/s; "
                f"{res['rescreen_first_changes']:,} newly listed"
            ),
        ),
        (
            f"re-screen again, {res['records_repaired']} records repaired",
            _num(res["rescreen_second_s"]),
            "s",
            (
                f"{res['rescreen_subjects'] / res['rescreen_second_s']:,.0f} subjects/s; "
                f"{res['rescreen_changes']:,} changes"
            ),
        ),
    ]
    if res["delivery_cases"] is None:
        rows.append(("two-process delivery", "skipped", "", "no PostgreSQL case backend yet"))
    else:
        per = " + ".join("failed" if n is None else f"{n:,}" for n in res["delivery_per_process"])
        rows += [
            (
                f"two-process delivery of {res['delivery_cases']:,} cases",
                _num(res["delivery_seconds"]),
                "s",
                f"each process delivered {per}",
            ),
            (
                "delivery rate",
                _num(res["delivery_per_s"], 0),
                "cases/s",
                f"{res['delivery_accepted']:,} accepted of {res['delivery_requests']:,} requests",
            ),
            (
                "duplicates at the receiver",
                str(res["delivery_duplicates"]),
                "",
                "0 (design.md §7): " + ("met" if res["delivery_duplicates"] == 0 else "NOT MET"),
            ),
        ]
    header = ("measurement", "value", "unit", "target / baseline")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
    lines = [
        f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in (header, *rows)
    ]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def footer(res: dict[str, Any]) -> str:
    m = res["machine"]
    server = (
        "JOINT_SANCTIONS_TEST_PG" if res["server_given"] else "throwaway (fsync and synchronous_commit off)"
    )
    return (
        f"PostgreSQL {res['postgres_version']}, {server}; rules: {res['rules_backend']}; "
        f"Python {m['python']} on {m['cpus']} CPUs ({m['cpu']}).\n"
        f"load average at the start {m['loadavg']}, at the end {res['loadavg_end']}"
        + (
            "  — other work was running: numbers are not from a quiet machine"
            if max(m["loadavg"] or [0]) > 1.0
            else ""
        )
        + f"; total {res['total_s']:.0f} s."
    )


# --- main -----------------------------------------------------------------------------------------

#: The keys postgres-results.json always has (None for a step that did not run).
RESULT_KEYS = (
    "records",
    "import_seconds",
    "import_rows_per_s",
    "check_hit_median_us",
    "check_hit_p99_us",
    "check_nohit_median_us",
    "check_nohit_p99_us",
    "startup_s",
    "rescreen_subjects",
    "rescreen_first_s",
    "rescreen_second_s",
    "rescreen_changes",
    "delivery_cases",
    "delivery_seconds",
    "delivery_per_s",
    "delivery_duplicates",
)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    info = machine_info()
    today = datagen.today_cst()
    if not datagen.FIRST_DAY <= today <= datagen.LAST_DAY:
        log(
            f"benchmark aborted: the data set is dated for checks from {datagen.FIRST_DAY} to {datagen.LAST_DAY}"
        )
        return 2
    # Half the checks name a listed subject (or related party), half an unlisted one; none names a
    # subject whose records are all inactive, so "no-hit" means a subject on no list at all.
    params = datagen.Params(
        records=args.records,
        checks=args.checks,
        measures=0,
        seed=args.seed,
        listed_share=0.5,
        inactive_share=0.0,
    )
    log(f"[1/6] the data set: {args.records:,} records (seed {args.seed})")
    t0 = time.perf_counter()
    recs = datagen.generate_records(params)
    csv_path = args.data_dir / f"records-{args.records}-seed{args.seed}.csv"
    wrote = datagen.write_records_csv(recs, csv_path, params.records_key())
    stream = datagen.generate_stream(params, recs)
    log(f"      {'wrote' if wrote else 'reused'} {csv_path.name}; {time.perf_counter() - t0:.1f} s")

    log("[2/6] a PostgreSQL server and a fresh database")
    try:
        db = Database()
    except pgserver.PgServerError as exc:
        log(f"benchmark aborted: {exc}")
        return 3
    with db:
        res: dict[str, Any] = {"records": args.records, "server_given": db.given}
        log(
            f"      {'given' if db.given else 'throwaway'} server; importing {args.records:,} records "
            "(import_records, COPY)"
        )
        res |= import_step(db.url, csv_path, args.records)
        log(
            f"      {res['import_seconds']:.1f} s ({res['import_rows_per_s']:,.0f} rows/s); "
            f"ANALYZE {res['analyze_s']:.1f} s; PostgreSQL {res['postgres_version']}"
        )

        log(f"[3/6] checks on PostgreSQL: start-up, then {args.checks:,} checks timed one by one")
        res |= check_step(db.url, stream)
        log(
            f"      hit median {res['check_hit_median_us']:,.0f} µs, no-hit median "
            f"{res['check_nohit_median_us']:,.2f} µs"
        )

        log(f"[4/6] re-screening {args.subjects:,} registered subjects (twice)")
        res |= rescreen_step(db.url, recs, args)
        del recs
        log(
            f"      first {res['rescreen_first_s']:.1f} s, second {res['rescreen_second_s']:.1f} s "
            f"({res['rescreen_changes']:,} changes)"
        )

        log(f"[5/6] two-process delivery of {args.cases:,} cases")
        delivery = deliver_step(db.url, stream, args.cases)
        res |= delivery or {"delivery_cases": None}
        if delivery:
            log(f"      {delivery['delivery_seconds']:.1f} s, {delivery['delivery_duplicates']} duplicates")

    log("[6/6] the table")
    res["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    res["machine"] = info
    res["total_s"] = time.perf_counter() - started
    results = {key: res.get(key) for key in RESULT_KEYS} | {"details": res}
    args.results.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(render(res))
    print(footer(res))
    print(f"wrote {args.results}")
    if delivery and (
        delivery["delivery_duplicates"] or delivery["delivery_accepted"] != delivery["delivery_cases"]
    ):
        log("the delivery duplicated or lost cases")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
