"""``joint-sanctions lint PATH…``: every problem of the measure lists, exit 1 if any."""

from __future__ import annotations

import argparse
from typing import Any

from .._load import lint as lint_paths
from ._common import shown


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("lint", parents=[common], help="check measure-list YAML files (all problems at once)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="measure-list files or directories")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems = lint_paths(args.paths)
    for problem in problems:
        # a path typed as a database URL is echoed without its password, like every other message
        print(shown(str(problem)))
    if problems:
        print(f"{len(problems)} problem(s) / 共 {len(problems)} 个问题")
        return 1
    print("ok: no problems / 未发现问题")
    return 0
