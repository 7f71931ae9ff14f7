"""Masking resident ids (居民身份证号码) for logs, messages and outputs, and the identifier rules it rests on.

Masking must tell a public USCC (shown) from a person's id (hidden), so the normalisation and the
USCC and resident-id check rules live here too; they answer with a message or None and raise
nothing. This module imports nothing of the library but its constants, so that errors can mask
their messages: :mod:`~joint_sanctions._identifiers` (which validates, and raises) and
:mod:`~joint_sanctions._errors` both import it. ``_identifiers.mask`` / ``mask_text`` re-export these.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from operator import mul

from ._base import CST

__all__ = ["mask", "mask_parsed", "mask_text"]

# --- normalisation ------------------------------------------------------------------------------

# Full-width ASCII U+FF01..U+FF5E sits at a fixed offset from U+0021..U+007E; ASCII letters are
# upper-cased in the same pass. str.upper() is not used because it changes lengths ('ß' → 'SS'),
# which would make the "length found" in messages wrong.
_NORMALISE = str.maketrans(
    {
        **{0xFF01 + i: chr(0x21 + i) for i in range(0x5E)},
        **{0xFF41 + i: chr(0x41 + i) for i in range(26)},  # full-width a-z straight to A-Z
        **{0x61 + i: chr(0x41 + i) for i in range(26)},
    }
)


def _normalise(text: str) -> str:
    # strip() also removes the ideographic space U+3000 that Chinese input methods produce.
    return text.strip().translate(_NORMALISE)


# --- USCC -----------------------------------------------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {ch: i for i, ch in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# python-stdnum rejects A, N and Y here; GB 32100-2015 and domain.md §6 allow them.
_USCC_DEPARTMENTS = "123456789ANY"


def _uscc_check_char(body: str) -> str:
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _uscc_problem(code: str) -> str | None:
    """Return the message for the first USCC rule ``code`` (already normalised) breaks, else None."""
    if len(code) != 18:
        return f"统一社会信用代码长度错误 / USCC must be 18 characters, found {len(code)}"
    for pos, ch in enumerate(code, start=1):
        if ch not in _USCC_VALUE:
            return (
                f"统一社会信用代码第{pos}位字符{ch!r}不允许 / USCC character {ch!r} at position {pos} "
                "is not allowed (allowed: 0-9 and A-Z except I, O, S, V, Z)"
            )
    if code[0] not in _USCC_DEPARTMENTS:
        return (
            f"统一社会信用代码第1位登记管理部门代码{code[0]!r}无效 / USCC position 1 (registration "
            f"department) {code[0]!r} is not one of 1-9, A, N, Y"
        )
    # The organisation code's own check character (position 17) is deliberately not verified:
    # real codes issued under local schemes (e.g. 91410100MA0000015B) do not satisfy it.
    return _check_char_problem(code[17], _uscc_check_char(code[:17]), "统一社会信用代码", "USCC")


def _check_char_problem(found: str, expected: str, name_zh: str, name_en: str) -> str | None:
    """The message when an id's last character is not the ``expected`` check character, else None."""
    if found == expected:
        return None
    return f"{name_zh}校验位错误 / {name_en} check character is wrong: expected {expected!r}, found {found!r}"


# --- resident id ----------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
#: The weighted sum of a resident id's digits taken as their ASCII codes exceeds the sum of the
#: digits' values by this much (48 is ord("0")).
_ID_ASCII_OFFSET = 48 * sum(_ID_WEIGHTS)
_EARLIEST_BIRTH = dt.date(1900, 1, 1)
_ASCII_DIGITS = frozenset("0123456789")


def _today_cst() -> dt.date:
    # docs/check-result.md: the check date is China Standard Time, so "today" is too.
    return dt.datetime.now(CST).date()


#: (days since the epoch in China Standard Time, that day): :func:`_today_cst` remembered for the day.
_TODAY: tuple[int, dt.date] = (-1, dt.date.min)
_CST_OFFSET = int(CST.utcoffset(None).total_seconds())
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_wall_clock = time.time  # a module attribute: tests put it just before and after midnight


def _today_cst_cached() -> dt.date:
    """:func:`_today_cst` for the hot path: China keeps one fixed offset (no summer time), so the day
    follows from the epoch seconds alone, and its date is made once per day."""
    global _TODAY
    days = int(_wall_clock() + _CST_OFFSET) // 86400
    if days != _TODAY[0]:
        _TODAY = (days, dt.date.fromordinal(days + _EPOCH_ORDINAL))
    return _TODAY[1]


def _calendar_date(yyyymmdd: str) -> dt.date | None:
    """The date spelt by eight ASCII digits, or None when no such day exists."""
    if len(yyyymmdd) != 8 or not set(yyyymmdd) <= _ASCII_DIGITS:
        return None
    try:
        return dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return None


# YYYYMMDD → the date, or None when no such day exists; bounded (there are ~46,000 days since 1900).
_BIRTH_DATES: dict[str, dt.date | None] = {}


# --- masking --------------------------------------------------------------------------------------


def _hide_middle(value: str) -> str:
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_parsed(identifier: str, kind: str) -> str:
    """:func:`mask` of an id as :func:`~joint_sanctions._identifiers.parse_identifier` returned it, of
    that ``kind``. A valid resident id is never a public USCC (17 digits with a real birth date), so it
    is hidden at once, without mask()'s tests (~1.8 µs, on every natural person's result)."""
    if kind == "resident_id" and len(identifier) == 18:
        return identifier[:4] + "**********" + identifier[14:]
    return mask(identifier)


def _is_public_uscc(value: str) -> bool:
    """True for a valid USCC that cannot be a person's id.

    A USCC whose first 17 characters are digits has a resident id's shape; it stays visible only when
    its positions 7-14 spell no calendar date, i.e. when it cannot be a resident id.
    """
    # The final character is not tested: a resident id with a mistyped last character can still be
    # a valid USCC (41010219900307123A is one), and it would give away 17 digits of the id. Tested
    # first because it is cheaper than the USCC rules.
    if set(value[:17]) <= _ASCII_DIGITS and _calendar_date(value[6:14]) is not None:
        return False
    return _uscc_problem(value) is None


def mask(identifier: str) -> str:
    """Mask an identifier for logs and messages: ``4101**********1230``.

    Valid USCCs (public business identifiers) and strings shorter than 8 characters come back
    unchanged. Anything else is treated as a possibly mistyped resident id: it is normalised and all
    but its first 4 and last 4 characters are replaced by ``*``. Use :func:`mask_text` for free text.
    """
    value = _normalise(identifier)
    if len(value) < 8 or _is_public_uscc(value):
        return identifier
    # A string that failed validation may still be most of someone's id (a typo, an extra digit),
    # so masking is not limited to the 15-18 digit shape.
    return _hide_middle(value)


_D = "0-9\uff10-\uff19"  # ASCII and full-width digits
_ALNUM = f"{_D}A-Za-z\uff21-\uff3a\uff41-\uff5a"
# 18-character ids and old 15-digit ids standing alone. [A-Za-z] is spelt out because \w would also
# match Chinese characters, and ids are usually written straight after them (身份证号410102...).
# Any final letter is matched, not only X, so that an id with a mistyped last character is masked
# too (mask() does the same); real USCCs are let through by _is_public_uscc.
_STANDALONE_ID = re.compile(f"(?<![{_ALNUM}])(?:[{_D}]{{17}}[{_ALNUM}]|[{_D}]{{15}})(?![{_ALNUM}])")
# What people put between the groups of an id: spaces (ASCII, no-break, ideographic), tabs, hyphens
# and dashes (ASCII, Unicode, full-width). Not commas or dots: those make amounts, not ids.
_SEPARATORS = " \t\u00a0\u3000\u2010\u2011\u2012\u2013\u2014\uff0d-"
_SEPARATOR_SET = frozenset(_SEPARATORS)
# A run of digits (and X, an id's last character) with at most three separators between neighbours:
# "410102 19900307 123X", "4101 0219 9003 0712 30", "410102 - 19900307". The possessive *+ keeps
# the scan linear on any input: each character is read once and nothing is retried.
_DIGIT_RUN = re.compile(f"[{_D}](?:[{_SEPARATORS.replace('-', '')}\\-]{{0,3}}[{_D}Xx\uff38\uff58])*+")
# Where in a run of normalised digits a window is shaped like an id with a plausible birth date: 18
# characters (17 digits and a digit or X, 19xx/20xx at positions 7-10), or 15 digits (an old id,
# YYMMDD at positions 7-12). The lookaheads find overlapping windows in C; the few found get the
# full check in Python.
_ID_WINDOW = re.compile(
    "(?=[0-9]{6}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X])")
_OLD_ID_WINDOW = re.compile("(?=[0-9]{8}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3})")


def _birth_date(yyyymmdd: str) -> dt.date | None:
    """:func:`_calendar_date`, remembered (a long text repeats the same few dates)."""
    birth = _BIRTH_DATES.get(yyyymmdd, dt.date.min)
    if birth is dt.date.min:
        birth = _calendar_date(yyyymmdd)
        if len(_BIRTH_DATES) < 100_000:
            _BIRTH_DATES[yyyymmdd] = birth
    return birth


def _whole_groups(positions: list[int], k: int, n: int) -> bool:
    """True when the ``n`` digits from the ``k``-th are whole groups, at least two of them.

    ``positions`` are the digits' places in the text: consecutive places make a group.
    """
    last = k + n - 1
    return ((k == 0 or positions[k] != positions[k - 1] + 1)
            and (last + 1 == len(positions) or positions[last + 1] != positions[last] + 1)
            and positions[last] - positions[k] != last - k)


def _mask_run(text: str, start: int, end: int, today: dt.date, hidden: set[int]) -> None:
    """Add to ``hidden`` the places of the id digits to hide in ``text[start:end]``, a digit run.

    Windows over the run's digits (its separators skipped) are hidden but for their first four and
    last four digits:

    * 18 digits in a row that form a valid resident id, wherever they start (two ids pasted
      together, an id after a phone number);
    * when the run has separators, whole groups (at least two) that hold 18 characters with a real
      birth date from 1900 to today at positions 7-14, or 15 digits with a real 19YYMMDD date at
      positions 7-12 (an old id). A wrong check character does not save such groups: they are a
      mistyped id. A single group is left to the standalone pattern.
    """
    positions = [i for i in range(start, end) if text[i] not in _SEPARATOR_SET]
    count = len(positions)
    if count < 15:
        return
    digits = "".join([text[i] for i in positions]).translate(_NORMALISE)
    grouped = count != end - start
    for m in _ID_WINDOW.finditer(digits):
        k = m.start()
        window = digits[k:k + 18]
        # The window is 17 ASCII digits and a digit or X (the pattern says so): the check character
        # is computed from their codes, as parse_identifier's hot path does.
        valid = window[17] == _ID_CHECK[(sum(map(mul, window[:17].encode("ascii"), _ID_WEIGHTS))
                                         - _ID_ASCII_OFFSET) % 11]
        if ((valid or (grouped and _whole_groups(positions, k, 18)))
                and _EARLIEST_BIRTH <= (_birth_date(window[6:14]) or dt.date.min) <= today):
            hidden.update(positions[k + 4:k + 14])
    if grouped:
        for m in _OLD_ID_WINDOW.finditer(digits):
            k = m.start()
            if _whole_groups(positions, k, 15) and _birth_date("19" + digits[k + 6:k + 12]) is not None:
                hidden.update(positions[k + 4:k + 11])


def mask_text(text: str) -> str:
    """Mask every resident id in free text; USCCs stay readable.

    Masked, keeping the first and last four digits:

    * 17 digits and one more letter or digit, or 15 digits (old ids), standing alone (not inside a
      longer run of letters and digits), unless a public USCC (below);
    * any valid resident id, wherever it stands, in any grouping: contiguous, or its digits split
      by spaces, ideographic spaces, tabs, hyphens or dashes (up to three between two digits);
    * groups of digits written apart that together hold 18 characters with a real birth date at
      positions 7-14 (a mistyped check character included), or 15 digits with a 19YYMMDD date at
      positions 7-12.

    Full-width digits and ``ｘ``/``Ｘ`` count as their ASCII forms. Not masked: valid USCCs, except those
    whose first 17 characters are digits with a calendar date at positions 7-14 (they may be a
    person); phone numbers, amounts, dates and card numbers (wrong digit count, or no birth date).
    Linear in the length of ``text``; text with no run of 15 digits comes back as the same object.
    """
    runs = [m.span() for m in _DIGIT_RUN.finditer(text) if m.end() - m.start() >= 15]
    if not runs:
        return text
    hidden: set[int] = set()
    today = _today_cst()
    for start, end in runs:
        # A standalone id's digits lie in one run; it may end one letter past it, and the lookahead
        # needs the character after that (the lookbehind sees before ``start`` by itself).
        for m in _STANDALONE_ID.finditer(text, start, end + 2):
            if not _is_public_uscc(_normalise(m.group())):
                hidden.update(range(m.start() + 4, m.end() - 4))
        _mask_run(text, start, end, today, hidden)
    if not hidden:
        return text
    chars = list(text)
    for i in hidden:
        chars[i] = "*"
    return "".join(chars)
