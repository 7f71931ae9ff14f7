"""Subject identifiers: 统一社会信用代码 (USCC, GB 32100-2015) and 居民身份证号码 (GB 11643-1999).

Every function normalises first (surrounding whitespace, full-width ASCII, lower case), then validates
strictly. Failures raise :class:`~joint_sanctions._errors.IdentifierError` with a bilingual message naming
the rule broken. Resident ids are personal information: no message, and nothing :func:`mask` or
:func:`mask_text` returns, contains one unmasked. USCCs are public and are never masked.

The normalisation, the USCC rule and masking live in :mod:`~joint_sanctions._masking`, which raises
nothing and imports no error, so that errors can mask their own messages; ``mask`` and ``mask_text``
are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import re

from ._accel import uscc as _uscc_fast
from ._errors import IdentifierError
from ._masking import (
    _ASCII_DIGITS,
    _BIRTH_DATES,
    _EARLIEST_BIRTH,
    _ID_CHECK,
    _ID_WEIGHTS,
    _calendar_date,
    _check_char_problem,
    _hide_middle,
    _normalise,
    _today_cst,
    _today_cst_cached,
    _uscc_problem,
    mask,
    mask_text,
)

__all__ = [
    "infer_subject_type",
    "kind_mismatch",
    "mask",
    "mask_text",
    "normalize_resident_id",
    "normalize_uscc",
    "parse_identifier",
    "parse_region_code",
]


def _valid(value: str, problem: str | None) -> str:
    """``value`` when no rule is broken, else the error naming the ``problem``."""
    if problem is not None:
        raise IdentifierError(problem)
    return value


# --- USCC -----------------------------------------------------------------------------------------

# A resident id's check character as one int(): its weights are 2**(17-i) mod 11 and 13 ≡ 2
# (mod 11), so the 17 digits read as base 13, times 2, give its weighted sum mod 11. (A USCC's
# hot path, the same idea in base 34, is _accel.uscc.)


def normalize_uscc(text: str) -> str:
    """Normalise and validate a 统一社会信用代码.

    Returns:
        The 18-character code, half-width and upper-case.

    Raises:
        IdentifierError: the message names the rule broken (length, character, department, check).
    """
    code = _normalise(text)
    return _valid(code, _uscc_problem(code))


# --- resident id ----------------------------------------------------------------------------------

def _id_check_char(body: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def _resident_id_rule(number: str, today: dt.date) -> str | None:
    """Return the message for the first resident-id rule ``number`` breaks, else None.

    The message does not show the id; :func:`_resident_id_problem` adds it masked.
    """
    if len(number) != 18:
        return f"居民身份证号码长度错误 / resident id must be 18 characters, found {len(number)}"
    for pos, ch in enumerate(number[:17], start=1):
        # isdigit() would accept other scripts' digits (e.g. Arabic-Indic); only 0-9 count.
        if ch not in _ASCII_DIGITS:
            return (
                f"居民身份证号码第{pos}位不是数字 / resident id position {pos} must be a digit, "
                f"found {ch!r}"
            )
    if number[17] not in _ASCII_DIGITS and number[17] != "X":
        return (
            "居民身份证号码第18位必须是数字或X / resident id position 18 must be a digit or X, "
            f"found {number[17]!r}"
        )
    birth = _calendar_date(number[6:14])
    if birth is None:
        return (
            "居民身份证号码出生日期无效 / resident id birth date (positions 7-14) is not a real "
            "calendar date"
        )
    if birth > today:
        return "居民身份证号码出生日期晚于今天 / resident id birth date is after today"
    if birth < _EARLIEST_BIRTH:
        return "居民身份证号码出生日期早于1900-01-01 / resident id birth date is before 1900-01-01"
    return _check_char_problem(number[17], _id_check_char(number[:17]), "居民身份证号码", "resident id")


def _resident_id_problem(number: str, today: dt.date) -> str | None:
    """Like :func:`_resident_id_rule`, with the id appended masked so people can find the record."""
    rule = _resident_id_rule(number, today)
    if rule is None or not number:
        return rule
    # Not mask(): it shows valid USCCs, and a mistyped id can be one (17 digits and X, positions 7-14
    # no date). What was given as a resident id is hidden as one.
    return f"{rule} ({_hide_middle(number) if len(number) >= 8 else number})"


def normalize_resident_id(text: str, *, today: dt.date | None = None) -> str:
    """Normalise and validate an 18-digit 居民身份证号码.

    Args:
        text: the id as typed; full-width digits and a lower-case ``x`` are accepted.
        today: the latest acceptable birth date; defaults to today in China Standard Time.

    Returns:
        The 18-character id with an upper-case ``X``.

    Raises:
        IdentifierError: the message names the rule broken and shows the id only masked.
    """
    number = _normalise(text)
    return _valid(number, _resident_id_problem(number, today or _today_cst()))


# --- both kinds -----------------------------------------------------------------------------------

_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
# A date that a mistyped id could have meant (month 01-12, day 01-31, 19xx/20xx), so that e.g.
# 1990-02-30 gets the resident-id message rather than a baffling USCC check-character one.
_PLAUSIBLE_DATE = re.compile(r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])")


def parse_identifier(text: str, *, today: dt.date | None = None) -> tuple[str, str]:
    """Normalise ``text`` and tell which kind of identifier it is.

    Args:
        text: a USCC or an 18-digit resident id, as typed.
        today: passed to :func:`normalize_resident_id`.

    Returns:
        ``(normalised id, kind)`` with kind ``"uscc"`` or ``"resident_id"``.

    Raises:
        IdentifierError: empty, or valid as neither kind; the message is the one most likely to help.
    """
    if today is None:
        # Hot path of every check: an upper-case USCC as host systems send it (compiled where the
        # package was built with a C compiler). Anything it does not accept takes the paths below.
        known = _uscc_fast(text)
        if known is not None:
            return known
        if (len(text) == 18 and text.isascii() and (body := text[:17]).isdigit()
                and text[17] == _ID_CHECK[2 * int(body, 13) % 11]):
            # Hot path of a natural person's check (a legal representative, a civil-servant applicant):
            # a well-formed resident id; the birth date is parsed once per distinct date.
            birth = _BIRTH_DATES.get(text[6:14], dt.date.min)
            if birth is dt.date.min and len(_BIRTH_DATES) < 100_000:
                birth = _BIRTH_DATES[text[6:14]] = _calendar_date(text[6:14])
            if birth is not None and _EARLIEST_BIRTH <= birth <= _today_cst_cached():
                return text, "resident_id"
    value = _normalise(text)
    if not value:
        raise IdentifierError("主体标识为空 / subject id is empty")
    if len(value) != 18:
        # Both kinds are 18 characters long, so naming one kind would mislead.
        hint = ""
        if len(value) == 15 and set(value) <= _ASCII_DIGITS:
            hint = " (15位旧身份证号码不再受理 / old 15-digit resident ids are not accepted)"
        raise IdentifierError(
            f"主体标识长度错误 / subject id must be 18 characters (USCC or resident id), "
            f"found {len(value)}{hint}"
        )
    looks_like_id = _ID_SHAPE.fullmatch(value) is not None
    id_problem = _resident_id_problem(value, today or _today_cst()) if looks_like_id else None
    if looks_like_id and id_problem is None:
        return value, "resident_id"
    if id_problem is not None and _PLAUSIBLE_DATE.fullmatch(value[6:14]):
        # A mistyped resident id passes the USCC check about 1 time in 31; an all-digit code with a
        # birth date in the id's place is far likelier a person than an organisation.
        raise IdentifierError(id_problem)
    uscc_problem = _uscc_problem(value)
    if uscc_problem is None:
        return value, "uscc"
    raise IdentifierError(uscc_problem)


def parse_region_code(text: str) -> str:
    """Normalise and validate a 6-digit 行政区划代码, the subject of a district-level check.

    Returns:
        The six ASCII digits (full-width digits and surrounding blanks are accepted).

    Raises:
        IdentifierError: not six digits, or the first two are not a province code (11–82).
    """
    code = _normalise(text)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise IdentifierError(f"行政区划代码须为6位数字 / a region code must be 6 digits, found {len(code)} "
                              "characters" if len(code) != 6 else
                              "行政区划代码须为6位数字 / a region code must be 6 digits")
    if not 11 <= int(code[:2]) <= 82:
        raise IdentifierError(f"行政区划代码前两位须为省级代码 (11–82) / a region code must start with a province "
                              f"code (11–82), found {code[:2]}")
    return code


def infer_subject_type(normalised_id: str, kind: str) -> str:
    """Subject type implied by an identifier (docs/check-result.md).

    Returns:
        ``natural_person`` for a resident id; for a USCC ``government_body`` when it starts with ``1``
        (机构编制), ``individual_business`` when it starts with ``92``, else ``legal_person``.

    Raises:
        IdentifierError: ``kind`` is neither ``uscc`` nor ``resident_id``.
    """
    if kind == "resident_id":
        return "natural_person"
    if kind != "uscc":
        raise IdentifierError(f"未知的标识类型 / unknown identifier kind {kind!r}")
    if normalised_id.startswith("1"):
        return "government_body"
    if normalised_id.startswith("92"):
        return "individual_business"
    return "legal_person"


#: Subject types a resident id may identify: a person, or a sole trader registered under its operator.
_PERSON_TYPES = frozenset({"natural_person", "individual_business"})


def kind_mismatch(kind: str, subject_type: str | None) -> str | None:
    """Why an identifier of ``kind`` cannot name a subject of ``subject_type`` (docs/record-import.md), or None.

    A USCC never names a natural person, and a resident id never an organisation (legal person,
    unincorporated organisation, government body).
    """
    if subject_type is None:
        return None
    if subject_type == "region":
        return ("a region is checked by its region code; records name the bodies in it "
                "/ 区县(市)以行政区划代码核查，信用记录应记在其辖区内的主体名下")
    if kind == "uscc" and subject_type == "natural_person":
        return ("a USCC cannot identify a natural_person (use the person's resident id) "
                "/ 统一社会信用代码不能标识自然人")
    if kind == "resident_id" and subject_type not in _PERSON_TYPES:
        return (f"a resident id cannot identify a {subject_type} (use its USCC) "
                "/ 居民身份证号码不能标识法人或其他组织")
    return None
