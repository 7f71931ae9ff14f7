"""District activity for the monthly district report: a hand-made month whose figures are known, on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from joint_sanctions._gov_activity import DistrictActivity, district_activity, month_bounds
from joint_sanctions._gov_base import GovError
from joint_sanctions._gov_clearance import add_payment
from joint_sanctions._gov_clues import add_clue, transfer_clue, verify_clue
from joint_sanctions._models import RecordChange
from joint_sanctions._repairs import end_record
from joint_sanctions.stores import RecordStore

from .conftest import Database, numbered_uscc

SHANGJIE = "124101064100000117"  # 410106
XINZHENG_A = numbered_uscc(1, "11410184MB")  # 410184
XINZHENG_B = numbered_uscc(2, "11410184MB")  # 410184
CITY_BODY = numbered_uscc(3, "11410100MB")  # registered at city level, sits in 郑东新区 (given: 410199)


def clue(store: RecordStore, body: str, received: dt.date, amount: float | None = None, **kw: str) -> str:
    return add_clue(store, body=body, channel="hotline_12345", summary="投诉", amount=amount, received=received,
                    **kw).clue_id  # type: ignore[arg-type]


def transfer(store: RecordStore, clue_id: str, on: dt.date) -> None:
    transfer_clue(store, clue_id, to="主管部门", due=on + dt.timedelta(days=10), on=on)


def confirm(store: RecordStore, clue_id: str, on: dt.date, rectify_by: dt.date | None = None) -> str:
    record_id = verify_clue(store, clue_id, confirmed=True, reason="属实", on=on, rectify_by=rectify_by).record_id
    assert record_id is not None
    return record_id


def test_month_bounds_and_bad_months() -> None:
    """A month is YYYY-MM; anything else is refused with one line."""
    assert month_bounds("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    for bad in ("2024-13", "2024-2", "202402", "2024-02-01", ""):
        with pytest.raises(GovError, match="not a month"):
            month_bounds(bad)


def test_a_hand_made_month_gives_the_known_figures(database: Database) -> None:
    """Clues received, transferred on time and late, verified and confirmed in the month, arrears
    outstanding at its end, paid in it, overdue rectifications and stalled bodies are counted per region as documented."""
    store = database.open()
    # 上街区: owes 1000 since January, pays 300 in March (not stalled); one clue received in March, late.
    shangjie = clue(store, SHANGJIE, dt.date(2024, 1, 2), 1000.0)
    transfer(store, shangjie, dt.date(2024, 1, 3))
    shangjie_record = confirm(store, shangjie, dt.date(2024, 1, 10))
    add_payment(store, shangjie_record, paid=200.0, on=dt.date(2024, 2, 1))
    add_payment(store, shangjie_record, paid=300.0, on=dt.date(2024, 3, 5))
    add_payment(store, shangjie_record, paid=100.0, on=dt.date(2024, 4, 2))  # after the month
    late = clue(store, SHANGJIE, dt.date(2024, 3, 1))  # a Friday: due for transfer on Monday 4 March
    transfer(store, late, dt.date(2024, 3, 6))
    # 新郑市: body A owes 500 since 2023-12-01, due to rectify by February, never paid (stalled, overdue); body B confirmed in March, owing 80
    # (not stalled: listed 21 days before the month's end); an unfounded clue verified in March.
    old = clue(store, XINZHENG_A, dt.date(2023, 11, 20), 500.0)
    transfer(store, old, dt.date(2023, 11, 21))
    confirm(store, old, dt.date(2023, 12, 1), rectify_by=dt.date(2024, 2, 29))  # overdue by March
    fresh = clue(store, XINZHENG_B, dt.date(2024, 2, 27), 80.0)
    transfer(store, fresh, dt.date(2024, 3, 1))  # Tuesday → Friday: late, transferred in March
    confirm(store, fresh, dt.date(2024, 3, 10), rectify_by=dt.date(2024, 4, 30))
    unfounded = clue(store, XINZHENG_B, dt.date(2024, 3, 11))
    transfer(store, unfounded, dt.date(2024, 3, 11))
    verify_clue(store, unfounded, confirmed=False, reason="不实", on=dt.date(2024, 3, 12))
    # A body with a given region: fully paid in March (cleared, nothing outstanding).
    city = clue(store, CITY_BODY, dt.date(2024, 2, 1), 50.0, region="410199")
    transfer(store, city, dt.date(2024, 2, 1))
    city_record = confirm(store, city, dt.date(2024, 2, 2))
    add_payment(store, city_record, paid=50.0, on=dt.date(2024, 3, 31))
    # A removed record does not count as owed.
    removed = clue(store, XINZHENG_A, dt.date(2024, 1, 5), 999.0)
    transfer(store, removed, dt.date(2024, 1, 5))
    removed_record = confirm(store, removed, dt.date(2024, 1, 8))
    end_record(store, removed_record, RecordChange(status="removed", on=dt.date(2024, 2, 1), reason="认定有误",
                                                   decision_no="n"), None)

    march = district_activity(store, "2024-03")
    assert list(march) == ["410106", "410184", "410199"]
    assert march["410106"] == DistrictActivity(
        "410106", clues_received=1, clues_transferred_on_time=0, clues_transferred_late=1, clues_verified=0,
        clues_confirmed=0, owed_outstanding=500.0, cleared=300.0, clearance_stalled=0, bodies_owing=1)
    assert march["410184"] == DistrictActivity(
        "410184", clues_received=1, clues_transferred_on_time=1, clues_transferred_late=1, clues_verified=2,
        clues_confirmed=1, owed_outstanding=580.0, cleared=0.0, clearance_stalled=1, bodies_owing=2,
        rectification_overdue=1, stalled_bodies=(XINZHENG_A,))
    assert march["410199"] == DistrictActivity("410199", cleared=50.0)
    january = district_activity(store, "2024-01")
    assert (january["410106"].clues_received, january["410106"].clues_confirmed,
            january["410106"].owed_outstanding) == (1, 1, 1000.0)
    assert january["410184"].owed_outstanding == 500.0 + 999.0  # removed only from February
    assert january["410184"].rectification_overdue == 0 and march["410106"].rectification_overdue == 0
    assert district_activity(store, "2023-06") == {}
