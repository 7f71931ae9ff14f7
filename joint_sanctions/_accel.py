"""Compiled helpers of the check path (``_speedups.c``) and their pure-Python twins.

Every check parses its subject's id and, ~98 % of the time, builds a ``clear`` result; a hit builds
some thirty result models. On these steps the interpreter's own work is most of the cost
(docs/performance.md), and ``_speedups`` does them in C. It is built with the package where a C
compiler is at hand (``hatch_build.py``); without it, or with ``JOINT_SANCTIONS_PURE_PYTHON=1`` in the
environment, the twins serve instead (here, ``_models.model_py``, ``_results._applied_measures_py``
and ``ClearResults._build``), with the same results (``tests/test_accel.py`` holds them equal).
"""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, Protocol, TypeVar

from ._masking import _USCC_ALPHABET, _USCC_DEPARTMENTS, _USCC_VALUE

__all__ = ["BUILT", "COMPILED", "Hashes", "bare_usccs", "bare_usccs_py", "check_ids", "check_ids_py", "compiled_applied",
           "compiled_clear", "compiled_helper", "compiled_lane", "compiled_model", "membership", "triage_plain", "uscc",
           "uscc_py"]


_F = TypeVar("_F", bound=Callable[..., Any])


class Hashes(Protocol):
    """What the engine uses of the membership set (:data:`membership`): a set of ints has it all."""

    def __contains__(self, value: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[int]: ...
    def add(self, value: int, /) -> None: ...
    def update(self, values: Iterable[int], /) -> None: ...


def _built() -> ModuleType | None:
    try:  # by name: a C extension, there only when the package was built with a compiler
        return importlib.import_module(f"{__package__}._speedups")
    except ImportError:
        return None


#: The compiled module when the package was built with it (its tests use it even when it does not serve).
BUILT = _built()
_speedups = None if os.environ.get("JOINT_SANCTIONS_PURE_PYTHON") else BUILT

#: Whether the compiled helpers serve checks in this process.
COMPILED = _speedups is not None

# The check character's weighted sum as one int(): a USCC's weights are 3**i mod 31 and 34 ≡ 3
# (mod 31), so the first 17 characters read backwards as base-34 digits (each character's value
# spelt as the base-34 digit of that value) give the sum mod 31; any character outside the alphabet
# becomes "!", which int() refuses.
_BASE34 = "0123456789abcdefghijklmnopqrstuvwx"
_USCC_BASE34 = bytes(ord(_BASE34[_USCC_VALUE[chr(i)]]) if chr(i) in _USCC_VALUE else ord("!")
                     for i in range(256))


def uscc_py(text: str) -> tuple[str, str] | None:
    """``(text, "uscc")`` when ``text`` is an upper-case 统一社会信用代码 as host systems send it, else None
    (the caller then takes :func:`~joint_sanctions._identifiers.parse_identifier`'s full path, with its
    normalisation and messages). Seventeen digits first are left to that path: a resident id may be meant."""
    if len(text) != 18 or not text.isascii() or text[:17].isdigit():
        return None
    try:
        total = int(text.encode("ascii")[16::-1].translate(_USCC_BASE34), 34)
    except ValueError:  # a character outside the alphabet (lower case, I, O, S, V, Z, ...)
        return None
    if text[17] == _USCC_ALPHABET[-total % 31] and text[0] in _USCC_DEPARTMENTS:
        return text, "uscc"
    return None


#: :func:`uscc_py`, compiled when the helpers are.
uscc: Callable[[str], tuple[str, str] | None] = _speedups.uscc if _speedups is not None else uscc_py


def bare_usccs_py(subjects: list[Any], hashes: Hashes) -> tuple[list[str | None], list[str], list[int]]:
    """check_many's first pass: per subject, its id and ``"uscc"`` when it is an upper-case USCC
    (:func:`uscc_py`) whose hash is not in ``hashes`` (no one so listed), else None and ``""``; third,
    the places of the others, which the caller judges."""
    ids: list[str | None] = []
    kinds: list[str] = []
    others: list[int] = []
    for place, subject in enumerate(subjects):
        if type(subject) is str and uscc_py(subject) is not None and hash(subject) not in hashes:
            ids.append(subject)
            kinds.append("uscc")
        else:
            ids.append(None)
            kinds.append("")
            others.append(place)
    return ids, kinds, others


#: :func:`bare_usccs_py`, compiled when the helpers are.
bare_usccs: Callable[[list[Any], Hashes], tuple[list[str | None], list[str], list[int]]] = (
    _speedups.bare_usccs if _speedups is not None else bare_usccs_py)


def check_ids_py(prefix: str, start: int = 1) -> Callable[[], str]:
    """Check ids ``prefix`` + a counter from ``start`` in 16 hex digits, one per call: a C-level iterator
    (no Python frame per id), whose one next() the GIL keeps whole across threads."""
    return map(f"{prefix.replace('%', '%%')}%016x".__mod__, itertools.count(start)).__next__


#: :func:`check_ids_py`, compiled when the helpers are (prefix: 16 ASCII characters).
check_ids: Callable[[str], Callable[[], str]] = _speedups.CheckIds if _speedups is not None else check_ids_py


#: The membership set of listed subjects' hash values (:mod:`._listed`): where compiled, a table of 64-bit
#: values with a filter in front (``_membership.c``: a quarter to a third of a set's memory, and a check of
#: someone not listed reads ~1 MB that stays in cache instead of a 32 MB table); else a set, its twin.
membership: Callable[[Iterable[int]], Hashes] = (
    _speedups.Membership if _speedups is not None else set)


#: ``_inputs.triage``'s clear answer, (id, "uscc", name, subject type), for an upper-case USCC or a plain
#: mapping whose id is one, read as the check lane reads it, when no id it names is in ``hashes``; None for
#: any other subject, which ``triage`` itself judges (``triage_many``'s mapping subjects). Compiled only:
#: where it is None, triage judges every subject.
triage_plain: Callable[[Any, Hashes], tuple[str, str, str, str | None] | None] | None = (
    _speedups.triage_plain if _speedups is not None else None)


def compiled_model(*setup: Any) -> Callable[..., Any] | None:
    """The compiled ``model(cls, values, fields_set)`` (what ``_models.trusted`` does), set up with
    BaseModel and its four slot descriptors; None without the compiled helpers."""
    if _speedups is None:
        return None
    _speedups.setup_models(*setup)
    model: Callable[..., Any] = _speedups.model
    return model


def compiled_applied() -> Callable[..., Any] | None:
    """The compiled last step of ``Assembly.assemble`` (``applied(rows, cls, fields_set)``); None without
    the compiled helpers. Needs :func:`compiled_model`'s set-up first."""
    if _speedups is None:
        return None
    applied: Callable[..., Any] = _speedups.applied
    return applied


def compiled_helper(name: str, setup: str, *args: Any) -> Callable[..., Any] | None:
    """The compiled helper ``name`` once ``setup(*args)`` has handed it what it reads (the classes,
    vocabularies and functions its twin uses); None without the compiled helpers. The caller names the
    twin it replaces: ``known_answers`` (``_memo``), ``hit_facts`` (``_results``), ``stored_row``
    (``stores._sql_store``) and ``plain_csv_row`` (``_records``); the last two need :func:`compiled_model`'s
    set-up first."""
    if _speedups is None:
        return None
    getattr(_speedups, setup)(*args)
    helper: Callable[..., Any] = getattr(_speedups, name)
    return helper


def compiled_clear(*setup: Any) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The compiled ``ClearResults.build`` and ``build_many`` (each taking the ClearResults first), set
    up with the result classes, their fields sets and the masking functions; None without them."""
    if _speedups is None:
        return None
    _speedups.setup_clear(*setup)
    return _speedups.clear, _speedups.clear_many


def compiled_lane(**setup: Any) -> Callable[[_F], _F]:
    """What makes ``Engine.check`` a method whose commonest calls (a bare USCC, or a plain mapping whose
    id is one, no one listed, at the current time) are answered whole in C: ``_speedups.CheckLane``, set
    up with what it reads and calls (``_check`` passes them by name: its module dict, the clock helpers,
    Matter, the id parser, the vocabularies). Every other call, and every call without the compiled
    helpers, runs check as written in Python (``Engine.check.__wrapped__`` where compiled), whose
    answers the lane's equal. Needs :func:`compiled_clear`'s set-up first."""
    if _speedups is None:
        return _as_written
    _speedups.setup_lane(**setup)
    lane: Callable[[_F], _F] = _speedups.CheckLane
    return lane


def _as_written(method: _F) -> _F:
    return method
