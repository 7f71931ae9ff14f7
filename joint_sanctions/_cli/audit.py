"""``joint-sanctions audit verify [--anchor SEQ:HASH] [--json]`` and ``audit list [--limit N] [--json]``: the audit log of
checks (docs/audit.md).

``verify`` exits 0 with the number of entries, or 1 with one line naming the first entry changed,
removed, reordered or inserted. Neither command creates a database.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._audit import AuditLog
from .._text import escape_controls
from ..stores import open_store
from . import _common

_MAX_LIMIT = 100_000


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("audit", parents=[common], help="the audit log of checks: verify, list / 审计日志")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", parser_class=_common.Parser)
    asub.required = True
    ver = asub.add_parser("verify", parents=[common],
                          help="recompute the hash chain; exit 1 naming the first entry changed, removed or "
                               "reordered / 校验审计日志")
    ver.add_argument("--anchor", type=_anchor, metavar="SEQ:HASH",
                     help="an entry's number and hash from an earlier verify, kept outside the database: it "
                          "must still be there with that hash / 锚定值")
    ver.add_argument("--json", action="store_true", help="print the report as one JSON object only")
    ver.set_defaults(func=run_verify)
    lst = asub.add_parser("list", parents=[common], help="the latest entries, newest first (ids masked) / 最新审计记录")
    lst.add_argument("--limit", type=_common.positive_int(_MAX_LIMIT), default=20, metavar="N",
                     help=f"how many entries (1-{_MAX_LIMIT}, default 20)")
    lst.add_argument("--json", action="store_true", help="print a JSON array only")
    lst.set_defaults(func=run_list)


def _anchor(text: str) -> tuple[int, str]:
    """argparse type for ``--anchor SEQ:HASH`` (what ``audit verify`` prints as the head)."""
    seq, _, digest = text.partition(":")
    if not (seq.isascii() and seq.isdigit() and len(seq) <= 18 and len(digest) == 64
            and all(c in "0123456789abcdefABCDEF" for c in digest)):
        raise argparse.ArgumentTypeError(f"{text!r} is not SEQ:HASH (an entry number, ':', 64 hex digits) / "
                                         "锚定值格式应为 序号:64位十六进制哈希")
    return int(seq), digest.lower()


def run_verify(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        report = AuditLog(store).verify(anchor=args.anchor)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    if report.problem is not None:
        _common.error(report.problem.message)
        return 1
    if not args.json:
        print(f"audit log verified: {report.entries} entries, head {report.head_seq}:{report.head_hash} / "
              f"审计日志校验通过：{report.entries} 条")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_store(_common.db_url(args)) as store:
        entries = AuditLog(store).latest(args.limit)
    if args.json:
        sys.stdout.write(json.dumps([e.to_dict() for e in entries], ensure_ascii=False) + "\n")
        return 0
    if not entries:
        print("no audit entries / 没有审计记录")
    for e in entries:
        print(escape_controls(f"{e.seq}  {e.recorded_at}  {e.caller or '-'}  {e.subject_id}  {e.matter_type}  "
                              f"{e.decision}  {e.check_id}  {e.case_id or '-'}  {e.revision}"))
    return 0
