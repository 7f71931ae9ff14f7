"""``joint-sanctions matrix [--measures DIR] [--out FILE.html|.xlsx|.json]``: the measure lists as a picture.

List types × matter types, each cell the strongest effect, its measure ids and whether it binds;
empty cells and overlaps marked. Without ``--out`` a compact table goes to stdout. Exit 1 when the
lists do not lint clean or the file cannot be written; 2 for a bad command line; 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .._errors import JointSanctionsError
from .._serving import compile_paths
from .._workbench_matrix import as_json, matrix, render_html, write_xlsx
from ..vocabulary import LIST_TYPES, MATTER_TYPES
from . import _common

_FORMATS = (".html", ".xlsx", ".json")


class MatrixError(JointSanctionsError):
    """The picture cannot be written where it was asked to go."""


def _out_path(text: str) -> str:
    if os.path.splitext(text)[1].lower() not in _FORMATS:
        raise argparse.ArgumentTypeError(f"--out must end in .html, .xlsx or .json: {text!r} / "
                                         "输出文件扩展名须为 .html、.xlsx 或 .json")
    return text


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("matrix", parents=[common],
                       help="list types × matter types: the strongest effect of each cell / 措施矩阵")
    p.add_argument("--out", type=_out_path, metavar="FILE",
                   help="write the matrix to FILE; the extension chooses .html, .xlsx or .json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out is not None and (os.path.isdir(args.out) or not os.path.isdir(os.path.dirname(os.path.abspath(args.out)))):
        raise MatrixError(f"cannot write the matrix to {args.out} (not a file in an existing folder) / "
                          f"无法写入 {args.out}（目录不存在或是文件夹）")
    compiled = compile_paths(_common.measures(args))
    cells = matrix(compiled)
    if args.out is None:
        by_key = {(c.list_type, c.matter_type): c for c in cells}
        for lt in LIST_TYPES:
            filled = [by_key[(lt, mt)] for mt in MATTER_TYPES if not by_key[(lt, mt)].empty]
            print(f"{lt} ({LIST_TYPES[lt]}):" + ("" if filled else " —"))
            for c in filled:
                print(f"  {c.matter_type}: {c.effect} {'binding' if c.binding else 'not binding / 待核'}"
                      f"{'' if c.binding or not c.binding_effect else f' (binding: {c.binding_effect})'} "
                      f"[{', '.join(c.measure_ids)}]{' overlap / 重叠' if c.overlap else ''}")
        return 0
    ext = os.path.splitext(args.out)[1].lower()
    try:
        if ext == ".xlsx":
            with open(args.out, "wb") as f:
                write_xlsx(f, compiled, cells)
        else:
            text = (json.dumps(as_json(compiled, cells), ensure_ascii=False, indent=2) + "\n" if ext == ".json"
                    else render_html(compiled, cells))
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(text)
    except OSError as exc:
        raise MatrixError(f"cannot write {args.out}: {exc.strerror} / 无法写入 {args.out}") from None
    print(f"wrote {args.out} / 已写入 {args.out}")
    return 0
