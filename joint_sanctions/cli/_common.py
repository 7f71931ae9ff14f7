"""Helpers shared by the command groups: options, errors, logging set-up, engine creation."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, NoReturn

import structlog

from ..identifiers import mask_text

_SUPPRESS = argparse.SUPPRESS


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2 (docs/cli.md)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {mask_text(message)}\n")


def common_options() -> argparse.ArgumentParser:
    """``--db`` and ``--measures``, accepted before the subcommand and after its full name."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a value given before the subcommand from being reset by the sub-parser's default
    common.add_argument("--db", default=_SUPPRESS, metavar="URL",
                        help="database URL (sqlite:///path or postgresql://…); default JOINT_SANCTIONS_DB "
                             "or sqlite:///./joint_sanctions.db")
    common.add_argument("--measures", default=_SUPPRESS, metavar="DIR", action="append",
                        help="measure-list directory or file (replaces the shipped lists; repeatable)")
    return common


def db_url(args: argparse.Namespace) -> str | None:
    return getattr(args, "db", None)


def measures(args: argparse.Namespace) -> list[str] | None:
    return getattr(args, "measures", None)


def error(message: str) -> None:
    """Print one error line on stderr (resident ids masked)."""
    print(f"joint-sanctions: error: {mask_text(message)}", file=sys.stderr)


def iso_date(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def configure_logging(verbose: bool) -> None:
    """The CLI (not the library) sends structlog output to stderr, warnings and up unless verbose."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _mask_event,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO if verbose else logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def _mask_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    return {k: mask_text(v) if isinstance(v, str) else v for k, v in event.items()}


def max_data_age(text: str) -> dt.timedelta:
    """argparse type for ``--max-data-age`` (``36h``, ``7d``)."""
    from ..check import parse_max_data_age

    try:
        return parse_max_data_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_max_data_age(parser: argparse.ArgumentParser) -> None:
    """``--max-data-age``, for the commands that check."""
    parser.add_argument("--max-data-age", type=max_data_age, metavar="AGE",
                        help="refuse to check while a list's latest import is older than AGE (36h, 7d); "
                             "default JOINT_SANCTIONS_MAX_DATA_AGE, else no limit / 数据时效")


def store_name(store: Any) -> str:
    """Where a store keeps its data, fit to print (a PostgreSQL URL without its password)."""
    path = getattr(store, "path", None)
    return os.path.abspath(path) if isinstance(path, str) else str(getattr(store, "display_url", type(store).__name__))


def engine(args: argparse.Namespace, **kw: Any) -> Any:
    """The engine for this command line's --db, --measures and --max-data-age; the database must exist."""
    from ..check import Engine

    return Engine(measures=measures(args), store=db_url(args),
                  max_data_age=getattr(args, "max_data_age", None), **kw)
