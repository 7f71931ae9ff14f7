"""The monthly district report (区县政务诚信月度监测, docs/government-integrity-districts.md): per district of
the deployment its government-dishonesty bodies, clues, arrears, overdue rectifications, third-party
scores, a score, the trend against the previous month and early warnings.

Figures are taken **as of the last day of the month** (China Standard Time): a record counts when it is
active on that day. Clue and clearance figures come from the government-integrity tables through
:func:`activity` (:func:`~joint_sanctions._gov_activity.district_activity`: clues received, transferred,
verified; arrears outstanding, cleared, stalled).

The score (0–100, higher is better) is documented in docs/government-integrity-districts.md; its
weights are :data:`WEIGHTS`. Government dishonesty weighs twice as much as the other deductions
(加大区域信用监测扣分权重, the seed reply).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._gov_activity import DistrictActivity, district_activity
from ._gov_district_data import DIMENSIONS, District, DistrictError, Districts, parse_month
from ._gov_districts import area_of, record_area
from ._identifiers import mask, mask_text
from ._models import CST, CreditRecord
from .stores import RecordStore, SqlStore
from .stores._gov_district_tables import GOVERNMENT_DISHONESTY, bodies_in, read_scores

__all__ = ["WEIGHTS", "activity", "district_report", "month_days"]

#: Points deducted per item. ``government_dishonesty_factor`` multiplies the unit of the two
#: government-dishonesty items (a body on the list, an overdue rectification): 加大区域信用监测扣分权重.
WEIGHTS: dict[str, float] = {
    "unit": 5.0,
    "government_dishonesty_factor": 2.0,
    "dishonesty_body": 1.0,         # × unit × factor = 10 per body with an active record
    "overdue_rectification": 1.0,   # × unit × factor = 10 per record past its rectify_by
    "clearance_stalled": 1.0,       # × unit = 5 per body whose clearance stalled
    "transfer_late": 0.4,           # × unit = 2 per clue transferred late
}
#: A fall of at least this many points against the previous month is itself an early warning.
SCORE_DROP_WARNING = 10.0


ActivitySource = Callable[[RecordStore, str], Mapping[str, DistrictActivity] | None]


def activity(store: RecordStore, month: str) -> dict[str, DistrictActivity] | None:
    """Clue and clearance figures per region code (:func:`~joint_sanctions._gov_activity.district_activity`),
    or None for a store without SQL tables (the test kit's): the report then shows those figures as null,
    never as zero."""
    if not isinstance(store, SqlStore):
        return None
    return district_activity(store, month)


def month_days(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of ``YYYY-MM``."""
    year, number = int(month[:4]), int(month[5:7])
    return dt.date(year, number, 1), dt.date(year, number, calendar.monthrange(year, number)[1])


def _previous(month: str) -> str:
    first, _ = month_days(month)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def _government_records(store: RecordStore, districts: Districts) -> list[CreditRecord]:
    """Every government-dishonesty record (any status) of a body in one of the deployment's districts."""
    areas = [area_of(d.region_code) for d in districts.districts]
    found = []
    for body in sorted(bodies_in(store, area_of(districts.region_code))):
        for r in store.records_of(body):
            area = record_area(r) or ""
            if r.list_type == GOVERNMENT_DISHONESTY and any(area.startswith(a) for a in areas):
                found.append(r)
    return found


@dataclass(frozen=True)
class _Month:
    """What one month's figures are computed from."""

    month: str
    as_of: dt.date
    records: list[CreditRecord]  # active on as_of
    listed_by_end: bool  # some government-dishonesty record was listed by the month's end
    scores: dict[tuple[str, str], float]  # (region code, dimension) → score
    activity: dict[str, DistrictActivity] | None


def _month_data(store: RecordStore, districts: Districts, month: str, records: Sequence[CreditRecord],
                current: Callable[[list[CreditRecord], dt.date], Sequence[CreditRecord]],
                source: ActivitySource) -> _Month:
    _, last = month_days(month)
    active = list(current([r for r in records if r.is_active(last)], last))
    scores = {(s.region_code, s.dimension): s.score for s in read_scores(store, [month])}
    found = source(store, month)
    return _Month(month, last, active, any(r.listed_on <= last for r in records), scores,
                  None if found is None else dict(found))


def _has_data(data: _Month) -> bool:
    return data.listed_by_end or bool(data.scores) or bool(data.activity)


def _in(district: District, code: str | None) -> bool:
    return code is not None and code.startswith(area_of(district.region_code))


def _district(district: District, data: _Month) -> dict[str, Any]:
    """One district's figures, score and warnings for the month of ``data`` (trend added by the caller)."""
    records = [r for r in data.records if _in(district, record_area(r))]
    overdue = [r for r in records if r.rectify_by is not None and r.rectify_by < data.as_of]
    bodies = sorted({r.subject_id for r in records})
    acts = ([a for code, a in data.activity.items() if _in(district, code)] if data.activity is not None
            else None)

    def total(field: str) -> Any:
        return None if acts is None else sum(getattr(a, field) for a in acts)

    dimensions = {k: data.scores[(district.region_code, k)] for k in DIMENSIONS
                  if (district.region_code, k) in data.scores}
    third_party = round(sum(dimensions.values()) / len(dimensions), 1) if dimensions else None
    unit, factor = WEIGHTS["unit"], WEIGHTS["government_dishonesty_factor"]
    deductions = {
        "dishonesty_bodies": len(bodies) * WEIGHTS["dishonesty_body"] * unit * factor,
        "overdue": len(overdue) * WEIGHTS["overdue_rectification"] * unit * factor,
        "clearance_stalled": (total("clearance_stalled") or 0) * WEIGHTS["clearance_stalled"] * unit,
        "transfers_late": (total("clues_transferred_late") or 0) * WEIGHTS["transfer_late"] * unit,
    }
    base = third_party if third_party is not None else 100.0
    score = round(min(100.0, max(0.0, base - sum(deductions.values()))), 1)
    # Names and ids are shown masked: a record of a person (公职人员) may carry a resident id.
    warnings = [{"code": "overdue_rectification", "record_id": mask_text(r.record_id), "subject_id": mask(r.subject_id),
                 "rectify_by": r.rectify_by.isoformat() if r.rectify_by else None,
                 "message": mask_text(f"逾期未整改 / rectification overdue: {r.subject_name or r.subject_id} "
                                      f"({r.record_id}) was due {r.rectify_by}")} for r in overdue]
    for body in sorted({mask(b) for a in acts or () for b in a.stalled_bodies}):
        warnings.append({"code": "clearance_stalled", "subject_id": body,
                         "message": f"清欠停滞 / clearance stalled: {body} has paid nothing for 60 days"})
    late = total("clues_transferred_late")
    if late:
        warnings.append({"code": "transfer_late", "count": late,
                         "message": f"线索逾期转交 / clues transferred late: {late}"})
    return {
        "region_code": district.region_code, "name": district.name, "official_code": district.official,
        "score": score, "previous_score": None, "score_change": None, "trend": None,
        "dishonesty_bodies": len(bodies), "dishonesty_records": len(records),
        "clues": total("clues_received"), "clues_transferred_on_time": total("clues_transferred_on_time"),
        "clues_transferred_late": late, "clues_verified": total("clues_verified"),
        "clues_confirmed": total("clues_confirmed"), "overdue": len(overdue),
        "owed": None if acts is None else round(total("owed_outstanding"), 2),
        "cleared": None if acts is None else round(total("cleared"), 2),
        "clearance_stalled": total("clearance_stalled"),
        "third_party": dimensions, "third_party_score": third_party,
        "deductions": {k: round(v, 1) for k, v in deductions.items()},
        "warnings": warnings,
    }


def district_report(store: RecordStore, districts: Districts, month: str, *,
                    current: Callable[[list[CreditRecord], dt.date], Sequence[CreditRecord]] | None = None,
                    today: dt.date | None = None, source: ActivitySource = activity) -> dict[str, Any]:
    """The report of ``month`` (``YYYY-MM``) for the deployment's districts, as its JSON object.

    Args:
        store: the database of records (and of clues, clearance and scores where it keeps them).
        districts: the deployment's districts.
        month: the month reported.
        current: the list-type policy's filter of records past their maximum (``compiled.list_types.current``);
            default none.
        today: the current day in China Standard Time (a month that has not begun is refused).
        source: where clue and clearance figures come from (:func:`activity`).

    Raises:
        DistrictError: not a month, a month that has not begun, or a month with no data at all.
    """
    try:
        month = parse_month(month)
    except ValueError as exc:
        raise DistrictError(str(exc)) from None
    today = today or dt.datetime.now(CST).date()
    first, last = month_days(month)
    if first > today:
        raise DistrictError(f"month {month} has not begun / {month} 尚未开始")
    keep = current or (lambda records, _day: records)
    records = _government_records(store, districts)
    data = _month_data(store, districts, month, records, keep, source)
    if not _has_data(data):
        raise DistrictError(f"no data for {month}: no government-dishonesty record listed by its end, no "
                            f"third-party scores and no clues / {month} 无任何数据（无政务失信记录、第三方评分或线索）")
    before = _month_data(store, districts, _previous(month), records, keep, source)
    rows = []
    for district in districts.districts:
        row = _district(district, data)
        if _has_data(before):
            previous = _district(district, before)["score"]
            change = round(row["score"] - previous, 1)
            row.update(previous_score=previous, score_change=change,
                       trend="up" if change > 0 else "down" if change < 0 else "flat")
            if change <= -SCORE_DROP_WARNING:
                row["warnings"].append({"code": "score_drop", "change": change,
                                        "message": f"评分下降 / score fell by {-change} points"})
        rows.append(row)
    return {
        "month": month, "as_of": last.isoformat(), "previous_month": before.month,
        "deployment": {"region_code": districts.region_code, "name": districts.name},
        "activity_tracked": data.activity is not None,
        "dimensions": DIMENSIONS, "weights": WEIGHTS,
        "districts": rows,
        "warning_count": sum(len(r["warnings"]) for r in rows),
    }
