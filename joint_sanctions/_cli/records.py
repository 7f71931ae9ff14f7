"""``joint-sanctions records import FILE``, ``records repair RECORD_ID`` and ``db init``.

These are the only commands that create a database (``import`` and ``db init``; docs/failing-closed.md), and
never a missing folder.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._records import import_records
from .._tabular import DEFAULT_MAX_INPUT_MB, MAX_INPUT_MB_RANGE
from ..stores import open_store
from . import _common
from .progress import Progress


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("records", parents=[common], help="manage credit-list records")
    rsub = p.add_subparsers(dest="records_command", metavar="ACTION", parser_class=_common.Parser)
    rsub.required = True
    imp = rsub.add_parser("import", parents=[common], help="import CSV, JSON Lines or XLSX records")
    imp.add_argument("file", metavar="FILE")
    add_max_input_mb(imp)
    imp.set_defaults(func=run_import)
    rep = rsub.add_parser("repair", parents=[common], help="mark a record as repaired (信用修复)")
    rep.add_argument("record_id", metavar="RECORD_ID")
    rep.set_defaults(func=run_repair)

    db = sub.add_parser("db", parents=[common], help="the database itself / 数据库")
    dsub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_common.Parser)
    dsub.required = True
    init = dsub.add_parser("init", parents=[common],
                           help="create the database (SQLite) and its tables, or bring them up to date / 初始化数据库")
    init.set_defaults(func=run_db_init)


def add_max_input_mb(parser: argparse.ArgumentParser) -> None:
    """``--max-input-mb N``: the most one XLSX part may unpack to (docs/failing-closed.md); shared with ``batch``."""
    low, high = MAX_INPUT_MB_RANGE
    parser.add_argument("--max-input-mb", type=_max_input_mb, default=DEFAULT_MAX_INPUT_MB, metavar="N",
                        help=f"refuse an XLSX file any part of which unpacks to more than N MiB "
                             f"({low}-{high}, default {DEFAULT_MAX_INPUT_MB}) / XLSX 解压上限")


def _max_input_mb(text: str) -> int:
    low, high = MAX_INPUT_MB_RANGE
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of MiB from {low} to {high}")
    return value


def run_import(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args), create=True) as store, Progress("importing / 导入") as progress:
        report = import_records(store, args.file, progress=progress.update, max_input_mb=args.max_input_mb)
    for err in report.errors:
        _common.error(f"{args.file}:{err.line}: {err.reason}")
    print(f"imported {report.stored} record(s), rejected {len(report.errors)} row(s) / "
          f"导入 {report.stored} 条，拒绝 {len(report.errors)} 行", file=sys.stdout)
    return 1 if report.errors else 0


def run_repair(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        record = store.repair(args.record_id)
    print(f"record {record.record_id} is now {record.status} / 记录 {record.record_id} 已修复")
    return 0


def run_db_init(args: argparse.Namespace) -> int:
    from .._cases import case_book_for  # the case tables live in the same database

    with open_store(_common.db_url(args), create=True) as store:
        case_book_for(store)
        where = _common.store_name(store)
        records = store.count()
    print(f"database ready: {where} ({records} record(s)) / 数据库已就绪：{where}（{records} 条记录）")
    return 0
