"""``joint-sanctions diff OLD NEW [--db URL] [--at DAY] [--out FILE.html|.md|.json]``: what a new revision changes.

Measures added, removed and changed; the (list type, matter type, subject type) cells whose outcome
changes; with ``--db``, per matter type the subjects with active records whose decision changes.
Without ``--out`` a readable table goes to stdout. Exit 1 when either revision does not lint clean or
the database is refused (nothing is written then); 2 for a bad command line; 0 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from typing import Any

from .._errors import JointSanctionsError
from .._models import CST
from .._serving import compile_paths
from .._workbench_diff import diff_measures
from .._workbench_report import render_html, render_markdown, render_text
from ..stores import open_store
from . import _common

_FORMATS = (".html", ".md", ".json")


class DiffError(JointSanctionsError):
    """The sheet cannot be written where it was asked to go."""


def _out_path(text: str) -> str:
    if os.path.splitext(text)[1].lower() not in _FORMATS:
        raise argparse.ArgumentTypeError(f"--out must end in .html, .md or .json: {text!r} / "
                                         "输出文件扩展名须为 .html、.md 或 .json")
    return text


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("diff", parents=[common],
                       help="what a new revision of the measure lists changes, and whom it hits / 清单变更核对")
    p.add_argument("old", metavar="OLD", help="the live measure lists (folder or file)")
    p.add_argument("new", metavar="NEW", help="the revision to publish (folder or file)")
    p.add_argument("--at", type=_common.iso_date, metavar="YYYY-MM-DD",
                   help="the day to compare on (default: today, China Standard Time)")
    p.add_argument("--out", type=_out_path, metavar="FILE",
                   help="write the sheet to FILE; the extension chooses .html, .md or .json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder) or os.path.isdir(args.out):
            raise DiffError(f"cannot write the sheet to {args.out} (not a file in an existing folder) / "
                            f"无法写入 {args.out}（目录不存在或是文件夹）")
    before, after = compile_paths(args.old), compile_paths(args.new)
    day = args.at or dt.datetime.now(CST).date()
    url = _common.db_url(args)
    if url is None:
        diff = diff_measures(before, after, day=day)
    else:
        with open_store(url) as store:
            diff = diff_measures(before, after, day=day, store=store)
    if args.out is None:
        print(render_text(diff), end="")
        return 0
    ext = os.path.splitext(args.out)[1].lower()
    if ext == ".json":
        text = json.dumps(diff.as_json(), ensure_ascii=False, indent=2) + "\n"
    else:
        text = render_markdown(diff) if ext == ".md" else render_html(diff)
    try:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise DiffError(f"cannot write {args.out}: {exc.strerror} / 无法写入 {args.out}") from None
    print(f"wrote {args.out} / 已写入 {args.out}")
    return 0
