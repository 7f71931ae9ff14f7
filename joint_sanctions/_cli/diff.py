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

from .._models import CST
from .._serving import compile_paths
from .._workbench_diff import diff_measures
from .._workbench_report import render_html, render_markdown, render_text
from ..stores import open_store
from . import _common


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("diff", parents=[common],
                       help="what a new revision of the measure lists changes, and whom it hits / 清单变更核对")
    p.add_argument("old", metavar="OLD", help="the live measure lists (folder or file)")
    p.add_argument("new", metavar="NEW", help="the revision to publish (folder or file)")
    p.add_argument("--at", type=_common.iso_date, metavar="YYYY-MM-DD",
                   help="the day to compare on (default: today, China Standard Time)")
    p.add_argument("--out", type=_common.out_path(".html", ".md", ".json"), metavar="FILE",
                   help="write the sheet to FILE; the extension chooses .html, .md or .json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _common.check_out_folder(args.out)
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
    _common.write_out(args.out, text)
    return 0
