"""``joint-sanctions gov districts list|import-scores|report``: the deployment's districts, their third-party
scores and the monthly district report (docs/government-integrity-districts.md).

The districts come from ``--districts FILE``, else ``JOINT_SANCTIONS_DISTRICTS``, else the shipped
``measure_lists/districts/zhengzhou.yaml``; a bad file is reported line by line and nothing runs (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .._gov_district_data import DIMENSIONS, Districts, import_scores, load_districts, parse_month
from .._gov_report import district_report
from .._gov_report_render import render_html, render_table, write_xlsx
from .._tabular import DEFAULT_MAX_INPUT_MB, MAX_INPUT_MB_RANGE
from .._text import escape_controls
from ..stores import open_store
from . import _common
from ._common import action, action_group

_REPORT_FORMATS = (".html", ".xlsx", ".json")


def register_districts(gov_subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``districts`` and its commands to the ``gov`` command group."""
    dsub = action_group(gov_subparsers, common, "districts",
                        "districts: their scores and the monthly report (区县政务诚信监测)")
    lst = action(dsub, common, "list", "the deployment's districts, checked / 列出区县", run_list)
    _districts_option(lst)
    imp = action(dsub, common, "import-scores", "import third-party scores per district and month (CSV or XLSX) "
                 "/ 导入第三方评分", run_import, ("file", "FILE"))
    _districts_option(imp)
    imp.add_argument("--max-input-mb", type=_common.positive_int(MAX_INPUT_MB_RANGE[1]), default=DEFAULT_MAX_INPUT_MB,
                     metavar="N", help=f"the most an XLSX part may unpack to, in MiB (default {DEFAULT_MAX_INPUT_MB})")
    rep = action(dsub, common, "report", "the monthly district report / 区县月度监测报告", run_report)
    rep.add_argument("--month", required=True, type=_month, metavar="YYYY-MM")
    rep.add_argument("--out", type=_common.out_path(*_REPORT_FORMATS), metavar="FILE",
                     help="write the report as .html (with charts), .xlsx or .json")
    _districts_option(rep)


def _districts_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--districts", metavar="FILE",
                        help="the deployment's districts (YAML); default JOINT_SANCTIONS_DISTRICTS or the shipped "
                             "Zhengzhou file / 区县配置文件")


def _month(text: str) -> str:
    try:
        return parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _districts(args: argparse.Namespace) -> Districts:
    return load_districts(args.districts)


def run_list(args: argparse.Namespace) -> int:
    districts = _districts(args)
    rows = [{"region_code": d.region_code, "name": d.name, "official": d.official, "note": d.note}
            for d in districts.districts]
    if args.json:
        print(json.dumps({"region_code": districts.region_code, "name": districts.name, "file": districts.path,
                          "districts": rows, "dimensions": DIMENSIONS}, ensure_ascii=False))
        return 0
    print(escape_controls(f"{districts.name} {districts.region_code}: {len(rows)} 个区县(市) districts "
                          f"({districts.path})"))
    for d in districts.districts:
        local = "" if d.official else "  (本地代码 local code)"
        print(escape_controls(f"  {d.region_code}  {d.name}{local}"))
    return 0


def run_import(args: argparse.Namespace) -> int:
    districts = _districts(args)
    with open_store(_common.db_url(args)) as store:
        done = import_scores(store, args.file, districts, max_input_mb=args.max_input_mb)
    if args.json:
        print(json.dumps({"file": done.path, "stored": done.stored,
                          "errors": [{"line": e.line, "reason": e.reason} for e in done.errors]},
                         ensure_ascii=False))
    else:
        print(f"{done.stored} rows stored, {len(done.errors)} rows refused / 已导入 {done.stored} 行，"
              f"拒绝 {len(done.errors)} 行")
        for error in done.errors:
            _common.error(f"{done.path}: {error}")
    return 1 if done.errors else 0


def run_report(args: argparse.Namespace) -> int:
    districts = _districts(args)
    _common.check_out_folder(args.out)
    engine = _common.engine(args, cases=False)  # the measure lists' list-type policy, over an existing database
    try:
        report = district_report(engine.store, districts, args.month, current=engine.compiled.list_types.current)
    finally:
        engine.close()
    if args.out:
        ext = os.path.splitext(args.out)[1].lower()
        if ext == ".xlsx":
            _common.write_out(args.out, binary=lambda f: write_xlsx(report, f))
        else:
            _common.write_out(args.out, render_html(report) if ext == ".html" else _json(report))
        return 0
    if args.json:
        sys.stdout.write(_json(report))
    else:
        print(render_table(report))
    return 0


def _json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
