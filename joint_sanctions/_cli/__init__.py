"""The ``joint-sanctions`` command line (docs/cli.md); also ``python -m joint_sanctions``.

Each command group lives in its own module with a ``register(subparsers, common)`` function.
Exit codes: 2 = the command line itself is wrong; 1 = the command ran but input or state was
refused; 0 otherwise. One line per error, never a traceback. Logs go to stderr.

The command line is the library's first user: it may import any stage and public namespace (never
the test kit or the adapters); nothing in the library imports it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence

from .._errors import JointSanctionsError
from . import _common, batch, cases, check, diff, gov, lint, matrix, measures, records, schema, test, vocab

_COMMAND_GROUPS = (lint, records, check, batch, cases, measures, schema, vocab, test, diff, matrix, gov)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and documentation)."""
    common = _common.common_options()
    # On the shared options, so `joint-sanctions check --version` answers as well as `joint-sanctions --version`.
    common.add_argument("--version", action="version", version=f"joint-sanctions {_version()}",
                        help="print the installed version and exit")
    parser = _common.Parser(prog="joint-sanctions", parents=[common],
                            description="Joint reward-and-punishment credit checks (联合奖惩信用核查).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every check to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_common.Parser)
    sub.required = True
    for group in _COMMAND_GROUPS:
        group.register(sub, common)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("joint-sanctions")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    bad = _common.undecodable_argument(argv)
    if bad is not None:
        parser.error(f"argument '{bad}' is not valid UTF-8 / 参数不是有效的 UTF-8 文本")
    args = parser.parse_args(argv)
    _common.configure_logging(verbose=args.verbose)
    try:
        code: int = args.func(args)
        return code
    except JointSanctionsError as exc:
        _common.error(str(exc))
        return 1
    except KeyboardInterrupt:
        _common.error("interrupted / 已中断")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 -- the last line of defence: one line, no traceback
        _common.error(f"internal error ({type(exc).__name__}): {exc}")
        return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
