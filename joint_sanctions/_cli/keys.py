"""``joint-sanctions keys create|list|revoke``: the HTTP service's access keys (docs/http.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..stores import open_store
from ..stores._key_tables import KeyBook
from . import _common


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("keys", parents=[common], help="access keys of the HTTP service (serve)")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", parser_class=_common.Parser)
    ksub.required = True
    create = ksub.add_parser("create", parents=[common], help="create a key; it is printed once, only its "
                                                              "hash is stored / 创建密钥（仅显示一次）")
    create.add_argument("--name", required=True, help="the key's name: the caller recorded with its checks")
    create.set_defaults(func=run_create)
    lst = ksub.add_parser("list", parents=[common], help="names, creation and revocation times (never a key)")
    lst.add_argument("--json", action="store_true", help="print a JSON array only")
    lst.set_defaults(func=run_list)
    revoke = ksub.add_parser("revoke", parents=[common], help="revoke a key: refused by every server within "
                                                              "a second / 吊销密钥")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(func=run_revoke)


def _keys(args: argparse.Namespace) -> tuple[Any, KeyBook]:
    store = open_store(_common.db_url(args))
    try:
        return store, KeyBook(store)
    except BaseException:
        store.close()
        raise


def run_create(args: argparse.Namespace) -> int:
    store, keys = _keys(args)
    with store:
        key = keys.create(args.name)
    # The key on stdout alone, so that a script can capture it; what to do with it on stderr.
    print(key)
    print(f"key {args.name!r} created; it is shown only now: keep it secret / 密钥仅显示这一次，请妥善保存",
          file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    store, keys = _keys(args)
    with store:
        found = keys.list()
    if args.json:
        sys.stdout.write(json.dumps([k.to_dict() for k in found], ensure_ascii=False, indent=2) + "\n")
        return 0
    if not found:
        print("no keys / 没有密钥")
    for k in found:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        print(f"{k.name}\tcreated {k.created_at}\t{state}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    store, keys = _keys(args)
    with store:
        revoked = keys.revoke(args.name)
    print(f"key {revoked.name!r} revoked at {revoked.revoked_at} / 密钥已吊销")
    return 0
