"""Issue 14: ``joint-sanctions diff OLD NEW --db URL`` over 1,000,000 records, set-based, under a minute.

    python benchmarks/diff.py                     # 1,000,000 records (generated and imported once)
    python benchmarks/diff.py --records 100000    # a quick dry run

The records are the data set of benchmarks/datagen.py, imported into a SQLite file (reused, as
batch.py does). OLD is the shipped lists (with --measures N, plus N generated ones); NEW is a copy in which every
confirmed measure of national.yaml loses its confirmation (binding → asks for review), a change that
moves the decision of many subjects. Times ``diff_measures(OLD, NEW, store=…)`` — the measure diff,
the cells and the impact over every subject with active records — and prints the figure.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import datagen
from batch import import_db
from common import log, quiet_logging

HERE = Path(__file__).resolve().parent
#: Issue 14: "diff --db over 1,000,000 records in under a minute".
TARGET_S = 60.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--measures", type=int, default=0,
                   help="generated measures beside the shipped lists (default 0: the shipped lists alone)")
    p.add_argument("--seed", type=int, default=20250601)
    p.add_argument("--data-dir", type=Path, default=HERE / "data")
    args = p.parse_args(argv)
    quiet_logging()
    from joint_sanctions._load import shipped_measures_dir
    from joint_sanctions._serving import compile_paths
    from joint_sanctions._workbench_diff import diff_measures
    from joint_sanctions.stores import open_store

    data = args.data_dir
    params = datagen.Params(records=args.records, checks=0, measures=args.measures, seed=args.seed)
    csv_path = data / f"records-{args.records}-seed{args.seed}.csv"
    if not datagen._stamp_ok(csv_path, params.records_key()):
        datagen.write_records_csv(datagen.generate_records(params), csv_path, params.records_key())
    generated = data / f"measures-{args.measures}-seed{args.seed}"
    if args.measures:
        datagen.write_measures(params, generated)
    db = data / "batch" / f"records-{args.records}-seed{args.seed}.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    imp = import_db(csv_path, db, params.records_key(), fresh=False)
    log(f"records: {imp['count']:,} in {db.name} ({'reused' if imp['reused'] else 'imported'})")

    new = data / "diff-new"
    shutil.rmtree(new, ignore_errors=True)
    shutil.copytree(shipped_measures_dir(), new / "shipped")
    national = new / "shipped" / "national.yaml"
    national.write_text(national.read_text(encoding="utf-8").replace("basis_status: confirmed",
                                                                     "basis_status: unconfirmed"), encoding="utf-8")
    old_paths = [str(shipped_measures_dir())] + ([str(generated)] if args.measures else [])
    new_paths = [str(new / "shipped")] + ([str(generated)] if args.measures else [])
    before, after = compile_paths(old_paths), compile_paths(new_paths)
    day = datagen.REFERENCE_DAY
    with open_store(f"sqlite:///{db}") as store:
        t0 = time.perf_counter()
        diff = diff_measures(before, after, day=day, store=store)
        seconds = time.perf_counter() - t0
    assert diff.impact is not None
    changed = sum(i.subjects_changed for i in diff.impact)
    log(f"diff --db: {seconds:.1f} s for {imp['count']:,} records, {diff.subjects_screened:,} subjects with "
        f"active records; {len(diff.changed)} measures changed, {len(diff.cells)} cells, "
        f"{changed:,} subject × matter decisions changed (target < {TARGET_S:.0f} s)")
    return 0 if seconds < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
