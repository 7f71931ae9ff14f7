"""``joint-sanctions measures [--matter M] [--list L] [--subject-type T] [--json]``: what applies
without a subject."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from .._errors import MeasureListError
from .._load import load_measure_lists, shipped_measures_dir
from .._load_nodes import _suggest
from .._workbench_measures import measure_rows
from ..vocabulary import EFFECTS, LIST_TYPES, MATTER_TYPES, SUBJECT_TYPES
from ._common import error, measures, shown


def _known(table: Mapping[str, str], noun_en: str, noun_zh: str) -> Any:
    """argparse type: an id of ``table``; an unknown one is a wrong command line with a did-you-mean."""

    def read(text: str) -> str:
        if text not in table:
            hint_en, hint_zh = _suggest(text, table)
            raise argparse.ArgumentTypeError(f"'{text}' is not a {noun_en}{hint_en} / "
                                             f"'{text}' 不是已定义的{noun_zh}{hint_zh}")
        return text
    return read


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("measures", parents=[common],
                       help="the measures that apply to a matter, list type or subject type, without a "
                            "subject / 不指定主体，查看适用的措施")
    p.add_argument("--matter", type=_known(MATTER_TYPES, "matter type", "事项类型"), metavar="TYPE",
                   help="only measures of this matter type / 事项类型")
    p.add_argument("--list", dest="list_type", type=_known(LIST_TYPES, "list type", "名单类型"), metavar="TYPE",
                   help="only measures triggered by this list type / 名单类型")
    p.add_argument("--subject-type", type=_known(SUBJECT_TYPES, "subject type", "主体类型"), metavar="TYPE",
                   help="only measures that may apply to a subject of this type / 主体类型")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def _basis(row: dict[str, Any]) -> str:
    return "；".join(" ".join(part for part in (b["document"], b["number"], b["article"]) if part)
                    for b in row["legal_basis"])


def _binding(row: dict[str, Any]) -> str:
    if row["kind"] == "incentive":
        return "给予（同时适用惩戒时暂停） / granted unless a punishment applies"
    if row["binding"]:
        return "有约束力（依据已核实） / binding (basis confirmed)"
    return "无约束力，人工复核（依据待核实） / not binding: basis unconfirmed, a person reviews"


def _print(row: dict[str, Any]) -> None:
    mandatory = "应当/不得 mandatory" if row["mandatory"] else "可以 discretionary"
    print(f"{row['measure_id']}  {shown(row['name'])}")
    print(f"  效力 effect: {row['effect']} {EFFECTS[row['effect']]} · {mandatory}")
    print(f"  约束力 binding: {_binding(row)}")
    print(f"  依据 basis: {shown(_basis(row))}")
    scope = []
    if row["condition"]:
        scope.append(f"条件 condition: {shown(row['condition'])}")
    if row["requires_ban"]:
        scope.append("须记录载明禁入 requires_ban")
    if row["requires_overdue"]:
        scope.append("须逾期未整改 requires_overdue")
    if row["subject_types"] is not None:
        scope.append(f"主体类型 subject types: {', '.join(row['subject_types'])}")
    if row["related_party_roles"]:
        scope.append(f"关联人 related parties: {', '.join(row['related_party_roles'])}")
    if row["valid_from"] or row["valid_to"]:
        scope.append(f"有效期 valid: {row['valid_from'] or '…'} – {row['valid_to'] or '…'}")
    if scope:
        print(f"  {' · '.join(scope)}")
    print(f"  名单 lists: {', '.join(row['list_types'])}")
    print(f"  事项 matters: {', '.join(row['matter_types'])}")


def run(args: argparse.Namespace) -> int:
    paths = measures(args) or [str(shipped_measures_dir())]
    try:
        files = load_measure_lists(paths)
    except MeasureListError as exc:
        count = len(exc.problems)
        error(f"the measure lists have {count} problem(s); run joint-sanctions lint to see them / "
              f"措施清单有 {count} 个问题，请运行 joint-sanctions lint 查看")
        return 1
    rows = measure_rows(files, matter=args.matter, list_type=args.list_type, subject_type=args.subject_type)
    if args.json:
        filters = {"matter": args.matter, "list_type": args.list_type, "subject_type": args.subject_type}
        print(json.dumps({"filters": filters, "measures": rows}, ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        _print(row)
        print()
    print(f"{len(rows)} measure(s) / 共 {len(rows)} 条措施")
    return 0
