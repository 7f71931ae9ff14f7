"""``joint-sanctions vocab [--json]``: every id policy staff may write, with its Chinese name."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._workbench_vocab import SECTIONS, vocabulary_tables


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("vocab", parents=[common],
                       help="list types, matter types, effects, condition fields, import columns… with "
                            "their Chinese names / 词表")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def _notes(entry: dict[str, Any]) -> str:
    notes = []
    if entry.get("kind") == "incentive":
        notes.append("红名单 / red list")
    if entry.get("carries_ban"):
        notes.append("记录可带禁入事项 / records may carry a ban")
    if "type" in entry:
        notes.append(entry["type"])
    if entry.get("required"):
        notes.append("必填 / required")
    return f"  ({'; '.join(notes)})" if notes else ""


def run(args: argparse.Namespace) -> int:
    tables = vocabulary_tables()
    if args.json:
        print(json.dumps(tables, ensure_ascii=False, indent=2))
        return 0
    for key, zh, en in SECTIONS:
        print(f"{zh} / {en} ({key})")
        width = max(len(entry["id"]) for entry in tables[key])
        for entry in tables[key]:
            print(f"  {entry['id']:<{width}}  {entry['name']}{_notes(entry)}")
        print()
    return 0
