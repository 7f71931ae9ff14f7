"""``joint-sanctions test PATH… [--measures DIR] [--json]``: run policy cases against the measure lists on
both rule back ends; one line per failing case, then the measures no case exercised; exit 1 on any
failure or malformed case."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._identifiers import mask_text
from .._policy_cases import run_cases
from .._serving import compile_paths
from . import _common


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("test", parents=[common],
                       help="run policy cases (YAML) against the measure lists / 运行政策用例")
    p.add_argument("paths", nargs="+", metavar="PATH", help="case files or directories of them")
    p.add_argument("--json", action="store_true", help="print the report as JSON only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    measures = compile_paths(_common.measures(args))
    report = run_cases(args.paths, measures)
    if args.json:
        print(mask_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2)))
        return 0 if report.ok else 1
    for problem in report.problems:
        print(_common.shown(str(problem)))
    for failure in report.failures:
        print(_common.shown(failure.line()))
    if report.cases:  # with no case run, every measure would be listed: noise above the real problem
        for measure_id, source in report.uncovered:
            print(_common.shown(f"{source}: {measure_id}: no case exercises this measure / 没有用例覆盖该措施"))
        covered = report.measure_count - len(report.uncovered)
        print(f"coverage: {covered} of {report.measure_count} measures exercised / "
              f"覆盖：{report.measure_count} 项措施中 {covered} 项有用例")
    failed = len(report.failures)
    print(f"{report.cases} case(s), {report.cases - failed} passed, {failed} failed, "
          f"{len(report.problems)} malformed / 共 {report.cases} 个用例，通过 {report.cases - failed} 个，"
          f"失败 {failed} 个，格式错误 {len(report.problems)} 处")
    return 0 if report.ok else 1
