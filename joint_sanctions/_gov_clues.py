"""Complaint clues about government bodies (违约失信投诉线索, docs/government-integrity.md).

A clue is received through one of :data:`~joint_sanctions.vocabulary.CLUE_CHANNELS`, transferred at once to
the body's superior or competent department (即发现即转交) with a due date for its verification, and then
verified (核实认定) as confirmed or unfounded. Every step is an event of the clue's trail (time, day,
actor, text, and any warning). Two deadlines give warnings, never refusals, because the step still
happened and must be kept: a transfer later than the deployment's transfer deadline after receipt
(default :data:`DEFAULT_TRANSFER_WORKING_DAYS` working day, Monday to Friday; public holidays are not
known here), and a verification after the transfer's due date.

A confirmed clue becomes a ``government_dishonesty`` credit record, written by the record store itself
(:meth:`~joint_sanctions.stores.RecordStore.upsert_checked`, the path imports take), so every check sees it
at once. The record's id is derived from the clue's (``GC-…`` → ``GD-…``), its region code is the clue's,
and an owed amount opens the record's arrears (:mod:`joint_sanctions._gov_clearance`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ._gov_base import (
    Clock,
    GovError,
    checked_day,
    checked_text,
    day_param,
    fen,
    government_body,
    read_day,
    time_param,
    today,
    utc_now,
    yuan,
)
from ._identifiers import mask_text
from ._logging import get_logger
from ._models import CreditRecord, RecordChange
from .stores import RecordStore, SqlStore
from .stores._gov_tables import gov_store
from .vocabulary import CLUE_CHANNELS, CLUE_STATUSES

__all__ = ["DEFAULT_TRANSFER_WORKING_DAYS", "Clue", "ClueEvent", "add_clue", "get_clue", "list_clues",
           "transfer_clue", "transfer_deadline", "verify_clue"]

_log = get_logger()

#: Working days after receipt within which a clue should be transferred (即发现即转交); later is a warning.
DEFAULT_TRANSFER_WORKING_DAYS = 1
#: Who acts when no actor is named: the credit office receives and transfers clues.
CREDIT_OFFICE = "信用办"

_CLUE_COLUMNS = ("clue_id, body_id, body_name, region_code, channel, summary, amount_fen, received_on, status, "
                 "source, department, transferred_on, transfer_due, transfer_late, verified_on, verify_overdue, "
                 "reason, record_id")


@dataclass(frozen=True)
class ClueEvent:
    """One step of a clue's trail.

    Attributes:
        recorded_at: when it was written (UTC).
        on: the day it took effect (China Standard Time).
        action: ``received``, ``transferred``, ``confirmed`` or ``unfounded``.
        actor: who acted (the credit office, the department verifying).
        text: what was done, as the actor said it.
        warning: a missed deadline, or None.
    """

    recorded_at: dt.datetime
    on: dt.date
    action: str
    actor: str
    text: str
    warning: str | None


@dataclass(frozen=True)
class Clue:
    """A complaint clue and its trail (see the module docstring for the steps).

    Amounts are in yuan. ``transfer_late`` and ``verify_overdue`` are None until the step happened.
    """

    clue_id: str
    body_id: str
    body_name: str
    region_code: str
    channel: str
    summary: str
    amount: float | None
    received_on: dt.date
    status: str
    source: str
    department: str | None
    transferred_on: dt.date | None
    transfer_due: dt.date | None
    transfer_late: bool | None
    verified_on: dt.date | None
    verify_overdue: bool | None
    reason: str | None
    record_id: str | None
    trail: tuple[ClueEvent, ...]

    def overdue(self, day: dt.date, working_days: int = DEFAULT_TRANSFER_WORKING_DAYS) -> bool:
        """True when on ``day`` the clue waits past a deadline: not transferred by the transfer deadline, or
        transferred and not verified by its due date."""
        if self.status == "received":
            return day > transfer_deadline(self.received_on, working_days)
        return self.status == "transferred" and self.transfer_due is not None and day > self.transfer_due

    def to_json(self) -> dict[str, Any]:
        """The clue as the CLI prints it (``--json``): dates ISO, resident ids in free text masked."""
        data = asdict(self)
        data["channel_name"] = CLUE_CHANNELS.get(self.channel, self.channel)
        data["status_name"] = CLUE_STATUSES.get(self.status, self.status)
        data["trail"] = [{**asdict(e), "recorded_at": e.recorded_at.isoformat(), "on": e.on.isoformat()}
                         for e in self.trail]
        for key in ("received_on", "transferred_on", "transfer_due", "verified_on"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        masked: dict[str, Any] = _masked(data)
        return masked


def _masked(data: Any) -> Any:
    if isinstance(data, str):
        return mask_text(data)
    if isinstance(data, dict):
        return {k: _masked(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_masked(v) for v in data]
    return data


def transfer_deadline(received_on: dt.date, working_days: int = DEFAULT_TRANSFER_WORKING_DAYS) -> dt.date:
    """The last day a clue received on ``received_on`` is transferred in time: ``working_days`` working
    days (Monday to Friday) later; 0 means the day of receipt."""
    if working_days < 0:
        raise GovError(f"the transfer deadline cannot be {working_days} days / 转交时限不能为负")
    day, left = received_on, working_days
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def record_id_of(clue_id: str) -> str:
    """The id of the government-dishonesty record a confirmed clue becomes."""
    return "GD-" + clue_id.removeprefix("GC-")


# --- writing ----------------------------------------------------------------------------------------


def insert_clue(sql: SqlStore, conn: Any, *, body_id: str, body_name: str, region_code: str, channel: str,
                summary: str, amount_fen: int | None, received_on: dt.date, source: str, actor: str,
                now: dt.datetime) -> str:
    """Insert a new clue and its ``received`` event on ``conn`` (inside a write transaction); its id."""
    d = sql.dialect
    insert = d.sql(f"INSERT INTO gov_clues ({_CLUE_COLUMNS}, created_at) VALUES (:clue_id, :body_id, :body_name, "
                   ":region_code, :channel, :summary, :amount_fen, :received_on, 'received', :source, NULL, NULL, "
                   "NULL, NULL, NULL, NULL, NULL, NULL, :created_at) ON CONFLICT (clue_id) DO NOTHING")
    for _ in range(8):  # 16.7 million ids a day: a repeat is rare, and then the next one is taken
        clue_id = f"GC-{received_on:%Y%m%d}-{secrets.token_hex(3)}"
        done = conn.execute(insert, {"clue_id": clue_id, "body_id": body_id, "body_name": body_name,
                                     "region_code": region_code, "channel": channel, "summary": summary,
                                     "amount_fen": amount_fen, "received_on": d.day(received_on),
                                     "source": source, "created_at": time_param(d, now)})
        if done.rowcount == 1:
            text = f"received through {channel} ({CLUE_CHANNELS[channel]}): {summary}"
            add_event(sql, conn, clue_id, now, received_on, "received", actor, text, None)
            return clue_id
    raise GovError("could not find a free clue id / 无法生成线索编号")


def add_event(sql: SqlStore, conn: Any, clue_id: str, now: dt.datetime, on: dt.date, action: str, actor: str,
              text: str, warning: str | None) -> None:
    d = sql.dialect
    conn.execute(d.sql("INSERT INTO gov_clue_events (clue_id, recorded_at, effective_on, action, actor, note, warning) "
                       "VALUES (:clue_id, :at, :on, :action, :actor, :note, :warning)"),
                 {"clue_id": clue_id, "at": time_param(d, now), "on": d.day(on), "action": action, "actor": actor,
                  "note": text, "warning": warning})


def add_clue(store: RecordStore, *, body: str, channel: str, summary: str, amount: float | None = None,
             received: dt.date | None = None, region: str | None = None, body_name: str = "",
             actor: str = CREDIT_OFFICE, clock: Clock | None = None) -> Clue:
    """Receive a complaint clue about a government body.

    Args:
        store: a SQLite or PostgreSQL store (the clue tables are created in its database on first use).
        body: the body's USCC (see :func:`~joint_sanctions._gov_base.government_body`).
        channel: one of :data:`~joint_sanctions.vocabulary.CLUE_CHANNELS`.
        summary: what the complaint says.
        amount: the amount the complaint says is owed, in yuan.
        received: the day of receipt (default today, China Standard Time).
        region: the body's 6-digit region code when not the one in its USCC.
        body_name: the body's name, if known.
        actor: who received it.
        clock: the current time (default the system's).

    Raises:
        GovError: unknown body, unknown channel, an empty summary or a bad amount; nothing is written.
    """
    if channel not in CLUE_CHANNELS:
        raise GovError(f"unknown channel {mask_text(channel)[:40]!r} (expected one of {', '.join(CLUE_CHANNELS)}) "
                       "/ 未知的线索渠道")
    body_id, region_code = government_body(body, region)
    summary = checked_text(summary, "summary")
    amount_fen = fen(amount)
    now = (clock or utc_now)()
    received_on = checked_day(received or today(clock), "received")
    sql = gov_store(store)
    with sql.transaction() as conn:
        clue_id = insert_clue(sql, conn, body_id=body_id, body_name=body_name.strip(), region_code=region_code,
                              channel=channel, summary=summary, amount_fen=amount_fen, received_on=received_on,
                              source="manual", actor=actor, now=now)
    _log.info("gov_clue_received", clue_id=clue_id, channel=channel, region_code=region_code)
    return get_clue(store, clue_id)


def transfer_clue(store: RecordStore, clue_id: str, *, to: str, due: dt.date, on: dt.date | None = None,
                  actor: str = CREDIT_OFFICE, working_days: int = DEFAULT_TRANSFER_WORKING_DAYS,
                  clock: Clock | None = None) -> Clue:
    """Transfer a received clue to the department that verifies it (即发现即转交).

    Args:
        to: the body's superior or competent department.
        due: the day by which the department is to verify the clue.
        on: the day of the transfer (default today).
        working_days: the deployment's transfer deadline after receipt; a later transfer is recorded with a
            warning (``transfer_late``).

    Raises:
        GovError: unknown clue, a clue already transferred or verified, a transfer before receipt, or a due
            date before the transfer; nothing is written.
    """
    department = checked_text(to, "department", 200)
    now = (clock or utc_now)()
    on, due = checked_day(on or today(clock), "on"), checked_day(due, "due")
    sql = gov_store(store)
    d = sql.dialect
    with sql.transaction() as conn:
        clue = _locked(sql, conn, clue_id)
        if clue.status != "received":
            raise GovError(f"clue {clue.clue_id} is already {clue.status}, it can be transferred once / "
                           f"线索已{CLUE_STATUSES[clue.status]}，不能再次转交")
        if on < clue.received_on:
            raise GovError(f"a transfer on {on} is before the clue was received on {clue.received_on} / "
                           "转交日期早于受理日期")
        if due < on:
            raise GovError(f"the due date {due} is before the transfer on {on} / 办理期限早于转交日期")
        deadline = transfer_deadline(clue.received_on, working_days)
        late = on > deadline
        warning = (f"transferred on {on}, after the transfer deadline {deadline} ({working_days} working day(s) "
                   f"after receipt) / 超过转交时限（应于 {deadline} 前转交）") if late else None
        conn.execute(d.sql("UPDATE gov_clues SET status = 'transferred', department = :department, "
                           "transferred_on = :on, transfer_due = :due, transfer_late = :late "
                           "WHERE clue_id = :clue_id AND status = 'received'"),
                     {"department": department, "on": d.day(on), "due": d.day(due), "late": int(late),
                      "clue_id": clue.clue_id})
        add_event(sql, conn, clue.clue_id, now, on, "transferred", actor,
                  f"transferred to {department}, to be verified by {due}", warning)
    if late:
        _log.info("gov_clue_transferred_late", clue_id=clue.clue_id, deadline=deadline.isoformat())
    return get_clue(store, clue.clue_id)


def verify_clue(store: RecordStore, clue_id: str, *, confirmed: bool, reason: str, on: dt.date | None = None,
                rectify_by: dt.date | None = None, amount: float | None = None, actor: str | None = None,
                decision_no: str = "", clock: Clock | None = None) -> Clue:
    """Record the verification (核实认定) of a transferred clue.

    A confirmed clue becomes a ``government_dishonesty`` record (listed on ``on``, with ``rectify_by``, the
    clue's region code, and the department as authority); the owed amount (``amount``, else the clue's)
    opens its arrears. A verification after the transfer's due date is recorded with a warning
    (``verify_overdue``).

    Args:
        confirmed: True for 属实 (confirmed), False for 不实 (unfounded).
        reason: the finding.
        on: the day of the verification (default today).
        rectify_by: the rectification deadline (confirmed only).
        amount: the amount owed, in yuan (confirmed only; default the clue's amount).
        actor: who verified (default the department the clue was transferred to).
        decision_no: the number of the finding's document, if any.

    Raises:
        GovError: unknown clue, a clue not transferred yet (verification before transfer) or already
            verified, a day before the transfer, a rectification deadline before the finding, or a
            rectification deadline or amount on an unfounded clue; nothing is written.
    """
    reason = checked_text(reason, "reason")
    owed = fen(amount)
    if not confirmed and (rectify_by is not None or owed is not None):
        raise GovError("an unfounded clue has no rectification deadline or owed amount / 核实不实的线索无整改期限或欠款")
    now = (clock or utc_now)()
    on = checked_day(on or today(clock), "on")
    rectify_by = None if rectify_by is None else checked_day(rectify_by, "rectify_by")
    sql = gov_store(store)
    clue = get_clue(store, clue_id)
    _verifiable(clue, on, rectify_by)
    record: CreditRecord | None = None
    existed = False
    if confirmed:
        owed = owed if owed is not None else fen(clue.amount)
        record = CreditRecord(record_id=record_id_of(clue.clue_id), list_type="government_dishonesty",
                              subject_id=clue.body_id, subject_name=clue.body_name, subject_type="government_body",
                              authority=clue.department or "", document_no=decision_no.strip(), listed_on=on,
                              reason=reason, region_code=clue.region_code, rectify_by=rectify_by)
        # The record first, through the record store: should the clue's update below fail, verifying again
        # writes the same record (same id) and completes it.
        existed = store.get(record.record_id) is not None
        _, refused = store.upsert_checked([record])
        if refused:
            raise GovError(f"the record of clue {clue.clue_id} was refused: {next(iter(refused.values()))}")
    overdue = clue.transfer_due is not None and on > clue.transfer_due
    warning = (f"verified on {on}, after the due date {clue.transfer_due} / 超期核实（办理期限 {clue.transfer_due}）"
               if overdue else None)
    status = "confirmed" if confirmed else "unfounded"
    try:
        _record_finding(sql, clue.clue_id, on, rectify_by, status, reason, record, owed, actor, warning, now)
    except GovError:
        if record is not None and not existed:
            _withdraw_lost_record(store, record, clue.clue_id)
        raise
    _log.info("gov_clue_verified", clue_id=clue.clue_id, status=status, overdue=overdue)
    return get_clue(store, clue.clue_id)


def _withdraw_lost_record(store: RecordStore, record: CreditRecord, clue_id: str) -> None:
    """Remove, from its listing day (so it never counted), a record this verification wrote for a clue that
    another verification settled first without it."""
    if get_clue(store, clue_id).record_id == record.record_id:
        return
    store.change_status(record.record_id, RecordChange(
        status="removed", on=record.listed_on, decision_no=clue_id,
        reason="another verification of the clue was recorded first / 该线索已由他人先行核实"))


def _record_finding(sql: SqlStore, clue_id: str, on: dt.date, rectify_by: dt.date | None, status: str, reason: str,
                    record: CreditRecord | None, owed: int | None, actor: str | None, warning: str | None,
                    now: dt.datetime) -> None:
    """The clue's verification, its event and any arrears, in one transaction once the clue is still open
    (``warning`` is the overdue verification's, the one warning a finding can carry)."""
    d = sql.dialect
    with sql.transaction() as conn:
        clue = _locked(sql, conn, clue_id)
        _verifiable(clue, on, rectify_by)
        conn.execute(d.sql("UPDATE gov_clues SET status = :status, verified_on = :on, verify_overdue = :overdue, "
                           "reason = :reason, record_id = :record_id WHERE clue_id = :clue_id "
                           "AND status = 'transferred'"),
                     {"status": status, "on": d.day(on), "overdue": int(warning is not None), "reason": reason,
                      "record_id": record.record_id if record else None, "clue_id": clue.clue_id})
        text = f"{status}: {reason}"
        if record is not None:
            text += f"; government_dishonesty record {record.record_id}"
            if rectify_by is not None:
                text += f", rectify by {rectify_by}"
            if owed is not None:
                text += f", owed {yuan(owed):.2f} yuan"
                conn.execute(d.sql("INSERT INTO gov_arrears (record_id, clue_id, body_id, region_code, owed_fen, "
                                   "listed_on, created_at) VALUES (:record_id, :clue_id, :body_id, :region_code, "
                                   ":owed, :listed_on, :at) ON CONFLICT (record_id) DO NOTHING"),
                             {"record_id": record.record_id, "clue_id": clue.clue_id, "body_id": clue.body_id,
                              "region_code": clue.region_code, "owed": owed, "listed_on": d.day(on),
                              "at": time_param(d, now)})
        add_event(sql, conn, clue.clue_id, now, on, status, actor or clue.department or "", text, warning)


def _verifiable(clue: Clue, on: dt.date, rectify_by: dt.date | None) -> None:
    if clue.status == "received":
        raise GovError(f"clue {clue.clue_id} has not been transferred: it is verified by the department it is "
                       "transferred to / 线索尚未转交，不能核实")
    if clue.status != "transferred":
        raise GovError(f"clue {clue.clue_id} is already verified ({clue.status}) / 线索已核实")
    if clue.transferred_on is not None and on < clue.transferred_on:
        raise GovError(f"a verification on {on} is before the transfer on {clue.transferred_on} / 核实日期早于转交日期")
    if rectify_by is not None and rectify_by < on:
        raise GovError(f"the rectification deadline {rectify_by} is before the finding on {on} / 整改期限早于认定日期")


# --- reading ----------------------------------------------------------------------------------------


def _clue(sql: SqlStore, row: Sequence[Any], trail: tuple[ClueEvent, ...]) -> Clue:
    d = sql.dialect
    (clue_id, body_id, body_name, region_code, channel, summary, amount_fen, received_on, status, source,
     department, transferred_on, transfer_due, transfer_late, verified_on, verify_overdue, reason, record_id) = row
    received = read_day(d, received_on)
    assert received is not None  # NOT NULL column
    return Clue(clue_id=clue_id, body_id=body_id, body_name=body_name, region_code=region_code, channel=channel,
                summary=summary, amount=yuan(amount_fen), received_on=received, status=status, source=source,
                department=department, transferred_on=read_day(d, transferred_on),
                transfer_due=read_day(d, transfer_due),
                transfer_late=None if transfer_late is None else bool(transfer_late),
                verified_on=read_day(d, verified_on),
                verify_overdue=None if verify_overdue is None else bool(verify_overdue),
                reason=reason, record_id=record_id, trail=trail)


def _unknown(clue_id: str) -> GovError:
    return GovError(f"unknown clue {mask_text(clue_id)[:60]!r} / 未知的线索编号")


def _locked(sql: SqlStore, conn: Any, clue_id: str) -> Clue:
    """The clue, its row locked until the transaction ends (PostgreSQL; SQLite admits one writer anyway)."""
    row = conn.execute(sql.dialect.sql(f"SELECT {_CLUE_COLUMNS} FROM gov_clues WHERE clue_id = :clue_id"
                                       f"{sql.dialect.lock_rows}"), {"clue_id": clue_id.strip()}).fetchone()
    if row is None:
        raise _unknown(clue_id)
    return _clue(sql, row, ())


def _trails(sql: SqlStore, conn: Any, clue_ids: Sequence[str]) -> dict[str, list[ClueEvent]]:
    d = sql.dialect
    trails: dict[str, list[ClueEvent]] = {clue_id: [] for clue_id in clue_ids}
    if not clue_ids:
        return trails
    rows = conn.execute(d.sql("SELECT clue_id, recorded_at, effective_on, action, actor, note, warning "
                              "FROM gov_clue_events WHERE " + d.in_list.format(column="clue_id", name="ids") +
                              " ORDER BY clue_id, event_id"), {"ids": d.ids(clue_ids)})
    for clue_id, at, on, action, actor, note, warning in rows:
        day = read_day(d, on)
        assert day is not None  # NOT NULL column
        trails[clue_id].append(ClueEvent(d.read_time(at), day, action, actor, note, warning))
    return trails


def get_clue(store: RecordStore, clue_id: str) -> Clue:
    """The clue with its whole trail.

    Raises:
        GovError: unknown clue.
    """
    clues = _select(store, "WHERE clue_id = :clue_id", {"clue_id": clue_id.strip()})
    if not clues:
        raise _unknown(clue_id)
    return clues[0]


def list_clues(store: RecordStore, *, status: str | None = None, overdue_on: dt.date | None = None,
               working_days: int = DEFAULT_TRANSFER_WORKING_DAYS) -> list[Clue]:
    """Clues by day of receipt (then id), with their trails.

    Args:
        status: only clues in this status (one of :data:`~joint_sanctions.vocabulary.CLUE_STATUSES`).
        overdue_on: only clues waiting past a deadline on this day (see :meth:`Clue.overdue`).

    Raises:
        GovError: an unknown status.
    """
    if status is not None and status not in CLUE_STATUSES:
        raise GovError(f"unknown clue status {mask_text(status)[:40]!r} (expected one of {', '.join(CLUE_STATUSES)}) "
                       "/ 未知的线索状态")
    where, params = "", {}
    if status is not None:
        where, params = "WHERE status = :status", {"status": status}
    clues = _select(store, where, params)
    if overdue_on is not None:
        overdue_on = checked_day(overdue_on, "at")
        clues = [c for c in clues if c.overdue(overdue_on, working_days)]
    return clues


def clues_between(store: RecordStore, first: dt.date, last: dt.date) -> list[Clue]:
    """Clues with any step (receipt, transfer, verification) from ``first`` to ``last``, without trails."""
    sql = gov_store(store)
    d = sql.dialect
    params = {"first": day_param(d, first), "last": day_param(d, last)}
    with sql.reading() as conn:
        rows = conn.execute(d.sql(
            f"SELECT {_CLUE_COLUMNS} FROM gov_clues WHERE (received_on BETWEEN :first AND :last) "
            "OR (transferred_on BETWEEN :first AND :last) OR (verified_on BETWEEN :first AND :last)"),
            params).fetchall()
    return [_clue(sql, row, ()) for row in rows]


def _select(store: RecordStore, where: str, params: dict[str, Any]) -> list[Clue]:
    sql = gov_store(store)
    with sql.reading() as conn:
        rows = conn.execute(sql.dialect.sql(f"SELECT {_CLUE_COLUMNS} FROM gov_clues {where} "
                                            "ORDER BY received_on, clue_id"), params).fetchall()
        trails = _trails(sql, conn, [row[0] for row in rows])
    return [_clue(sql, row, tuple(trails[row[0]])) for row in rows]
