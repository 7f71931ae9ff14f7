"""Helpers shared by the command groups: options, errors, logging set-up, engine creation."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any, NoReturn

import structlog

from .._conditions import AMOUNT_MAX
from .._errors import JointSanctionsError
from .._identifiers import mask_text
from .._models import checkable_time
from .._text import escape_controls, redact_url

_SUPPRESS = argparse.SUPPRESS


# argparse's own messages are English only; every error line of the CLI is English / Chinese.
_ARGPARSE_CHINESE = (
    ("the following arguments are required", "缺少必需的参数"),
    ("expected one argument", "参数缺少取值"),
    ("invalid choice", "无效的取值"),
    ("unrecognized arguments", "无法识别的参数"),
    ("not allowed with argument", "这两个参数不能同时使用"),
    ("is required", "须给出其中一个参数"),
    ("ambiguous option", "参数名有歧义"),
)
_HAN = re.compile("[\u4e00-\u9fff]")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2 (docs/cli.md)."""

    def error(self, message: str) -> NoReturn:
        if not _HAN.search(message):
            chinese = next((zh for en, zh in _ARGPARSE_CHINESE if en in message), "命令行有误")
            message = f"{message} / {chinese}"
        self.exit(2, f"{self.prog}: error: {shown(message)}\n")


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


def shown(message: str) -> str:
    """A message as a person may see it: resident ids masked, URL passwords hidden, control
    characters escaped (one line, whatever the message quotes)."""
    return escape_controls(redact_url(mask_text(message)))


def error(message: str) -> None:
    """Print one error line on stderr (resident ids masked, no password, no control character)."""
    print(f"joint-sanctions: error: {shown(message)}", file=sys.stderr)


def undecodable_argument(argv: Sequence[str]) -> str | None:
    """The first argument that is not valid UTF-8 (Python keeps its bytes as lone surrogates), shown
    with those bytes escaped; None when every argument decodes."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            except UnicodeEncodeError:  # a surrogate no byte stands for (main given any str; Windows)
                return ascii(arg)[1:-1]
    return None


# Only these two forms: date.fromisoformat alone would also take week dates (2024-W01-1), compact
# forms (20240101), a space for the T and full-width digits, none of which the contract promises.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
                       r"(?:Z|[+-][0-9]{2}:[0-9]{2})?")


def iso_date(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD, strictly."""
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) / 不是日期（YYYY-MM-DD）")


def iso_time(text: str) -> dt.date | dt.datetime:
    """argparse type for a date (YYYY-MM-DD) or a full ISO datetime (YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z])."""
    try:
        at = dt.datetime.fromisoformat(text) if _DATETIME.fullmatch(text) else iso_date(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][±HH:MM]) / "
            "不是日期或时间") from None
    if not checkable_time(at):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: a check is made as of the years 2 to 9998 / "
                                         "日期超出可核查的范围")
    return at


def positive_number(maximum: float) -> Any:
    """argparse type: a finite number > 0 and <= maximum."""

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number / 不是数字") from None
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise argparse.ArgumentTypeError(
                f"{text!r} is out of range (more than 0, at most {maximum:g}) / 超出范围（大于 0，至多 {maximum:g}）")
        return value
    return number


def amount(text: str) -> float:
    """argparse type: a matter's amount in yuan, a finite number from 0 to the rules' maximum."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= AMOUNT_MAX):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an amount in yuan from 0 to {AMOUNT_MAX:.0f} / 不是 0 到 {AMOUNT_MAX:.0f} 元之间的金额")
    return value


def positive_int(maximum: int) -> Any:
    """argparse type: a whole number (ASCII digits) from 1 to maximum."""

    def number(text: str) -> int:
        # Bounded length first: int() of a huge digit string is slow, and only its range matters here.
        if not (text.isascii() and text.isdigit() and len(text) <= 18 and 1 <= int(text) <= maximum):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number from 1 to {maximum} / 不是 1 到 {maximum} 之间的整数")
        return int(text)
    return number


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
    return {k: shown(v) if isinstance(v, str) else v for k, v in event.items()}


def max_data_age(text: str) -> dt.timedelta:
    """argparse type for ``--max-data-age`` (``36h``, ``7d``)."""
    from .._check import parse_max_data_age

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
    from .._check import Engine

    return Engine(measures=measures(args), store=db_url(args),
                  max_data_age=getattr(args, "max_data_age", None), **kw)


class OutputError(JointSanctionsError):
    """A report cannot be written where ``--out`` asked it to go."""


def out_path(*formats: str) -> Callable[[str], str]:
    """An argparse type for ``--out FILE`` whose extension (one of ``formats``) chooses the format."""
    shown, shown_zh = ", ".join(formats[:-1]) + f" or {formats[-1]}", "、".join(formats)

    def checked(text: str) -> str:
        if os.path.splitext(text)[1].lower() not in formats:
            raise argparse.ArgumentTypeError(f"--out must end in {shown}: {text!r} / 输出文件扩展名须为 {shown_zh}")
        return text
    return checked


def check_out_folder(out: str | None) -> None:
    """Refuse, before any work, an ``--out`` that is a folder or lies in a folder that does not exist."""
    if out is not None and (os.path.isdir(out) or not os.path.isdir(os.path.dirname(os.path.abspath(out)))):
        raise OutputError(f"cannot write {out} (not a file in an existing folder) / "
                          f"无法写入 {out}（目录不存在或是文件夹）")


def write_out(out: str, text: str | None = None, *, binary: Callable[[Any], None] | None = None) -> None:
    """Write a report's text (or let ``binary`` write into the open file), then say where it went."""
    try:
        if binary is not None:
            with open(out, "wb") as f:
                binary(f)
        else:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text or "")
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror} / 无法写入 {out}") from None
    print(f"wrote {out} / 已写入 {out}")


# --- command groups of several actions (gov clues|clearance|contracts|districts) ----------------------


def action_group(gsub: Any, common: argparse.ArgumentParser, name: str, text: str) -> Any:
    """A ``gov NAME ACTION`` group: its sub-parsers, one of which is required."""
    p = gsub.add_parser(name, parents=[common], help=text)
    actions = p.add_subparsers(dest=f"{name}_command", metavar="ACTION", parser_class=Parser)
    actions.required = True
    return actions


def action(actions: Any, common: argparse.ArgumentParser, name: str, text: str, func: Any,
           positional: tuple[str, str] | None = None) -> argparse.ArgumentParser:
    """One ``gov GROUP NAME`` command running ``func``, with its positional argument (name, metavar), if
    any, and ``--json``."""
    parser: argparse.ArgumentParser = actions.add_parser(name, parents=[common], help=text)
    if positional is not None:
        parser.add_argument(positional[0], metavar=positional[1])
    parser.add_argument("--json", action="store_true", help="print the JSON object only")
    parser.set_defaults(func=func)
    return parser
