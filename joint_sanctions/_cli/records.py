"""``joint-sanctions records import FILE``, ``records repair|remove RECORD_ID``, ``records history RECORD_ID``,
``records list --subject ID`` and ``db init``.

These are the only commands that create a database (``import`` and ``db init``; docs/failing-closed.md), and
never a missing folder. A repair or removal reads the list-type policy of ``--measures`` (default the
shipped lists) for the minimum period before repair.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from .._identifiers import mask_text
from .._load import load_list_types, shipped_measures_dir
from .._models import CST, CreditRecord, RecordChange, RecordEvent
from .._records import import_records
from .._repairs import end_record
from .._tabular import DEFAULT_MAX_INPUT_MB, MAX_INPUT_MB_RANGE
from .._text import escape_controls
from ..stores import open_store
from . import _common
from .cases import _subject_id
from .progress import Progress


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("records", parents=[common], help="manage credit-list records")
    rsub = p.add_subparsers(dest="records_command", metavar="ACTION", parser_class=_common.Parser)
    rsub.required = True
    imp = rsub.add_parser("import", parents=[common], help="import CSV, JSON Lines or XLSX records")
    imp.add_argument("file", metavar="FILE")
    add_max_input_mb(imp)
    imp.set_defaults(func=run_import)
    for action, status, text in (("repair", "repaired", "repair a record from a date (信用修复)"),
                                 ("remove", "removed", "remove a record from a date (移出名单)")):
        rep = rsub.add_parser(action, parents=[common], help=text)
        rep.add_argument("record_id", metavar="RECORD_ID")
        rep.add_argument("--reason", required=True, type=_text, help="why / 事由")
        rep.add_argument("--decision-no", required=True, type=_text, metavar="N", help="the decision's number / 决定文号")
        rep.add_argument("--on", type=_common.iso_date, metavar="YYYY-MM-DD",
                         help="the day it takes effect (default today, China Standard Time); the record counts "
                              "before it / 生效日期")
        rep.add_argument("--authority", default="", help="who decided / 决定单位")
        rep.add_argument("--early", action="store_true",
                         help="the deciding body allows it before the list type's minimum period / 提前修复")
        rep.set_defaults(func=run_repair, status=status)
    hist = rsub.add_parser("history", parents=[common], help="every change of a record / 记录变更历史")
    hist.add_argument("record_id", metavar="RECORD_ID")
    hist.add_argument("--json", action="store_true", help="print a JSON array only")
    hist.set_defaults(func=run_history)
    lst = rsub.add_parser("list", parents=[common], help="every record of a subject / 主体的全部记录")
    lst.add_argument("--subject", required=True, type=_subject_id, metavar="ID", help="USCC or resident id")
    lst.add_argument("--json", action="store_true", help="print a JSON array only")
    lst.set_defaults(func=run_list)

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


def _text(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty value / 值为空")
    return value


def run_repair(args: argparse.Namespace) -> int:
    # The policy first: a bad --measures is refused before the database is touched.
    policies = load_list_types(_common.measures(args) or [shipped_measures_dir()])
    change = RecordChange(status=args.status, on=args.on or dt.datetime.now(CST).date(), reason=args.reason,
                          decision_no=args.decision_no, authority=args.authority, early=args.early)
    with open_store(_common.db_url(args)) as store:
        record = end_record(store, args.record_id, change, policies)
    zh = "修复" if record.status == "repaired" else "移出"
    print(_common.shown(f"record {record.record_id} is {record.status} from {record.ended_on} "
                        f"/ 记录 {record.record_id} 自 {record.ended_on} 起{zh}"))
    return 0


def _record_json(record: CreditRecord) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    data["subject_id"] = mask_text(record.subject_id)
    return data


def _event_json(event: RecordEvent) -> dict[str, Any]:
    data = event.model_dump(mode="json")
    data["before"] = None if event.before is None else _record_json(event.before)
    data["after"] = _record_json(event.after)
    masked: dict[str, Any] = json.loads(mask_text(json.dumps(data, ensure_ascii=False)))  # free text may quote an id
    return masked


def _print_json(items: list[dict[str, Any]]) -> int:
    sys.stdout.write(json.dumps(items, ensure_ascii=False, indent=2) + "\n")
    return 0


def run_history(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        events = store.history(args.record_id)
        known = events or store.get(args.record_id) is not None
    if not known:
        _common.error(f"unknown record id {args.record_id!r} / 未知的记录编号")
        return 1
    if args.json:
        return _print_json([_event_json(e) for e in events])
    if not events:
        print("no change since the listing / 列入后无变更")
    for e in events:
        when = e.changed_at.astimezone(CST).isoformat(timespec="minutes")
        on = f" on {e.effective_on}" if e.effective_on else ""
        early = " early/提前" if e.early else ""
        line = f"{when}  {e.action}{on}{early}  {e.decision_no or '-'}  {e.authority or '-'}  {e.reason or '-'}  ({e.source})"
        print(escape_controls(mask_text(line)))
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        records = store.records_of(args.subject)
    if args.json:
        return _print_json([_record_json(r) for r in records])
    if not records:
        print("no records / 无记录")
    for r in records:
        end = f" until {r.ended_on}" if r.ended_on else ""
        print(escape_controls(mask_text(f"{r.record_id}  {r.list_type}  listed {r.listed_on}  "
                                        f"expires {r.expires_on or '-'}  {r.status}{end}  {r.authority or '-'}")))
    return 0


def run_db_init(args: argparse.Namespace) -> int:
    from .._cases import case_book_for  # the case tables live in the same database

    with open_store(_common.db_url(args), create=True) as store:
        case_book_for(store)
        where = _common.store_name(store)
        records = store.count()
    print(f"database ready: {where} ({records} record(s)) / 数据库已就绪：{where}（{records} 条记录）")
    return 0
