"""``joint-sanctions measures [--matter M] [--list L] [--subject-type T] [--json]``: what applies
without a subject; ``measures export DIR --out FILE.xlsx`` and ``measures import FILE.xlsx --out DIR``:
the Excel round trip (optional sub-actions, so the bare command keeps working)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from .._errors import MeasureListError
from .._load import load_measure_lists, shipped_measures_dir
from .._load_nodes import _suggest
from .._workbench_excel import ExcelError, export_workbook, import_workbook
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
    p.set_defaults(func=run, action=None)
    # Optional sub-actions: without one, `measures` lists what applies, as it always did.
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    export = actions.add_parser("export", help="write measure lists to an Excel workbook, a sheet per file / "
                                               "把措施清单导出为 Excel 工作簿（每个文件一个工作表）")
    export.add_argument("paths", nargs="+", metavar="DIR", help="measure-list directories or files / 措施清单目录或文件")
    export.add_argument("--out", required=True, type=_xlsx, metavar="FILE.xlsx", help="the workbook to write / 输出的工作簿")
    export.set_defaults(func=run_export)
    load = actions.add_parser("import", help="write measure-list YAML files from an Excel workbook / "
                                             "由 Excel 工作簿生成措施清单 YAML 文件")
    load.add_argument("workbook", type=_xlsx, metavar="FILE.xlsx", help="the workbook to read / 要读取的工作簿")
    load.add_argument("--out", required=True, metavar="DIR", help="the directory to write / 输出目录")
    load.add_argument("--force", action="store_true", help="overwrite existing files / 覆盖已有文件")
    load.set_defaults(func=run_import)


def _xlsx(text: str) -> str:
    if not text.lower().endswith(".xlsx"):
        raise argparse.ArgumentTypeError(f"'{text}' is not an .xlsx file name / '{text}' 不是 .xlsx 文件名")
    return text


def _no_filters(args: argparse.Namespace) -> bool:
    if args.matter or args.list_type or args.subject_type or args.json:
        print(f"joint-sanctions measures: error: --matter, --list, --subject-type and --json do not go with "
              f"'{args.action}' / --matter、--list、--subject-type、--json 不能与 {args.action} 同用", file=sys.stderr)
        return False
    return True


def run_export(args: argparse.Namespace) -> int:
    if not _no_filters(args):
        return 2
    try:
        sheets, count = export_workbook(args.paths, args.out)
    except MeasureListError as exc:
        count = len(exc.problems)
        error(f"the measure lists have {count} problem(s); run joint-sanctions lint to see them / "
              f"措施清单有 {count} 个问题，请运行 joint-sanctions lint 查看")
        return 1
    except ExcelError as exc:
        return _refused(exc)
    except OSError as exc:
        error(f"cannot write {args.out}: {exc.strerror} / 无法写入 {args.out}：{exc.strerror}")
        return 1
    print(f"wrote {args.out}: {sheets} sheet(s), {count} measure(s) / 已写出 {args.out}：{sheets} 个工作表，{count} 条措施")
    return 0


def _refused(exc: ExcelError) -> int:
    for problem in exc.problems:
        print(shown(str(problem)))
    count = len(exc.problems)
    error(f"{count} problem(s); nothing written / 共 {count} 个问题，未写出任何文件")
    return 1


def run_import(args: argparse.Namespace) -> int:
    if not _no_filters(args):
        return 2
    try:
        written = import_workbook(args.workbook, args.out, force=args.force)
    except ExcelError as exc:
        return _refused(exc)
    except OSError as exc:
        error(f"cannot write to {args.out}: {exc.strerror} / 无法写入 {args.out}：{exc.strerror}")
        return 1
    for path in written:
        print(shown(f"wrote {path} / 已写出"))
    return 0


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
