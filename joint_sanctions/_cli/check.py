"""``joint-sanctions check --subject ID --matter TYPE …``: one check, as a table or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import _identifiers as identifiers
from .._errors import IdentifierError
from .._models import CST, AppliedMeasure, CheckResult
from .._text import escape_controls
from ..vocabulary import DECISIONS, LIST_TYPES, MATTER_TYPES, ORGANIZERS, RELATED_PARTY_ROLES, SUBJECT_TYPES
from . import _common, explain


def _subject_id(text: str) -> str:
    try:
        return identifiers.parse_identifier(text)[0]
    except IdentifierError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _checked_subject(text: str) -> str:
    """A USCC, a resident id, or a district's 6-digit region code (a district-level check)."""
    try:
        return identifiers.parse_identifier(text)[0]
    except IdentifierError as exc:
        problem = str(exc)
    try:
        return identifiers.parse_region_code(text)
    except IdentifierError:
        raise argparse.ArgumentTypeError(problem) from None


def _related(text: str) -> dict[str, str]:
    role, sep, value = text.partition("=")
    if not sep or role not in RELATED_PARTY_ROLES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not ROLE=ID with ROLE one of {', '.join(RELATED_PARTY_ROLES)}")
    return {"role": role, "id": _subject_id(value)}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("check", parents=[common], help="check one subject for one matter")
    p.add_argument("--subject", required=True, type=_checked_subject, metavar="ID",
                   help="USCC (统一社会信用代码), resident id (居民身份证号码) or, for a district-level check, "
                        "a 6-digit region code (行政区划代码)")
    p.add_argument("--matter", required=True, choices=list(MATTER_TYPES), metavar="TYPE",
                   help="matter type: " + ", ".join(MATTER_TYPES))
    p.add_argument("--name", default="", help="subject name")
    p.add_argument("--subject-type", choices=list(SUBJECT_TYPES), metavar="T",
                   help="subject type: " + ", ".join(SUBJECT_TYPES))
    p.add_argument("--related", action="append", type=_related, default=[], metavar="ROLE=ID",
                   help="a related party, e.g. legal_representative=410102199003071230 (repeatable)")
    p.add_argument("--at", type=_common.iso_time, metavar="YYYY-MM-DD",
                   help="check as of this date (or YYYY-MM-DDTHH:MM[:SS][±HH:MM] time)")
    p.add_argument("--item-code", help="service item code (事项编码)")
    p.add_argument("--application-no", help="application number (申请编号)")
    p.add_argument("--organizer", choices=list(ORGANIZERS), metavar="O",
                   help="who organises the matter (事项主办系统): " + ", ".join(ORGANIZERS) + "; default other")
    p.add_argument("--amount", type=_common.amount, metavar="YUAN",
                   help="the matter's amount in yuan, for measures whose condition compares it (申报金额)")
    p.add_argument("--no-case", action="store_true",
                   help="open no case even when measures apply (a preview) / 不发起案例")
    p.add_argument("--explain", action="store_true",
                   help="also say, for every candidate measure, whether it applied and why not; opens no case "
                        "/ 逐项说明措施是否适用及原因（不发起案例）")
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    _common.add_max_data_age(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    engine = _common.engine(args)
    subject = {"id": args.subject, "name": args.name, "subject_type": args.subject_type,
               "related_parties": args.related}
    if args.explain:
        explained = engine.explain(subject, args.matter, at=args.at, item_code=args.item_code,
                                   application_no=args.application_no, amount=args.amount,
                                   organizer=args.organizer)
        print(explained.to_json() if args.json else render(explained.result) + "\n" + explain.render(explained))
        return 0
    result = engine.check(subject, args.matter, at=args.at, item_code=args.item_code,
                          application_no=args.application_no, amount=args.amount,
                          organizer=args.organizer, open_case=not args.no_case)
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        print(render(result))
    return 0


def binding_text(measure: AppliedMeasure) -> str:
    """Whether ``measure`` binds, and in Chinese and English why not (the legality guard, docs/check-result.md)."""
    if measure.binding:
        return "具有约束力 binding" if measure.kind == "punishment" else "予以激励 granted"
    if measure.kind == "punishment":
        return "不具约束力：依据待核实 → 人工复核 / not binding: basis unconfirmed → review by a person"
    return "不具约束力：因惩戒措施暂停 / not binding: suspended because a punishment applies"


def render(result: CheckResult) -> str:
    """A readable, bilingual summary of one result."""
    s = result.subject
    lines = [
        f"主体 Subject : {s.name or '-'} ({s.id}, {SUBJECT_TYPES[s.subject_type]} {s.subject_type})",
        f"事项 Matter  : {MATTER_TYPES[result.matter_type]} ({result.matter_type})",
        f"结论 Decision: {DECISIONS[result.decision]} ({result.decision})",
        f"版本 Revision: {result.revision}   核查编号 Check: {result.check_id}"
        + (f"   案例 Case: {result.case_id}" if result.case_id else ""),
    ]
    if result.measures:
        lines.append("措施 Measures:")
        for m in result.measures:
            basis = "；".join(f"《{b.document}》{b.number}{b.article}" for b in m.legal_basis)
            via = f" 经由 via {m.via_related_party.role} {m.via_related_party.id}" if m.via_related_party else ""
            lines.append(f"  - {m.measure_id} {m.name} [{m.kind}/{m.effect}"
                         f"{', 强制 mandatory' if m.mandatory else ''}]{via}")
            lines.append(f"      效力 binding: {binding_text(m)}")
            lines.append(f"      依据 basis ({m.basis_status}): {basis}")
            lines.append(f"      记录 records: {', '.join(m.record_ids)}")
    else:
        lines.append("措施 Measures: 无 none")
    if result.data_as_of:
        lines.append("数据截至 Data as of: " + ", ".join(
            f"{lt} {t.astimezone(CST).isoformat(timespec='seconds')}" for lt, t in sorted(result.data_as_of.items())))
    if result.hits:
        lines.append("命中名单 Hits:")
        for h in result.hits:
            until = h.expires_on.isoformat() if h.expires_on else "—"
            lines.append(f"  - {h.record_id} {LIST_TYPES[h.list_type]} ({h.list_type}) {h.authority} "
                         f"{h.document_no} {h.listed_on.isoformat()} → {until}")
    # Imported text may hold terminal escapes that would rewrite the decision line on screen.
    return "\n".join(map(escape_controls, lines))
