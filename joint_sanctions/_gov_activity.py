"""Government-integrity activity per district and month: the figures the monthly district report is built
from (docs/government-integrity.md, "District activity").

:func:`district_activity` reads the clue, arrears and payment tables (and the records, for removals) and
returns one :class:`DistrictActivity` per 6-digit region code that had anything in the month or still
had arrears outstanding at its end. A clue counts in its body's region (characters 3–8 of the USCC, or
the region given when it was received); arrears in their record's region. Which region codes make up a
deployment's districts is the report's business: codes are returned as found.

Rules, all by day in China Standard Time, for month M from its first day F to its last day L:

- ``clues_received``: received in M. ``clues_transferred_on_time`` / ``clues_transferred_late``:
  transferred in M, within or after the transfer deadline in force when transferred.
  ``clues_verified``: verified in M (confirmed or unfounded); ``clues_confirmed``: of those, confirmed.
- ``owed_outstanding``: yuan still owed at the end of L under records listed by L (owed minus payments
  dated by L); records removed (移出) by L do not count.
- ``cleared``: yuan paid in M.
- ``rectification_overdue``: records counted in ``owed_outstanding`` whose ``rectify_by`` is on or before
  L (逾期未整改 of arrears; records without recorded arrears are the report's to judge from the records).
- ``clearance_stalled``: bodies with arrears outstanding at the end of L and no payment in the 60 days
  up to L: their latest payment by L, or their listing when none was made, is 60 or more days before L
  (:data:`STALLED_AFTER_DAYS`). A body with several records counts once.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from ._gov_base import GovError, yuan
from ._gov_clearance import outstanding_by_record
from ._gov_clues import clues_between
from ._identifiers import mask_text
from .stores import RecordStore
from .stores._gov_tables import gov_store

__all__ = ["STALLED_AFTER_DAYS", "DistrictActivity", "district_activity", "month_bounds"]

#: Days without a payment after which outstanding arrears count as stalled (清欠停滞).
STALLED_AFTER_DAYS = 60

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


@dataclass
class DistrictActivity:
    """One district's government-integrity figures for a month (see the module docstring for each rule).

    Amounts are in yuan. ``bodies_owing`` counts bodies with arrears outstanding at month end;
    ``stalled_bodies`` names the bodies counted in ``clearance_stalled`` (USCCs, sorted).
    """

    region_code: str
    clues_received: int = 0
    clues_transferred_on_time: int = 0
    clues_transferred_late: int = 0
    clues_verified: int = 0
    clues_confirmed: int = 0
    owed_outstanding: float = 0.0
    cleared: float = 0.0
    clearance_stalled: int = 0
    bodies_owing: int = 0
    rectification_overdue: int = 0
    stalled_bodies: tuple[str, ...] = field(default=())


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of ``YYYY-MM``.

    Raises:
        GovError: not a month written ``YYYY-MM``.
    """
    found = _MONTH.fullmatch(month.strip()) if isinstance(month, str) else None
    if found is None:
        raise GovError(f"{mask_text(str(month))[:20]!r} is not a month (YYYY-MM) / 不是月份（YYYY-MM）")
    year, number = int(found[1]), int(found[2])
    return dt.date(year, number, 1), dt.date(year, number, calendar.monthrange(year, number)[1])


def district_activity(store: RecordStore, month: str) -> dict[str, DistrictActivity]:
    """The month's figures per region code (6 digits), sorted by code; empty when nothing happened.

    Args:
        store: a SQLite or PostgreSQL store (the government-integrity tables are created if missing).
        month: ``YYYY-MM``.

    Raises:
        GovError: ``month`` is not ``YYYY-MM``.
        StoreError: the store keeps no SQL database, or its database failed.
    """
    first, last = month_bounds(month)
    districts: dict[str, DistrictActivity] = {}

    def of(region: str) -> DistrictActivity:
        if region not in districts:
            districts[region] = DistrictActivity(region)
        return districts[region]

    for clue in clues_between(store, first, last):
        if first <= clue.received_on <= last:
            of(clue.region_code).clues_received += 1
        if clue.transferred_on is not None and first <= clue.transferred_on <= last:
            if clue.transfer_late:
                of(clue.region_code).clues_transferred_late += 1
            else:
                of(clue.region_code).clues_transferred_on_time += 1
        if clue.verified_on is not None and first <= clue.verified_on <= last:
            of(clue.region_code).clues_verified += 1
            if clue.status == "confirmed":
                of(clue.region_code).clues_confirmed += 1

    sql = gov_store(store)
    with sql.reading() as conn:
        at_end = outstanding_by_record(sql, conn, last)
        before = {row[0]: row[4] for row in outstanding_by_record(sql, conn, first - dt.timedelta(days=1))}
    owing: dict[str, dict[str, dt.date]] = {}  # region → body → latest movement (payment or listing)
    for record_id, body_id, region, owed, paid, listed_on, last_paid in at_end:
        paid_in_month = paid - before.get(record_id, 0)
        if paid_in_month:
            district = of(region)
            district.cleared = yuan(round(district.cleared * 100) + paid_in_month) or 0.0
        if owed <= paid:
            continue
        record = store.get(record_id)
        if record is not None and record.status == "removed" and (record.ended_on is None or record.ended_on <= last):
            continue
        district = of(region)
        if record is not None and record.rectify_by is not None and record.rectify_by <= last:
            district.rectification_overdue += 1
        district.owed_outstanding = yuan(round(district.owed_outstanding * 100) + owed - paid) or 0.0
        moved = max(listed_on, last_paid) if last_paid is not None else listed_on
        bodies = owing.setdefault(region, {})
        bodies[body_id] = max(bodies.get(body_id, moved), moved)
    for region, bodies in owing.items():
        stalled = sorted(body for body, moved in bodies.items()
                         if (last - moved).days >= STALLED_AFTER_DAYS)
        district = of(region)
        district.bodies_owing = len(bodies)
        district.clearance_stalled = len(stalled)
        district.stalled_bodies = tuple(stalled)
    return dict(sorted(districts.items()))

