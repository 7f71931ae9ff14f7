"""Clearance of arrears (清欠) under government-dishonesty records (docs/government-integrity.md).

A confirmed clue with an owed amount opens the arrears of its record (:mod:`joint_sanctions._gov_clues`).
Payments are recorded against the record, dated, and can never exceed what is still owed. Once
everything is paid the rectification is complete (整改完成): a government-dishonesty record lasts until
rectified (郑发改财信〔2020〕546号), so ``records repair`` refuses to repair one whose arrears are not
cleared by the repair date (:func:`arrears_problem`), whatever ``--early`` says. A record without
recorded arrears (imported from a file, or confirmed without an amount) is repaired as any other;
removal (移出, e.g. a record made in error) is never held back by arrears.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import StoreError
from ._gov_base import Clock, GovError, checked_day, checked_text, fen, read_day, time_param, utc_now, yuan
from ._identifiers import mask_text
from ._logging import get_logger
from .stores import RecordStore, SqlStore
from .stores._gov_tables import gov_store
from .stores._sql import sql_store_of

__all__ = ["Clearance", "Payment", "add_payment", "arrears_problem", "clearance"]

_log = get_logger()


@dataclass(frozen=True)
class Payment:
    """One payment against a record's arrears (amount in yuan)."""

    paid: float
    on: dt.date
    note: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class Clearance:
    """Where the arrears of a government-dishonesty record stand (amounts in yuan).

    Attributes:
        arrears_recorded: False when no owed amount is recorded for the record (then all amounts are 0).
        rectified: everything owed is paid.
        rectified_on: the day of the payment that completed it (the latest payment's day), else None.
    """

    record_id: str
    body_id: str
    region_code: str | None
    arrears_recorded: bool
    owed: float
    paid: float
    outstanding: float
    rectified: bool
    rectified_on: dt.date | None
    payments: tuple[Payment, ...]

    def to_json(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "body_id": self.body_id, "region_code": self.region_code,
                "status": "rectified" if self.rectified else "outstanding" if self.arrears_recorded else "no_arrears",
                "arrears_recorded": self.arrears_recorded, "owed": self.owed, "paid": self.paid,
                "outstanding": self.outstanding, "rectified": self.rectified,
                "rectified_on": self.rectified_on.isoformat() if self.rectified_on else None,
                "payments": [{"paid": p.paid, "on": p.on.isoformat(), "note": mask_text(p.note),
                              "recorded_at": p.recorded_at.isoformat()} for p in self.payments]}


def _dishonesty_record(store: RecordStore, record_id: str) -> Any:
    record = store.get(record_id.strip())
    if record is None:
        raise GovError(f"unknown record {mask_text(record_id)[:60]!r} / 未知的记录编号")
    if record.list_type != "government_dishonesty":
        raise GovError(f"record {mask_text(record.record_id)!r} is a {record.list_type} record, not "
                       "government_dishonesty / 不是政务失信记录")
    return record


def _arrears(sql: SqlStore, conn: Any, record_id: str, lock: bool = False) -> tuple[int, int, str] | None:
    """(owed, paid so far, region) in fen for the record, or None when no arrears are recorded."""
    d = sql.dialect
    row = conn.execute(d.sql("SELECT owed_fen, region_code FROM gov_arrears WHERE record_id = :record_id"
                             + (d.lock_rows if lock else "")), {"record_id": record_id}).fetchone()
    if row is None:
        return None
    paid = conn.execute(d.sql("SELECT COALESCE(SUM(paid_fen), 0) FROM gov_payments WHERE record_id = :record_id"),
                        {"record_id": record_id}).fetchone()[0]
    return int(row[0]), int(paid), row[1]


def _payments(sql: SqlStore, conn: Any, record_id: str) -> list[Payment]:
    d = sql.dialect
    rows = conn.execute(d.sql("SELECT paid_fen, paid_on, note, recorded_at FROM gov_payments "
                              "WHERE record_id = :record_id ORDER BY paid_on, payment_id"), {"record_id": record_id})
    payments = []
    for paid_fen, paid_on, note, recorded_at in rows:
        on = read_day(d, paid_on)
        assert on is not None  # NOT NULL column
        payments.append(Payment(yuan(paid_fen) or 0.0, on, note, d.read_time(recorded_at)))
    return payments


def clearance(store: RecordStore, record_id: str) -> Clearance:
    """Owed, paid, outstanding and the payments of a government-dishonesty record.

    Raises:
        GovError: unknown record, or not a government_dishonesty record.
    """
    record = _dishonesty_record(store, record_id)
    sql = gov_store(store)
    with sql.reading() as conn:
        arrears = _arrears(sql, conn, record.record_id)
        payments = _payments(sql, conn, record.record_id)
    if arrears is None:
        return Clearance(record.record_id, record.subject_id, record.region_code, False, 0.0, 0.0, 0.0, False,
                         None, ())
    owed, paid, region = arrears
    rectified = paid >= owed
    return Clearance(record.record_id, record.subject_id, region, True, yuan(owed) or 0.0, yuan(paid) or 0.0,
                     yuan(owed - paid) or 0.0, rectified, max(p.on for p in payments) if rectified else None,
                     tuple(payments))


def add_payment(store: RecordStore, record_id: str, *, paid: float, on: dt.date, note: str = "",
                clock: Clock | None = None) -> Clearance:
    """Record a payment of ``paid`` yuan on ``on`` against the record's arrears.

    Raises:
        GovError: unknown record, not a government_dishonesty record, no owed amount recorded for it, a
            non-positive amount, a payment larger than what is still owed, or a day before the listing.
            Nothing is written then.
    """
    record = _dishonesty_record(store, record_id)
    amount = fen(paid, "payment")
    assert amount is not None
    note = checked_text(note, "note") if note.strip() else ""
    on = checked_day(on, "on")
    if on < record.listed_on:
        raise GovError(f"a payment on {on} is before the record was listed on {record.listed_on} / 付款日期早于列入日期")
    sql = gov_store(store)
    d = sql.dialect
    with sql.transaction() as conn:
        arrears = _arrears(sql, conn, record.record_id, lock=True)
        if arrears is None:
            raise GovError(f"no owed amount is recorded for record {record.record_id} (it was listed without one) / "
                           "该记录没有登记欠款金额")
        owed, paid_before, _ = arrears
        if amount > owed - paid_before:
            raise GovError(f"a payment of {yuan(amount):.2f} yuan is more than the {yuan(owed - paid_before):.2f} "
                           f"yuan still owed under record {record.record_id} / 付款金额超过尚欠金额")
        conn.execute(d.sql("INSERT INTO gov_payments (record_id, paid_fen, paid_on, note, recorded_at) "
                           "VALUES (:record_id, :paid, :on, :note, :at)"),
                     {"record_id": record.record_id, "paid": amount, "on": d.day(on), "note": note,
                      "at": time_param(d, (clock or utc_now)())})
    _log.info("gov_payment_recorded", record_id=record.record_id, cleared=amount == owed - paid_before)
    return clearance(store, record.record_id)


def arrears_problem(store: RecordStore, record_id: str, on: dt.date) -> str | None:
    """Why the record may not be repaired on ``on`` for arrears not cleared by then, or None.

    Reads only: a database that never had government-integrity tables (or a store without SQL) has no
    arrears, and none are created here.
    """
    try:
        sql = sql_store_of(store, "arrears")
    except StoreError:
        return None
    d = sql.dialect
    with sql.reading() as conn:
        if conn.execute(d.sql(d.table_exists), {"name": "gov_arrears"}).fetchone() is None:
            return None
        row = conn.execute(d.sql("SELECT a.owed_fen, COALESCE(SUM(p.paid_fen), 0) FROM gov_arrears a "
                                 "LEFT JOIN gov_payments p ON p.record_id = a.record_id AND p.paid_on <= :on "
                                 "WHERE a.record_id = :record_id GROUP BY a.owed_fen"),
                           {"record_id": record_id, "on": d.day(on)}).fetchone()
    if row is None or row[1] >= row[0]:
        return None
    outstanding = yuan(int(row[0]) - int(row[1])) or 0.0
    return (f"record {mask_text(record_id)!r} still has {outstanding:.2f} yuan of arrears outstanding on {on}: a "
            "government_dishonesty record is repaired once rectification is complete (gov clearance add) "
            f"/ 尚欠 {outstanding:.2f} 元未清偿，整改完成前不能修复政务失信记录")


def outstanding_by_record(sql: SqlStore, conn: Any, day: dt.date) -> list[tuple[str, str, str, int, int, dt.date,
                                                                                 dt.date | None]]:
    """Every recorded arrears listed by ``day``: (record, body, region, owed, paid by day, listed_on, last payment
    day by ``day``), in fen."""
    d = sql.dialect
    rows: Sequence[Sequence[Any]] = conn.execute(d.sql(
        "SELECT a.record_id, a.body_id, a.region_code, a.owed_fen, COALESCE(SUM(p.paid_fen), 0), a.listed_on, "
        "MAX(p.paid_on) FROM gov_arrears a LEFT JOIN gov_payments p ON p.record_id = a.record_id "
        "AND p.paid_on <= :day WHERE a.listed_on <= :day "
        "GROUP BY a.record_id, a.body_id, a.region_code, a.owed_fen, a.listed_on ORDER BY a.record_id"),
        {"day": d.day(day)}).fetchall()
    result = []
    for record_id, body_id, region, owed, paid, listed_on, last_paid in rows:
        listed = read_day(d, listed_on)
        assert listed is not None
        result.append((record_id, body_id, region, int(owed), int(paid), listed, read_day(d, last_paid)))
    return result
