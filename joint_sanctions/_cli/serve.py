"""``joint-sanctions serve [--host H] [--port P] [--workers N]``: the HTTP service (docs/http.md).

The server's packages are the optional extra ``joint-sanctions[server]``: they are imported only when
``serve`` runs, so every other command works without them.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from . import _common

_MAX_WORKERS = 64


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve checks and cases over HTTP (docs/http.md) / "
                                                       "HTTP 服务")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    p.add_argument("--workers", type=_common.positive_int(_MAX_WORKERS), default=1, metavar="N",
                   help="worker processes (default 1); more than one needs PostgreSQL / 工作进程数")
    p.add_argument("--watch", type=_seconds, default=2.0, metavar="SECONDS",
                   help="re-read changed measure lists every SECONDS (default 2; 0 = never) / 措施清单热加载间隔")
    _common.add_max_data_age(p)
    p.set_defaults(func=run)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 0 <= int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0–65535) / 不是有效的端口号")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of seconds from 0 to 3600 / 不是 0–3600 秒")
    return value


def run(args: argparse.Namespace) -> int:
    url = _common.db_url(args) or os.environ.get("JOINT_SANCTIONS_DB") or ""
    if args.workers > 1 and not url.startswith(("postgresql://", "postgres://")):
        _common.error("--workers above 1 needs a PostgreSQL database (--db postgresql://…); SQLite serves "
                      "one process / 多个工作进程须使用 PostgreSQL")
        return 2
    try:
        from .._server import ServeConfig, serve
    except ImportError as exc:
        _common.error(f"serve needs the server extra: pip install 'joint-sanctions[server]' ({exc.name} is "
                      "missing) / 请安装 joint-sanctions[server]")
        return 1
    age = getattr(args, "max_data_age", None)
    config = ServeConfig(db=_common.db_url(args), measures=_common.measures(args),
                         max_data_age_seconds=age.total_seconds() if age is not None else None,
                         verbose=args.verbose, watch_seconds=args.watch)
    serve(config, host=args.host, port=args.port, workers=args.workers,
          log_level="info" if args.verbose else "warning")
    return 0
