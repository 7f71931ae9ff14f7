"""``joint-sanctions batch FILE --matter TYPE --out REPORT [--open-cases]``: batch verification.

Exit 1 when rows were rejected (the good rows are still checked and reported), when the report path
is refused (a folder, a missing or unwritable folder, the input file itself: checked before anything
is read, so nothing is checked or opened), when the report cannot be written (no case is opened) or
when the database refuses the cases (the report stays, no case is opened); 2 for a bad command line
(including an unsupported report extension); 0 otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._batch import BatchError, BatchSummary, check_report_path, open_batch, report_format, run_batch
from ..vocabulary import DECISIONS, MATTER_TYPES
from . import _common
from .progress import Progress
from .records import add_max_input_mb


def _report_path(text: str) -> str:
    try:
        report_format(text)
    except BatchError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("batch", parents=[common],
                       help="check a list of subjects (CSV/XLSX) and write a report / 批量核查")
    p.add_argument("file", metavar="FILE",
                   help="CSV or XLSX with header subject_id, subject_name "
                        "[, subject_type, legal_representative_id]")
    p.add_argument("--matter", required=True, choices=list(MATTER_TYPES), metavar="TYPE",
                   help="matter type: " + ", ".join(MATTER_TYPES))
    p.add_argument("--out", required=True, type=_report_path, metavar="REPORT",
                   help="report file; the extension chooses the format: .csv, .xlsx or .html")
    p.add_argument("--open-cases", action="store_true",
                   help="open a case for every subject with measures (default: none) / 发起案例")
    _common.add_max_data_age(p)
    add_max_input_mb(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_report_path(args.out, args.file)  # before the input is opened or the database touched
    refused: BatchError | None = None
    with open_batch(args.file, max_input_mb=args.max_input_mb) as source:
        # Without --open-cases no case is opened, so the engine needs no case book.
        engine = _common.engine(args, cases=args.open_cases)
        with Progress("核查 checking", source.estimated_rows) as progress:
            try:
                summary = run_batch(engine, source, args.matter, args.out, open_cases=args.open_cases,
                                    progress=progress.update)
            except BatchError as exc:
                if exc.summary is None:
                    raise
                refused, summary = exc, exc.summary  # the report is written: say what it holds
    for rejected in summary.rejected:
        _common.error(f"{args.file}:{rejected.line}: {rejected.reason}")
    print(describe(summary))
    if refused is not None:
        _common.error(str(refused))
        return 1
    return 1 if summary.rejected else 0


def describe(summary: BatchSummary) -> str:
    """Two lines, English then Chinese: counts per decision, flagged, rejected, where the report is."""
    rate = summary.total / summary.seconds if summary.seconds > 0 else 0.0
    counts = ", ".join(f"{summary.counts[d]} {d}" for d in DECISIONS)
    counts_zh = "，".join(f"{name} {summary.counts[d]}" for d, name in DECISIONS.items())
    return (f"checked {summary.total} subject(s) in {summary.seconds:.1f} s ({rate:.0f}/s): {counts}; "
            f"{summary.flagged} flagged; {len(summary.rejected)} row(s) rejected; "
            f"{len(summary.duplicates)} duplicate row(s) checked once; "
            f"{summary.cases_opened} case(s) opened, {summary.cases_existing} already open; "
            f"report: {summary.report}\n"
            f"核查 {summary.total} 个主体（{counts_zh}），需关注 {summary.flagged} 个，"
            f"拒绝 {len(summary.rejected)} 行，重复 {len(summary.duplicates)} 行，"
            f"发起案例 {summary.cases_opened} 个，已有案例 {summary.cases_existing} 个，报告：{summary.report}")
