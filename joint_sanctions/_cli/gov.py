"""``joint-sanctions gov clues|clearance|contracts``: government integrity (政务诚信,
docs/government-integrity.md).

Every command takes ``--json`` and then prints only the object it created or changed (or read), with
its id, status and trail. Refused input (unknown body, channel, clue or record, a step out of order, an
overpayment) is one line in English and Chinese and exit 1, with nothing written. Warnings (a late
transfer, an overdue verification) are recorded in the clue's trail and repeated on stderr.

The transfer deadline is ``--transfer-days N`` working days after receipt, else
``JOINT_SANCTIONS_GOV_TRANSFER_DAYS``, else 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from .._gov_base import GovError
from .._gov_clearance import Clearance, add_payment, clearance
from .._gov_clues import (
    DEFAULT_TRANSFER_WORKING_DAYS,
    Clue,
    add_clue,
    get_clue,
    list_clues,
    transfer_clue,
    verify_clue,
)
from .._gov_contracts import contract, import_contracts
from .._models import CST
from .._text import escape_controls
from ..stores import open_store
from ..vocabulary import CLUE_STATUSES
from . import _common
from ._common import action, action_group
from .gov_districts import register_districts

_TRANSFER_DAYS_ENV = "JOINT_SANCTIONS_GOV_TRANSFER_DAYS"
_MAX_TRANSFER_DAYS = 60


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("gov", parents=[common], help="government integrity: clues, clearance, contracts (政务诚信)")
    gsub = p.add_subparsers(dest="gov_command", metavar="GROUP", parser_class=_common.Parser)
    gsub.required = True
    _register_clues(gsub, common)
    _register_clearance(gsub, common)
    _register_contracts(gsub, common)
    register_districts(gsub, common)


def _register_clues(gsub: Any, common: argparse.ArgumentParser) -> None:
    csub = action_group(gsub, common, "clues", "complaint clues about government bodies (违约失信投诉线索)")

    add = action(csub, common, "add", "receive a clue (受理)", run_clue_add)
    add.add_argument("--body", required=True, metavar="USCC", help="the government body's USCC / 被投诉机构统一社会信用代码")
    add.add_argument("--channel", required=True, metavar="C", help="how it came in: credit_website, hotline_12345, "
                     "internet_supervision, arrears_platform, business_env, petition, other / 渠道")
    add.add_argument("--summary", required=True, help="what the complaint says / 投诉内容")
    add.add_argument("--amount", type=_number, metavar="YUAN", help="amount said to be owed / 涉及金额（元）")
    add.add_argument("--received", type=_common.iso_date, metavar="YYYY-MM-DD", help="day of receipt (default today)")
    add.add_argument("--region", metavar="CODE", help="the body's 6-digit region code, when not the one in its USCC")
    add.add_argument("--name", default="", help="the body's name / 机构名称")

    clue = ("clue_id", "CLUE")
    tr = action(csub, common, "transfer", "transfer to the verifying department (即发现即转交)", run_clue_transfer, clue)
    tr.add_argument("--to", required=True, metavar="DEPT", help="superior or competent department / 上级或主管部门")
    tr.add_argument("--due", required=True, type=_common.iso_date, metavar="YYYY-MM-DD",
                    help="verification due by / 核实办理期限")
    tr.add_argument("--on", type=_common.iso_date, metavar="YYYY-MM-DD", help="day of the transfer (default today)")
    tr.add_argument("--transfer-days", type=_transfer_days, metavar="N",
                    help=f"working days after receipt a transfer is in time (default {_TRANSFER_DAYS_ENV} or "
                         f"{DEFAULT_TRANSFER_WORKING_DAYS}) / 转交时限（工作日）")

    ver = action(csub, common, "verify", "record the verification (核实认定)", run_clue_verify, clue)
    finding = ver.add_mutually_exclusive_group(required=True)
    finding.add_argument("--confirmed", action="store_true", help="the complaint is founded (属实)")
    finding.add_argument("--unfounded", action="store_true", help="the complaint is unfounded (不实)")
    ver.add_argument("--reason", required=True, help="the finding / 认定理由")
    ver.add_argument("--rectify-by", type=_common.iso_date, metavar="YYYY-MM-DD", help="rectification deadline / 整改期限")
    ver.add_argument("--amount", type=_number, metavar="YUAN", help="amount owed (default the clue's) / 欠款金额")
    ver.add_argument("--on", type=_common.iso_date, metavar="YYYY-MM-DD", help="day of the finding (default today)")
    ver.add_argument("--decision-no", default="", metavar="N", help="the finding's document number / 认定文号")

    action(csub, common, "show", "a clue and its whole trail", run_clue_show, clue)

    lst = action(csub, common, "list", "clues by day of receipt (--json: an array)", run_clue_list)
    lst.add_argument("--status", choices=list(CLUE_STATUSES), metavar="S", help="only: " + ", ".join(CLUE_STATUSES))
    lst.add_argument("--overdue", action="store_true",
                     help="only clues waiting past their transfer deadline or verification due date today")
    lst.add_argument("--at", type=_common.iso_date, metavar="YYYY-MM-DD", help="the day --overdue looks at")
    lst.add_argument("--transfer-days", type=_transfer_days, metavar="N", help="the transfer deadline (working days)")


def _register_clearance(gsub: Any, common: argparse.ArgumentParser) -> None:
    csub = action_group(gsub, common, "clearance", "clearance of arrears under a record (清欠)")
    record = ("record_id", "RECORD_ID")
    add = action(csub, common, "add", "record a payment / 登记还款", run_clearance_add, record)
    add.add_argument("--paid", required=True, type=_number, metavar="YUAN", help="amount paid / 还款金额（元）")
    add.add_argument("--on", required=True, type=_common.iso_date, metavar="YYYY-MM-DD", help="day paid / 还款日期")
    add.add_argument("--note", default="", help="anything to keep with it / 备注")
    action(csub, common, "show", "owed, paid, outstanding and the payments", run_clearance_show, record)


def _register_contracts(gsub: Any, common: argparse.ArgumentParser) -> None:
    from .records import add_max_input_mb

    csub = action_group(gsub, common, "contracts", "contract performance of government bodies (合同履约)")
    imp = action(csub, common, "import", "import contract events from CSV or XLSX", run_contracts_import,
                 ("file", "FILE"))
    add_max_input_mb(imp)
    action(csub, common, "show", "a contract and its events", run_contracts_show, ("contract_no", "NO"))


def _number(text: str) -> float:
    """argparse type: a finite number (whether it is an acceptable amount the library decides: exit 1)."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number / 不是数字")
    return value


def _transfer_days(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 3 and int(text) <= _MAX_TRANSFER_DAYS):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of working days from 0 to "
                                         f"{_MAX_TRANSFER_DAYS} / 转交时限须为 0 到 {_MAX_TRANSFER_DAYS} 的整数")
    return int(text)


def transfer_days(args: argparse.Namespace) -> int:
    """``--transfer-days``, else the environment's, else the default."""
    if getattr(args, "transfer_days", None) is not None:
        days: int = args.transfer_days
        return days
    text = os.environ.get(_TRANSFER_DAYS_ENV, "").strip()
    if not text:
        return DEFAULT_TRANSFER_WORKING_DAYS
    try:
        return _transfer_days(text)
    except argparse.ArgumentTypeError as exc:
        raise GovError(f"{_TRANSFER_DAYS_ENV}: {exc}") from None


def print_json(data: Any) -> int:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return 0


def _warn(clue: Clue, actions: tuple[str, ...]) -> None:
    for event in clue.trail:
        if event.warning and event.action in actions:
            print(f"joint-sanctions: warning: {_common.shown(event.warning)}", file=sys.stderr)


def _show_clue(clue: Clue, args: argparse.Namespace, *, warn: tuple[str, ...] = ()) -> int:
    _warn(clue, warn)
    if args.json:
        return print_json(clue.to_json())
    data = clue.to_json()
    amount = f"  {data['amount']:.2f} yuan" if data["amount"] is not None else ""
    print(escape_controls(f"{data['clue_id']}  {data['status']} ({data['status_name']})  body {data['body_id']} "
                          f"{data['body_name']}  region {data['region_code']}  {data['channel']}{amount}"))
    if clue.record_id:
        print(f"record {clue.record_id}")
    for event in data["trail"]:
        warning = f"  ⚠ {event['warning']}" if event["warning"] else ""
        print(escape_controls(f"  {event['on']}  {event['action']}  {event['actor'] or '-'}  {event['text']}{warning}"))
    return 0


def run_clue_add(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        clue = add_clue(store, body=args.body, channel=args.channel, summary=args.summary, amount=args.amount,
                        received=args.received, region=args.region, body_name=args.name)
    return _show_clue(clue, args)


def run_clue_transfer(args: argparse.Namespace) -> int:
    days = transfer_days(args)
    with open_store(_common.db_url(args)) as store:
        clue = transfer_clue(store, args.clue_id, to=args.to, due=args.due, on=args.on, working_days=days)
    return _show_clue(clue, args, warn=("transferred",))


def run_clue_verify(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        clue = verify_clue(store, args.clue_id, confirmed=args.confirmed, reason=args.reason, on=args.on,
                           rectify_by=args.rectify_by, amount=args.amount, decision_no=args.decision_no)
    return _show_clue(clue, args, warn=("confirmed", "unfounded"))


def run_clue_show(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        clue = get_clue(store, args.clue_id)
    return _show_clue(clue, args)


def run_clue_list(args: argparse.Namespace) -> int:
    import datetime as dt

    days = transfer_days(args)
    day = args.at or dt.datetime.now(CST).date()
    with open_store(_common.db_url(args)) as store:
        clues = list_clues(store, status=args.status, overdue_on=day if args.overdue else None, working_days=days)
    if args.json:
        return print_json([c.to_json() for c in clues])
    if not clues:
        print("no clues / 无线索")
    for clue in clues:
        data = clue.to_json()
        late = "  overdue/逾期" if clue.overdue(day, days) else ""
        print(escape_controls(f"{data['clue_id']}  {data['received_on']}  {data['status']}  {data['body_id']}  "
                              f"{data['region_code']}  {data['channel']}{late}"))
    return 0


def _shown(args: argparse.Namespace, data: dict[str, Any], head: str, lines: list[str]) -> int:
    """The object as JSON with ``--json``, else its head line and its items' lines, for a person."""
    if args.json:
        return print_json(data)
    for line in (head, *lines):
        print(escape_controls(line))
    return 0


def _show_clearance(state: Clearance, args: argparse.Namespace) -> int:
    data = state.to_json()
    return _shown(args, data, f"{data['record_id']}  {data['status']}  owed {data['owed']:.2f}  paid "
                              f"{data['paid']:.2f}  outstanding {data['outstanding']:.2f} yuan / 欠款 "
                              f"{data['owed']:.2f} 已还 {data['paid']:.2f} 尚欠 {data['outstanding']:.2f} 元",
                  [f"  {p['on']}  {p['paid']:.2f}  {p['note'] or '-'}" for p in data["payments"]])


def run_clearance_add(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        state = add_payment(store, args.record_id, paid=args.paid, on=args.on, note=args.note)
    return _show_clearance(state, args)


def run_clearance_show(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        state = clearance(store, args.record_id)
    return _show_clearance(state, args)


def run_contracts_import(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        report = import_contracts(store, args.file, max_input_mb=args.max_input_mb)
    for err in report.errors:
        _common.error(f"{args.file}:{err.line}: {err.reason}")
    if args.json:
        print_json(report.to_json())
    else:
        print(f"imported {report.events_added} new event(s) of {report.rows} row(s), rejected {len(report.errors)} "
              f"row(s), opened {len(report.clues_opened)} clue(s) / 新增事件 {report.events_added} 条，拒绝 "
              f"{len(report.errors)} 行，新开线索 {len(report.clues_opened)} 条")
        for clue_id in report.clues_opened:
            print(f"clue {clue_id}")
    return 1 if report.errors else 0


def run_contracts_show(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        data = contract(store, args.contract_no).to_json()
    return _shown(args, data, f"{data['contract_no']}  {data['status']}  body {data['body_id']}  region "
                              f"{data['region_code']}  counterparty {data['counterparty'] or '-'}  signed "
                              f"{data['signed_on'] or '-'}  due {data['due_on'] or '-'}",
                  [f"  {e['event_on']}  {e['event']}  {e['text'] or '-'}" + (f"  clue {e['clue_id']}" if e["clue_id"]
                                                                             else "") for e in data["events"]])
