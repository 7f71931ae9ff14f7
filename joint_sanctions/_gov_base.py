"""What the government-integrity stages share (docs/government-integrity.md): their error, the body
identifier rule, amounts in fen, and the dates and times they write through the SQL seam."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from ._conditions import AMOUNT_MAX
from ._errors import IdentifierError, JointSanctionsError
from ._identifiers import mask_text, parse_identifier
from ._models import CST
from .stores._sql import Dialect

__all__ = ["Clock", "GovError", "fen", "government_body", "today", "yuan"]

#: What the government-integrity functions take as their clock: the current time, timezone-aware.
Clock = Callable[[], dt.datetime]

_REGION = re.compile(r"[0-9]{6}")


class GovError(JointSanctionsError):
    """Government-integrity input or state refused: one line, English / Chinese (CLI exit 1)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today(clock: Clock | None) -> dt.date:
    """The day in China Standard Time by ``clock`` (default the system's)."""
    return (clock or utc_now)().astimezone(CST).date()


def government_body(body: str, region: str | None = None) -> tuple[str, str]:
    """A government body's normalised USCC and its 6-digit region code.

    A government body (机关、事业单位, subject type ``government_body``) is registered by the
    institutional-staffing authority (机构编制), so its USCC is valid (GB 32100-2015, checked strictly) and
    starts with ``1``; characters 3–8 are the registering authority's administrative division code,
    which is the body's region unless ``region`` names another (e.g. a body registered at city level
    that sits in a district).

    Raises:
        GovError: not a valid USCC, a resident id, a USCC of another kind of subject, or a region code
            that is not 6 digits.
    """
    try:
        normalised, kind = parse_identifier(body)
    except IdentifierError as exc:
        # The identifier's message is Chinese first; every message here is English first.
        chinese, _, english = str(exc).partition(" / ")
        raise GovError(f"unknown body {mask_text(body)[:40]!r}: {english or chinese} / 未知的机构：{chinese}") from None
    if kind != "uscc" or not normalised.startswith("1"):
        raise GovError(f"unknown body {mask_text(normalised)!r}: not the USCC of a government body (机关/事业单位, "
                       "a code starting with 1) / 不是机关或事业单位的统一社会信用代码")
    code = normalised[2:8] if region is None else region
    if not _REGION.fullmatch(code):
        raise GovError(f"region code {code[:20]!r} is not 6 digits / 行政区划代码须为6位数字")
    return normalised, code


def fen(amount: float | None, what: str = "amount") -> int | None:
    """An amount in yuan as whole fen; None stays None.

    Raises:
        GovError: not a finite number above 0 and at most :data:`AMOUNT_MAX`.
    """
    if amount is None:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount) \
            or not 0 < amount <= AMOUNT_MAX:
        raise GovError(f"{what} {amount!r} is not an amount in yuan above 0 / 金额须大于 0")
    value = round(amount * 100)
    if value <= 0:
        raise GovError(f"{what} {amount!r} is less than one fen / 金额不足一分")
    return value


def yuan(value: int | None) -> float | None:
    """Fen as yuan (two decimals), None stays None."""
    return None if value is None else round(value / 100, 2)


def time_param(d: Dialect, when: dt.datetime) -> Any:
    """An instant as the driver takes it for a time column (SQLite keeps ISO text)."""
    return when.astimezone(dt.UTC).isoformat() if d.name == "sqlite" else when


def day_param(d: Dialect, day: dt.date | None) -> Any:
    return None if day is None else d.day(day)


def read_day(d: Dialect, value: Any) -> dt.date | None:
    if value is None:
        return None
    day = d.read_day(value)
    return day if isinstance(day, dt.date) else None


#: The days a step of government integrity may be dated: any later or earlier is a typo, and date
#: arithmetic on it (a transfer deadline, the day before a month) would overflow.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)


def checked_day(day: dt.date, what: str) -> dt.date:
    """``day`` when it lies from :data:`FIRST_DAY` to :data:`LAST_DAY`."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise GovError(f"{what} {day} is out of range ({FIRST_DAY} to {LAST_DAY}) / 日期超出范围")
    return day


def checked_text(value: str, what: str, limit: int = 2000) -> str:
    """Free text a person typed: stripped, not empty, not longer than ``limit`` characters."""
    text = value.strip()
    if not text:
        raise GovError(f"{what} is empty / {what} 为空")
    if len(text) > limit:
        raise GovError(f"{what} is longer than {limit} characters / {what} 超过 {limit} 字")
    return text
