"""``joint-sanctions schema measures|list-types``: the JSON Schema editors use for the YAML files."""

from __future__ import annotations

import argparse
from typing import Any

from .._workbench_schema import SCHEMAS, schema_text


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("schema", parents=[common],
                       help="print the JSON Schema of a measure-list file or of list_types.yaml / 清单的 JSON Schema")
    p.add_argument("which", choices=sorted(SCHEMAS), metavar="{measures,list-types}",
                   help="measures: a measure-list file; list-types: list_types.yaml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(schema_text(args.which), end="")
    return 0
