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

from .._serving import compile_paths
from .._workbench_matrix import as_json, matrix, render_html, write_xlsx
from ..vocabulary import LIST_TYPES, MATTER_TYPES
from . import _common


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("matrix", parents=[common],
                       help="list types × matter types: the strongest effect of each cell / 措施矩阵")
    p.add_argument("--out", type=_common.out_path(".html", ".xlsx", ".json"), metavar="FILE",
                   help="write the matrix to FILE; the extension chooses .html, .xlsx or .json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _common.check_out_folder(args.out)
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
    if ext == ".xlsx":
        _common.write_out(args.out, binary=lambda f: write_xlsx(f, compiled, cells))
    else:
        _common.write_out(args.out, json.dumps(as_json(compiled, cells), ensure_ascii=False, indent=2) + "\n"
                          if ext == ".json" else render_html(compiled, cells))
    return 0
