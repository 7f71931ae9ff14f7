"""Check characters of 统一社会信用代码 (GB 32100-2015) and 居民身份证号码 (GB 11643-1999), for integrators
who issue, complete or pre-validate identifiers before they reach a check.

The rules themselves live in :mod:`~joint_sanctions._masking` (the checker uses the same ones), so an
id these helpers complete is an id the checker accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection

from ._errors import IdentifierError
from ._identifiers import _id_check_char, normalize_resident_id, normalize_uscc, parse_identifier
from ._masking import _ASCII_DIGITS, _USCC_VALUE, _normalise, _uscc_check_char

__all__ = ["is_valid_identifier", "resident_id_check_char", "uscc_check_char"]


def _first17(first17: str, alphabet: Collection[str], length: tuple[str, str],
             bad_char: Callable[[int, str], str]) -> str:
    """The normalised first 17 characters, or IdentifierError naming the length or the first bad position."""
    body = _normalise(first17)
    if len(body) != 17:
        raise IdentifierError(f"{length[0]} / {length[1]}, found {len(body)} characters")
    for pos, ch in enumerate(body, start=1):
        if ch not in alphabet:
            raise IdentifierError(bad_char(pos, ch))
    return body


def uscc_check_char(first17: str) -> str:
    """The 18th (check) character of a 统一社会信用代码 whose first 17 characters are ``first17``.

    Args:
        first17: the first 17 characters; full-width and lower-case letters are accepted.

    Raises:
        IdentifierError: ``first17`` is not 17 characters of the USCC alphabet (no I, O, S, V, Z).
    """
    body = _first17(first17, _USCC_VALUE, ("统一社会信用代码前17位长度错误", "the first part of a USCC must be 17 characters"),
                    lambda pos, ch: f"统一社会信用代码第{pos}位字符无效 / USCC position {pos}: {ch!r} is not in the "
                                    "code's alphabet (digits and A-Z without I, O, S, V, Z)")
    return _uscc_check_char(body)


def resident_id_check_char(first17: str) -> str:
    """The 18th (check) character, a digit or ``X``, of a 居民身份证号码 whose first 17 digits are ``first17``.

    Only the shape is checked (17 ASCII digits after normalisation); whether positions 7-14 are a
    real birth date is :func:`is_valid_identifier`'s question. Messages never show the digits.

    Raises:
        IdentifierError: ``first17`` is not 17 digits.
    """
    body = _first17(first17, _ASCII_DIGITS, ("居民身份证号码前17位长度错误", "the first part of a resident id must be 17 digits"),
                    lambda pos, ch: f"居民身份证号码第{pos}位不是数字 / resident id position {pos} must be a digit")
    return _id_check_char(body)


def is_valid_identifier(text: str, kind: str | None = None, *, today: dt.date | None = None) -> bool:
    """Whether the checker would accept ``text`` as a subject id (of ``kind``, when given).

    Args:
        text: the id as typed (normalised first, as everywhere).
        kind: ``"uscc"`` or ``"resident_id"`` to accept only that kind; None accepts either.
        today: the latest acceptable birth date of a resident id; defaults to today in China.

    Raises:
        ValueError: ``kind`` is neither ``uscc`` nor ``resident_id`` (a programming error, not an id's).
    """
    try:
        if kind is None:
            parse_identifier(text, today=today)
        elif kind == "uscc":
            normalize_uscc(text)
        elif kind == "resident_id":
            normalize_resident_id(text, today=today)
        else:
            raise ValueError(f"unknown identifier kind {kind!r} (uscc or resident_id) / 未知的标识类型")
    except IdentifierError:
        return False
    return True
