"""``joint-sanctions cases list|dispose|withdraw|feedback|stats|schema``: the closed loop (docs/cli.md).

A CASE_ID argument may be the full id or a unique prefix of at least 8 characters. An ambiguous
prefix (the matching ids are listed), a shorter one that is no case's full id, and an unknown id are
refused with exit 1: whether an id is known can only be told by the database, so it is refused
input, not a wrong command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any

from .. import _identifiers as identifiers
from .._cases import CASE_STATUSES, DISPOSAL_RESULTS, Case, CaseBook, CaseStats, case_book_for
from .._delivery import FeedbackSink, HttpSink, JsonlFileSink, deliver, plain_http_warning, uplink_key
from .._errors import DeliveryError, IdentifierError
from .._feedback import shipped_schema_text
from .._models import CST
from .._text import escape_controls
from ..stores import open_store
from ..vocabulary import DECISIONS, LIST_TYPES, MATTER_TYPES
from . import _common

# Bounds of the feedback run's numbers: beyond them a value is a typo, and an infinite or huge one
# overflows a socket timeout or starts a thread per worker.
_MAX_TIMEOUT = 600.0
_MAX_RETRY_FOR = 86400.0
_MAX_WORKERS = 64


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("cases", parents=[common], help="the closed loop: list, dispose, feed back cases")
    csub = p.add_subparsers(dest="cases_command", metavar="ACTION", parser_class=_common.Parser)
    csub.required = True

    lst = csub.add_parser("list", parents=[common], help="list cases (resident ids masked)")
    lst.add_argument("--status", choices=list(CASE_STATUSES), metavar="S",
                     help="only cases in this status: " + ", ".join(CASE_STATUSES))
    lst.add_argument("--subject", type=_subject_id, metavar="ID",
                     help="only cases of this subject (USCC or resident id)")
    lst.add_argument("--matter", choices=list(MATTER_TYPES), metavar="M",
                     help="only cases of this matter type: " + ", ".join(MATTER_TYPES))
    lst.add_argument("--since", type=_common.iso_date, metavar="YYYY-MM-DD",
                     help="only cases initiated on or after this day (China Standard Time)")
    lst.add_argument("--json", action="store_true", help="print a JSON array only")
    lst.set_defaults(func=run_list)

    dis = csub.add_parser("dispose", parents=[common], help="record a department's disposal (处置)")
    dis.add_argument("case_id", metavar="CASE_ID", help="the case id, or a unique prefix of ≥ 8 characters")
    dis.add_argument("--result", required=True, choices=list(DISPOSAL_RESULTS), metavar="R",
                     help="disposal result: " + ", ".join(DISPOSAL_RESULTS))
    dis.add_argument("--text", help="what was done (result text)")
    dis.add_argument("--reason", help="why not (fully) applied; required for not_applied")
    dis.add_argument("--description", help="anything else the platform should know")
    dis.add_argument("--department", metavar="NAME", help="handling department's name")
    dis.add_argument("--department-code", metavar="CODE", help="handling department's code")
    dis.set_defaults(func=run_dispose)

    wd = csub.add_parser("withdraw", parents=[common],
                         help="withdraw a responded case; it is never fed back (撤回)")
    wd.add_argument("case_id", metavar="CASE_ID", help="the case id, or a unique prefix of ≥ 8 characters")
    wd.add_argument("--reason", required=True, help="why the case is withdrawn")
    wd.set_defaults(func=run_withdraw)

    fb = csub.add_parser("feedback", parents=[common], help="send pending feedback records (反馈)")
    to = fb.add_mutually_exclusive_group(required=True)
    to.add_argument("--to", metavar="URL", type=_not_empty, help="POST each record to this platform URL")
    to.add_argument("--out", metavar="FILE.jsonl", type=_not_empty,
                    help="append each record to this JSON Lines file")
    fb.add_argument("--token", help="bearer token for the platform (visible to ps: prefer --token-env)")
    fb.add_argument("--token-env", metavar="VAR", help="read the bearer token from this environment variable")
    fb.add_argument("--sign-key-env", metavar="VAR",
                    help="sign each body (HMAC-SM3) with the shared key in this environment variable "
                         "(default: JOINT_SANCTIONS_UPLINK_KEY when set)")
    fb.add_argument("--timeout", type=_common.positive_number(_MAX_TIMEOUT), default=10.0,
                    metavar="SECONDS",
                    help="HTTP timeout and wall-clock deadline per attempt (default 10)")
    fb.add_argument("--ca-file", metavar="PEM", help="CA bundle to verify the platform's certificate")
    fb.add_argument("--client-cert", metavar="PEM", help="client certificate for mutual TLS")
    fb.add_argument("--client-key", metavar="PEM", help="key of the client certificate")
    fb.add_argument("--retry-for", type=_common.positive_number(_MAX_RETRY_FOR), default=10.0,
                    metavar="SECONDS",
                    help="retry 5xx and timeouts of a record within this run for about this long (default 10)")
    fb.add_argument("--workers", type=_common.positive_int(_MAX_WORKERS), default=1, metavar="N",
                    help=f"records sent at once (at most {_MAX_WORKERS})")
    fb.add_argument("--json", action="store_true", help="print the run's report as JSON only")
    fb.set_defaults(func=run_feedback)

    st = csub.add_parser("stats", parents=[common], help="effective cases by month, measure, department, "
                                                         "list type and result")
    st.add_argument("--json", action="store_true", help="print a JSON object only")
    st.set_defaults(func=run_stats)

    sc = csub.add_parser("schema", parents=[common], help="print the JSON Schema of feedback v1")
    sc.set_defaults(func=run_schema)


def _not_empty(text: str) -> str:
    """argparse type: any text but an empty one (an empty --out would pass for "no --out")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty value / 值为空")
    return text


def _subject_id(text: str) -> str:
    try:
        return identifiers.parse_identifier(text)[0]
    except IdentifierError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _book(args: argparse.Namespace) -> tuple[Any, CaseBook]:
    store = open_store(_common.db_url(args))
    return store, case_book_for(store)


def run_list(args: argparse.Namespace) -> int:
    store, book = _book(args)
    with store:
        cases = book.list(args.status, subject=args.subject, matter_type=args.matter, since=args.since)
        ended = _records_ended(store, cases)
    if args.json:
        sys.stdout.write(json.dumps([_summary(c, c.case_id in ended) for c in cases], ensure_ascii=False, indent=2)
                         + "\n")
    else:
        print(render_table(cases, ended))
    return 0


def _records_ended(store: Any, cases: list[Case]) -> set[str]:
    """Ids of the cases every record of which has since been repaired or removed: the handling
    department should know before it applies the measures of an open one (docs/record-import.md, "When a record counts")."""
    status: dict[str, bool] = {}
    ended = set()
    for case in cases:
        ids = {rid for m in case.measures for rid in m.record_ids}
        for rid in ids - status.keys():
            record = store.get(rid)
            status[rid] = record is not None and record.status != "active"
        if ids and all(status[rid] for rid in ids):
            ended.add(case.case_id)
    return ended


def _summary(case: Case, records_ended: bool = False) -> dict[str, Any]:
    """The ``cases list --json`` element, with the measures that did not bind (the legality guard) and
    whether every record behind the case has been repaired or removed since."""
    return {**case.summary(),
            "non_binding_measure_ids": [m.measure_id for m in case.measures if not m.binding],
            "records_ended": records_ended}


def _measures_cell(case: Case) -> str:
    # Why a measure did not bind, in the words of `check`: a punishment's basis is unconfirmed (a person
    # confirms it), an incentive is suspended by a punishment.
    return ",".join(m.measure_id if m.binding else
                    f"{m.measure_id}({'依据待核实' if m.kind == 'punishment' else '因惩戒措施暂停'})"
                    for m in case.measures)


def render_table(cases: list[Case], records_ended: set[str] | frozenset[str] = frozenset()) -> str:
    """A readable table of cases (resident ids masked, times in China Standard Time); a case whose
    records have all been repaired or removed since says so beside its status."""
    if not cases:
        return "no cases / 无案例"
    header = ("case_id", "status", "decision", "matter", "subject", "measures", "initiated", "disposed")
    rows: list[tuple[str, ...]] = []
    for c in cases:
        s = c.summary()
        ended = " (records ended 记录已修复/移出)" if c.case_id in records_ended else ""
        rows.append((c.case_id, f"{c.status} {CASE_STATUSES[c.status]}{ended}",
                     f"{c.decision} {DECISIONS[c.decision]}", f"{c.matter_type} {MATTER_TYPES[c.matter_type]}",
                     f"{s['subject']['name'] or '-'} {s['subject']['id']}", _measures_cell(c),
                     _local(c.initiated_at), _local(c.disposal.disposed_at) if c.disposal else "-"))
    # Escaped before measuring: names and departments come from imported records and users.
    rows = [tuple(map(escape_controls, row)) for row in rows]
    widths = [max(_width(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for c in cases:
        if c.status == "rejected" and c.delivery is not None:
            lines.append(escape_controls(f"rejected {c.case_id}: {c.summary()['last_error']}"))
    return "\n".join(lines)


def _local(value: dt.datetime) -> str:
    # The JSON's convention (ISO-8601, China Standard Time, offset shown), to the minute.
    return value.astimezone(CST).isoformat(timespec="minutes")


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def run_dispose(args: argparse.Namespace) -> int:
    store, book = _book(args)
    with store:
        case = book.dispose(book.resolve(args.case_id), args.result, text=args.text, reason=args.reason,
                            description=args.description, department=args.department,
                            department_code=args.department_code)
    print(f"case {case.case_id} disposed ({args.result}); "
          f"its feedback record is pending / 已处置，待反馈")
    return 0


def run_withdraw(args: argparse.Namespace) -> int:
    store, book = _book(args)
    with store:
        case = book.withdraw(book.resolve(args.case_id), args.reason)
    print(f"case {case.case_id} withdrawn; it will not be fed back / 已撤回，不予反馈")
    return 0


def _secret(var: str | None, what: str) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise DeliveryError(f"{what}: environment variable {var} is not set")
    return value


def _sink(args: argparse.Namespace) -> FeedbackSink:
    if args.out:
        return JsonlFileSink(args.out)
    if args.client_key and not args.client_cert:
        raise DeliveryError("--client-key needs --client-cert")
    key = uplink_key(args.sign_key_env)
    cert = (args.client_cert, args.client_key) if args.client_key else args.client_cert
    sink = HttpSink(args.to, timeout=args.timeout, token=args.token or _secret(args.token_env, "--token-env"),
                    sign_key=key, verify=args.ca_file or True, cert=cert, warn_plain_http=False)
    if warning := plain_http_warning(args.to, signed=key is not None):
        print(f"joint-sanctions: warning: {warning}", file=sys.stderr)
    return sink


def run_feedback(args: argparse.Namespace) -> int:
    store, book = _book(args)
    with store:
        sink = _sink(args)
        try:
            report = deliver(book, sink, workers=args.workers, retry_for=args.retry_for)
        finally:
            sink.close()
    for case_id, reason in report.rejected:
        _common.error(f"case {case_id} rejected by the platform: {reason}")
    if report.pending_after:
        _common.error(f"{report.pending_after} disposed case(s) still pending; run again later / "
                      f"{report.pending_after} 个案例待反馈")
    if args.json:
        doc = {"delivered": len(report.delivered), "rejected": [c for c, _ in report.rejected],
               "left_pending": report.left_pending, "pending_after": report.pending_after,
               "attempts": report.attempts, "taken_over": report.taken_over}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    else:
        print(f"delivered {len(report.delivered)}, rejected {len(report.rejected)}, "
              f"pending {report.pending_after} / 已反馈 {len(report.delivered)}，被拒收 {len(report.rejected)}，"
              f"待反馈 {report.pending_after}")
    return 0 if report.ok else 1


def run_stats(args: argparse.Namespace) -> int:
    store, book = _book(args)
    with store:
        stats = book.stats()
    if args.json:
        sys.stdout.write(json.dumps(stats.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        print(render_stats(stats))
    return 0


def render_stats(stats: CaseStats) -> str:
    """The statistics as readable text."""
    lines = [
        (f"opened 立案 {stats.opened}   awaiting disposal 待处置 {stats.awaiting_disposal}   "
         f"effective 有效案例 {stats.effective}"),
        f"pending 待反馈 {stats.pending}   delivered 已反馈 {stats.delivered}   rejected 被拒收 {stats.rejected}",
        f"withdrawn 已撤回 {stats.withdrawn}",
    ]
    sections = [("by month 按月", stats.by_month, {}), ("by measure 按措施", stats.by_measure, {}),
                ("by department 按部门", stats.by_department, {}),
                ("by list type 按名单", stats.by_list_type, LIST_TYPES),
                ("by result 按结果", stats.by_result, dict(DISPOSAL_RESULTS))]
    for title, counts, names in sections:
        lines.append(f"{title}:")
        lines.extend(f"  {key} {names.get(key, '')}".rstrip() + f": {n}" for key, n in counts.items())
        if not counts:
            lines.append("  -")
    return "\n".join(map(escape_controls, lines))


def run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(shipped_schema_text())
    return 0
