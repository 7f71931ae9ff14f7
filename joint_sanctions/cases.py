"""The closed loop (发起 → 响应 → 处置 → 反馈): cases, disposal, the feedback outbox, statistics.

A check at the current time that finds at least one measure opens a case (发起 and 响应 at once:
status ``responded``). The handling department records its disposal (处置: ``disposed``), which puts
the case's v1 feedback record in the outbox in the same transaction. A delivery run
(:mod:`joint_sanctions.delivery`) claims each pending record, sends it and marks the case ``fed_back``
or ``rejected`` (反馈)::

    responded ──dispose──▶ disposed ──deliver──▶ fed_back
        │                           └──reject───▶ rejected
        └──withdraw──▶ withdrawn (never disposed, so never fed back)

One case per matter: while a case is ``responded``, a new check of the same subject, matter type,
item code and application number (None a value like any other) returns that case instead of opening
another. The database guarantees it, across processes: ``open_key`` encodes those four, a unique index
covers it among responded cases, and a case is inserted only if no responded case holds its key
(``INSERT … ON CONFLICT DO NOTHING``, then the holder is read in the same transaction).

Every status change is looked up in :data:`TRANSITIONS` and written as a compare-and-set update
(``... WHERE status = <from>``), so a refused or concurrent step changes nothing; each change is kept
in ``case_events``. "Pending" means disposed and neither delivered nor rejected.

The subject id is stored unmasked in the case row only, because the uplink needs it; every other
output of this module (list summaries, logs, errors, ``repr``) masks resident ids.

Storage. :class:`CaseBook` and :class:`Outbox` hold the logic; every SQL statement is written once,
with ``:name`` parameters, in the backend behind the small :class:`CaseBackend` protocol. The tables
sit in the record store's own database: :class:`SqliteCaseBackend` (:data:`CASE_MIGRATIONS`) and
:class:`PostgresCaseBackend` (:data:`POSTGRES_CASE_MIGRATIONS`, the same schema in PostgreSQL's types)
differ only in how a claim picks its record: SQLite's ``BEGIN IMMEDIATE`` admits one writer at a time,
PostgreSQL locks the picked row with ``FOR UPDATE SKIP LOCKED`` so concurrent claimants pass each
other by. Compare-and-set steps keep their ``WHERE status = …`` guard, which PostgreSQL re-checks on
the locked row at READ COMMITTED.

Claims. ``claimed_by`` is ``host:pid`` and a claim carries a lease (60 s by default) and a random
token; a claim whose lease has run out is free. A claim held by a process of this host whose pid is
gone is taken over at once (:meth:`Outbox.take_over_dead`). Where containers share a host name but
not a pid namespace, set distinct host names: a live holder there would look dead.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import functools
import json
import os
import re
import socket
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from . import identifiers
from ._logging import get_logger
from .errors import (
    AmbiguousCaseError,
    CaseError,
    DisposalError,
    StoreError,
    TransitionError,
    UnknownCaseError,
)
from .feedback import DisposalResult, FeedbackV1, build_feedback, region_code_from_env
from .models import AppliedMeasure, CheckResult, Decision, Hit, Kind, Matter, Subject, SubjectRef, iso_time
from .stores import postgres_store_type
from .stores.sqlite import Migration, SqliteStore

if TYPE_CHECKING:
    from .stores.postgres import PostgresStore

__all__ = [
    "CASE_MIGRATIONS",
    "CASE_STATUSES",
    "DISPOSAL_RESULTS",
    "MIN_PREFIX",
    "POSTGRES_CASE_MIGRATIONS",
    "TRANSITIONS",
    "Case",
    "CaseBackend",
    "CaseBook",
    "CaseStats",
    "CaseStatus",
    "Claim",
    "Delivery",
    "Disposal",
    "Outbox",
    "PostgresCaseBackend",
    "SqliteCaseBackend",
    "Withdrawal",
    "case_book_for",
]

_log = get_logger()

CaseStatus = Literal["responded", "disposed", "fed_back", "rejected", "withdrawn"]

CASE_STATUSES: Mapping[str, str] = MappingProxyType({
    "responded": "已响应", "disposed": "已处置待反馈", "fed_back": "已反馈", "rejected": "被拒收",
    "withdrawn": "已撤回"})
DISPOSAL_RESULTS: Mapping[str, str] = MappingProxyType({
    "applied": "已实施", "not_applied": "未实施", "partially_applied": "部分实施"})

#: (status, action) → new status. Anything not in this table is refused.
TRANSITIONS: Mapping[tuple[str, str], CaseStatus] = MappingProxyType({
    ("responded", "dispose"): "disposed",
    ("responded", "withdraw"): "withdrawn",
    ("disposed", "deliver"): "fed_back",
    ("disposed", "reject"): "rejected",
})

#: Statuses of cases whose disposal is recorded: the "effective cases" that statistics count.
EFFECTIVE_STATUSES: tuple[CaseStatus, ...] = ("disposed", "fed_back", "rejected")

CST = dt.timezone(dt.timedelta(hours=8), "CST")
DEFAULT_LEASE = 60.0
_MAX_TEXT = 2000  # disposal texts are notes, not documents; longer input is most likely a mistake
#: A case id may be abbreviated to a unique prefix of at least this many characters.
MIN_PREFIX = 8
_PREFIX_MATCHES_SHOWN = 10


# --- the case model -------------------------------------------------------------------------------

_FROZEN = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class Disposal(BaseModel):
    """What the handling department did (处置)."""

    model_config = _FROZEN
    result: DisposalResult
    text: str | None = None
    reason: str | None = None
    description: str | None = None
    department: str | None = None
    department_code: str | None = None
    disposed_at: dt.datetime


class Delivery(BaseModel):
    """Where the case's feedback record stands in the outbox."""

    model_config = _FROZEN
    attempts: int = 0
    last_attempt_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    last_error: str | None = None
    status_code: int | None = None
    claimed_by: str | None = None
    finished_at: dt.datetime | None = None


class Withdrawal(BaseModel):
    """Why and when a responded case was withdrawn (e.g. the application was withdrawn)."""

    model_config = _FROZEN
    reason: str
    withdrawn_at: dt.datetime


class Case(BaseModel):
    """One case of the closed loop.

    ``subject`` shows the id as results do (resident ids masked); ``subject_id`` is the unmasked id,
    kept for the uplink only: it is left out of ``repr`` and of ``model_dump``.
    """

    model_config = _FROZEN
    case_id: str
    check_id: str
    status: CaseStatus
    decision: Decision
    revision: str
    subject: SubjectRef
    subject_id: str = Field(repr=False, exclude=True)
    matter: Matter
    measures: tuple[AppliedMeasure, ...]
    hits: tuple[Hit, ...]
    initiated_at: dt.datetime
    responded_at: dt.datetime
    disposal: Disposal | None = None
    delivery: Delivery | None = None
    withdrawal: Withdrawal | None = None
    data_as_of: dict[str, dt.datetime] = Field(default_factory=dict)

    @property
    def matter_type(self) -> str:
        return self.matter.matter_type

    @property
    def measure_ids(self) -> tuple[str, ...]:
        return tuple(m.measure_id for m in self.measures)

    @property
    def kind(self) -> Kind:
        """``punishment`` if any punishment measure applied, else ``incentive``."""
        return "punishment" if any(m.kind == "punishment" for m in self.measures) else "incentive"

    @property
    def list_hits(self) -> tuple[Hit, ...]:
        """The hits whose records made a measure apply (the lists the case is about)."""
        used = {rid for m in self.measures for rid in m.record_ids}
        return tuple(h for h in self.hits if h.record_id in used)

    @property
    def pending(self) -> bool:
        """Disposed, and neither delivered nor rejected."""
        return self.status == "disposed"

    def summary(self) -> dict[str, Any]:
        """The ``cases list --json`` element: docs/cli.md keys and more, resident ids masked (in free
        text too: the case keeps names, item codes and departments as given)."""
        d, o = self.disposal, self.delivery
        finished = iso_time(o.finished_at) if o is not None and o.finished_at is not None else None
        return {
            "case_id": self.case_id,
            "check_id": self.check_id,
            "status": self.status,
            "decision": self.decision,
            "matter_type": self.matter_type,
            "subject": {**self.subject.model_dump(mode="json"),
                        "name": identifiers.mask_text(self.subject.name)},
            "measure_ids": list(self.measure_ids),
            "kind": self.kind,
            "list_types": sorted({h.list_type for h in self.list_hits}),
            "item_code": _masked(self.matter.item_code),
            "application_no": _masked(self.matter.application_no),
            "revision": self.revision,
            "initiated_at": iso_time(self.initiated_at),
            "responded_at": iso_time(self.responded_at),
            "disposed_at": iso_time(d.disposed_at) if d else None,
            "result": d.result if d else None,
            "department": _masked(d.department if d else self.matter.department),
            "department_code": _masked(d.department_code if d else self.matter.department_code),
            "attempts": o.attempts if o else 0,
            "last_error": _masked(o.last_error if o else None),
            "status_code": o.status_code if o else None,
            "fed_back_at": finished if self.status == "fed_back" else None,
            "rejected_at": finished if self.status == "rejected" else None,
            "withdrawal_reason": identifiers.mask_text(self.withdrawal.reason) if self.withdrawal else None,
            "withdrawn_at": self.withdrawal.withdrawn_at.isoformat() if self.withdrawal else None,
            "data_as_of": {list_type: iso_time(when) for list_type, when in self.data_as_of.items()},
        }


def _masked(text: str | None) -> str | None:
    """Free text as outputs show it: resident ids masked (spaced and full-width forms too)."""
    return None if text is None else identifiers.mask_text(text)


def _masked_keys(counts: dict[str, int]) -> dict[str, int]:
    """Counts keyed by free text (department names) with ids masked; keys that mask alike add up."""
    shown: dict[str, int] = {}
    for key, n in counts.items():
        masked = identifiers.mask_text(key)
        shown[masked] = shown.get(masked, 0) + n
    return shown


@dataclass(frozen=True)
class CaseStats:
    """Counts of the closed loop (``cases stats``).

    An *effective case* (有效案例) is one whose disposal is recorded (disposed, fed back or rejected):
    a check that found measures and a department that acted on it. The breakdowns count effective
    cases; withdrawn cases are counted apart (``withdrawn``; in ``opened`` too, in no breakdown).
    ``by_month`` uses the month of disposal in China Standard Time, ``by_department`` the
    disposing department's name (``unspecified`` when none was given), ``by_measure`` and
    ``by_list_type`` count each case once per measure / list type it carries.
    """

    opened: int
    awaiting_disposal: int
    effective: int
    pending: int
    delivered: int
    rejected: int
    withdrawn: int
    by_month: dict[str, int] = field(default_factory=dict)
    by_measure: dict[str, int] = field(default_factory=dict)
    by_department: dict[str, int] = field(default_factory=dict)
    by_list_type: dict[str, int] = field(default_factory=dict)
    by_result: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``cases stats --json`` document."""
        return asdict(self)


# --- the storage interface ------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One audited status change."""

    case_id: str
    from_status: str | None
    to_status: str
    at: str
    actor: str
    detail: str = ""


@dataclass(frozen=True)
class NewCase:
    """What :meth:`CaseBackend.insert_case` takes, for one case of :meth:`CaseBackend.insert_cases`."""

    row: Mapping[str, Any]
    measures: Sequence[tuple[str, str]]
    list_types: Sequence[str]
    event: Event


@dataclass(frozen=True)
class ClaimedRow:
    """What a successful claim returns from the backend."""

    case_id: str
    payload: str
    attempts: int


class CaseBackend(Protocol):
    """Every read and write of cases and the outbox; one implementation per database.

    Rows are plain dicts keyed by column name. Times: ISO-8601 text for case columns, epoch seconds
    (float) for outbox columns. Methods that change a status are compare-and-set: they return False
    and change nothing when the row is not in the expected state.
    """

    def insert_case(self, row: Mapping[str, Any], measures: Sequence[tuple[str, str]],
                    list_types: Sequence[str], event: Event) -> tuple[str, bool]:
        """Store a new case with its measure ids/kinds and distinct list types, unless a responded
        case holds the same ``row["open_key"]``.

        Returns:
            ``(case_id, True)`` for the case stored now, ``(existing case_id, False)`` otherwise.
        """
        ...

    def insert_cases(self, cases: Sequence[NewCase]) -> builtins.list[tuple[str, bool]]:
        """:meth:`insert_case` for each of ``cases``, all in one transaction: every one is stored (or
        found open), or none is; results in the same order."""
        ...

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        """The case row joined with its outbox row (outbox columns None when there is none)."""
        ...

    def list_cases(self, status: str | None, subject_id: str | None = None, matter_type: str | None = None,
                   since: str | None = None) -> builtins.list[dict[str, Any]]:
        """Rows as :meth:`get_case` gives them, oldest first; each filter given narrows them
        (``since``: initiated at or after this ISO-8601 UTC time)."""
        ...

    def case_ids_from(self, prefix: str, limit: int) -> builtins.list[str]:
        """The first ``limit`` case ids in code-point order that are ``>= prefix``."""
        ...

    def check_ids(self, case_ids: Sequence[str]) -> dict[str, str]:
        """The check that opened each of these cases, by case id (unknown ids left out)."""
        ...

    def withdraw(self, case_id: str, from_status: str, to_status: str, reason: str, at: str,
                 event: Event) -> bool:
        """Mark the case withdrawn with its reason and time (compare-and-set on ``from_status``)."""
        ...

    def get_payload(self, case_id: str) -> str | None:
        """The feedback record queued for the case at disposal, or None."""
        ...

    def dispose(self, case_id: str, from_status: str, to_status: str, columns: Mapping[str, Any],
                payload: str, enqueued_at: float, event: Event) -> bool:
        """Record the disposal and put ``payload`` in the outbox, in one transaction."""
        ...

    def claim(self, owner: str, token: str, now: float, lease_until: float, due_by: float | None,
              tried_before: float | None) -> ClaimedRow | None:
        """Claim one pending, unclaimed (or lease-expired) record; None when there is none.

        Args:
            due_by: only records scheduled at or before this time (None: ignore schedules).
            tried_before: only records not attempted since this time (None: no such limit).
        """
        ...

    def live_claims(self, now: float) -> builtins.list[tuple[str, str, str]]:
        """``(case_id, claimed_by, claim_token)`` of pending records under an unexpired lease."""
        ...

    def release(self, case_id: str, token: str) -> bool:
        """Drop the claim if ``token`` still holds it."""
        ...

    def renew(self, case_id: str, token: str, lease_until: float) -> bool:
        """Extend the lease if ``token`` still holds the claim."""
        ...

    def record_failure(self, case_id: str, token: str, attempted_at: float, error: str,
                       next_attempt_at: float, lease_until: float | None) -> bool:
        """Count a failed attempt; keep the claim until ``lease_until``, or drop it when None."""
        ...

    def finish(self, case_id: str, from_status: str, to_status: str, outbox_state: str,
               attempted_at: float, status_code: int | None, error: str | None, event: Event) -> bool:
        """Mark the record delivered or rejected and move the case on, in one transaction."""
        ...

    def count_waiting(self, tried_before: float | None) -> int:
        """Pending records not attempted since ``tried_before``, claimed or not."""
        ...

    def count_by_status(self) -> dict[str, int]:
        """Number of cases per status."""
        ...

    def effective_breakdowns(self, statuses: Sequence[str]) -> dict[str, dict[str, int]]:
        """Counts of cases in ``statuses`` by ``month``, ``measure``, ``department``, ``list_type``,
        ``result``."""
        ...


# --- SQLite ---------------------------------------------------------------------------------------

# The cases table's columns as cases-0001 created them: cases-0002 rebuilds the table from them.
_CASE_COLUMNS_0001 = """case_id           TEXT NOT NULL PRIMARY KEY,
               check_id          TEXT NOT NULL,
               status            TEXT NOT NULL,
               decision          TEXT NOT NULL,
               revision          TEXT NOT NULL,
               matter_type       TEXT NOT NULL,
               kind              TEXT NOT NULL,
               subject_id        TEXT NOT NULL,
               subject_shown_id  TEXT NOT NULL,
               subject_id_kind   TEXT NOT NULL,
               subject_name      TEXT NOT NULL,
               subject_type      TEXT NOT NULL,
               matter            TEXT NOT NULL,
               measures          TEXT NOT NULL,
               hits              TEXT NOT NULL,
               initiated_at      TEXT NOT NULL,
               responded_at      TEXT NOT NULL,
               result            TEXT,
               result_text       TEXT,
               reason            TEXT,
               description       TEXT,
               department        TEXT,
               department_code   TEXT,
               disposed_at       TEXT,
               disposed_month    TEXT"""
_CASE_COLUMN_NAMES_0001 = tuple(line.split()[0] for line in _CASE_COLUMNS_0001.split(","))
# The cases table's constraints from cases-0002 on: a withdrawn case, like a responded one, has no
# disposal, and carries the reason and time of its withdrawal.
_CASE_CHECKS_0002 = (
    "CONSTRAINT cases_status_known CHECK (status IN ('responded', 'disposed', 'fed_back', 'rejected', 'withdrawn'))",
    "CONSTRAINT cases_result_known CHECK (result IN ('applied', 'not_applied', 'partially_applied'))",
    "CONSTRAINT cases_disposal_iff_disposed CHECK ((status IN ('responded', 'withdrawn')) = (result IS NULL))",
    "CONSTRAINT cases_not_applied_reason CHECK (result <> 'not_applied' OR reason IS NOT NULL)",
    ("CONSTRAINT cases_withdrawal "
     "CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawal_reason IS NOT NULL))"),
)


def _open_key(subject_id: str, matter_type: str, item_code: str | None, application_no: str | None) -> str:
    """What makes two checks the same matter: ``subject|matter|item|application``.

    Item code and application number are written length-first (``-`` for None), so that no two
    different quadruples give one key and None differs from every text, the empty one included.
    :func:`_backfill_open_keys` computes the same text in SQL.
    """
    def part(value: str | None) -> str:
        return "-" if value is None else f"{len(value)}:{value}"

    return f"{subject_id}|{matter_type}|{part(item_code)}|{part(application_no)}"


def _backfill_open_keys(matter_field: Callable[[str], str]) -> tuple[str, str]:
    """Statements that give the responded cases opened before cases-0002 their open key.

    Where several responded cases share a key (opened twice before this migration), the oldest
    (initiated, responded, case id) keeps it and the later ones keep none: they stay responded and
    can still be disposed or withdrawn, but a new check returns the oldest.

    Args:
        matter_field: the SQL reading a field of the ``matter`` JSON text in this database.
    """
    def part(name: str) -> str:
        value = matter_field(name)
        return f"CASE WHEN {value} IS NULL THEN '-' ELSE CAST(length({value}) AS TEXT) || ':' || {value} END"

    key = f"subject_id || '|' || matter_type || '|' || {part('item_code')} || '|' || {part('application_no')}"
    return (f"UPDATE cases SET open_key = {key} WHERE status = 'responded'",
            ("UPDATE cases SET open_key = NULL WHERE open_key IS NOT NULL AND EXISTS ("
             "SELECT 1 FROM cases o WHERE o.open_key = cases.open_key AND o.status = 'responded' "
             "AND (o.initiated_at, o.responded_at, o.case_id) < (cases.initiated_at, cases.responded_at, "
             "cases.case_id))"))


# How current the lists were that answered the check (docs/failing-closed.md): {list type: ISO time}.
# The same statement in both databases; it comes after cases-0002, whose SQLite rebuild copies only
# the columns of cases-0001.
_DATA_AS_OF_MIGRATION = Migration("cases-data-as-of", (
    "ALTER TABLE cases ADD COLUMN data_as_of TEXT NOT NULL DEFAULT '{}'",
))

#: The case book's schema, oldest first. Append; never edit an applied migration.
CASE_MIGRATIONS: tuple[Migration, ...] = (
    Migration("cases-0001", (
        """CREATE TABLE cases (
               case_id           TEXT NOT NULL PRIMARY KEY,
               check_id          TEXT NOT NULL,
               status            TEXT NOT NULL
                                 CHECK (status IN ('responded', 'disposed', 'fed_back', 'rejected')),
               decision          TEXT NOT NULL,
               revision          TEXT NOT NULL,
               matter_type       TEXT NOT NULL,
               kind              TEXT NOT NULL,
               subject_id        TEXT NOT NULL,
               subject_shown_id  TEXT NOT NULL,
               subject_id_kind   TEXT NOT NULL,
               subject_name      TEXT NOT NULL,
               subject_type      TEXT NOT NULL,
               matter            TEXT NOT NULL,
               measures          TEXT NOT NULL,
               hits              TEXT NOT NULL,
               initiated_at      TEXT NOT NULL,
               responded_at      TEXT NOT NULL,
               result            TEXT CHECK (result IN ('applied', 'not_applied', 'partially_applied')),
               result_text       TEXT,
               reason            TEXT,
               description       TEXT,
               department        TEXT,
               department_code   TEXT,
               disposed_at       TEXT,
               disposed_month    TEXT,
               CHECK ((status = 'responded') = (result IS NULL)),
               CHECK (result <> 'not_applied' OR reason IS NOT NULL)
           )""",
        "CREATE INDEX cases_status ON cases (status, initiated_at)",
        "CREATE INDEX cases_initiated ON cases (initiated_at, responded_at, case_id)",
        """CREATE TABLE case_measures (
               case_id    TEXT NOT NULL REFERENCES cases (case_id),
               measure_id TEXT NOT NULL,
               kind       TEXT NOT NULL,
               PRIMARY KEY (case_id, measure_id)
           )""",
        """CREATE TABLE case_lists (
               case_id   TEXT NOT NULL REFERENCES cases (case_id),
               list_type TEXT NOT NULL,
               PRIMARY KEY (case_id, list_type)
           )""",
        """CREATE TABLE case_events (
               id          INTEGER PRIMARY KEY,
               case_id     TEXT NOT NULL,
               from_status TEXT,
               to_status   TEXT NOT NULL,
               at          TEXT NOT NULL,
               actor       TEXT NOT NULL,
               detail      TEXT NOT NULL
           )""",
        "CREATE INDEX case_events_case ON case_events (case_id, id)",
        # One row per disposed case. The payload is frozen at disposal so every resend carries the
        # same bytes under the same Idempotency-Key.
        """CREATE TABLE feedback_outbox (
               case_id          TEXT NOT NULL PRIMARY KEY REFERENCES cases (case_id),
               payload          TEXT NOT NULL,
               state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'rejected')),
               enqueued_at      REAL NOT NULL,
               attempts         INTEGER NOT NULL DEFAULT 0,
               next_attempt_at  REAL NOT NULL,
               last_attempt_at  REAL,
               last_error       TEXT,
               status_code      INTEGER,
               claimed_by       TEXT,
               claim_token      TEXT,
               claim_expires_at REAL,
               finished_at      REAL
           )""",
        "CREATE INDEX feedback_outbox_due ON feedback_outbox (state, next_attempt_at)",
    )),
    # One case per matter and withdrawal. SQLite cannot change a table's CHECK constraints, so the
    # cases table is rebuilt (no foreign key enforcement is on, so the tables referring to it keep
    # their rows and references). Then the open cases get their key (_backfill_open_keys).
    Migration("cases-0002", (
        f"""CREATE TABLE cases_0002 (
               {_CASE_COLUMNS_0001},
               open_key          TEXT,
               withdrawal_reason TEXT,
               withdrawn_at      TEXT,
               {", ".join(_CASE_CHECKS_0002)}
           )""",
        (f"INSERT INTO cases_0002 ({', '.join(_CASE_COLUMN_NAMES_0001)}) "
         f"SELECT {', '.join(_CASE_COLUMN_NAMES_0001)} FROM cases"),
        "DROP TABLE cases",
        "ALTER TABLE cases_0002 RENAME TO cases",
        "CREATE INDEX cases_status ON cases (status, initiated_at)",
        "CREATE INDEX cases_initiated ON cases (initiated_at, responded_at, case_id)",
        "CREATE INDEX cases_subject ON cases (subject_id, matter_type)",
        *_backfill_open_keys(lambda name: f"json_extract(matter, '$.{name}')"),
        "CREATE UNIQUE INDEX cases_open ON cases (open_key) WHERE status = 'responded'",
    )),
    _DATA_AS_OF_MIGRATION,
)

_CASE_INSERT_COLUMNS = ("case_id", "check_id", "status", "decision", "revision", "matter_type", "kind",
                        "subject_id", "subject_shown_id", "subject_id_kind", "subject_name",
                        "subject_type", "matter", "measures", "hits", "initiated_at", "responded_at",
                        "open_key", "data_as_of")
# The only columns a disposal may set: steps are never free-form updates.
_DISPOSAL_COLUMNS = frozenset({"result", "result_text", "reason", "description", "department",
                               "department_code", "disposed_at", "disposed_month"})
_SELECT_CASE = """SELECT c.*, o.attempts, o.last_attempt_at, o.next_attempt_at, o.last_error,
                         o.status_code, o.claimed_by, o.finished_at, o.state AS outbox_state
                  FROM cases c LEFT JOIN feedback_outbox o ON o.case_id = c.case_id"""
# The casts give PostgreSQL a type for a parameter that may be NULL; SQLite reads them as REAL.
_CLAIMABLE = """state = 'pending'
                AND (CAST(:due_by AS DOUBLE PRECISION) IS NULL OR next_attempt_at <= :due_by)
                AND (CAST(:tried_before AS DOUBLE PRECISION) IS NULL OR last_attempt_at IS NULL
                     OR last_attempt_at < :tried_before)"""
_INSERT_EVENT = ("INSERT INTO case_events (case_id, from_status, to_status, at, actor, detail) "
                 "VALUES (:case_id, :from_status, :to_status, :at, :actor, :detail)")


class _SqlCaseBackend:
    """:class:`CaseBackend` in SQL written once, with ``:name`` parameters.

    A subclass says how to read, how to write in one transaction, how its driver spells a
    parameter, and what its claim adds to lock the row it picks.
    """

    #: Appended to the claim's row selection (PostgreSQL: lock the row, skip rows others hold).
    _LOCK_PICKED_ROW = ""
    #: The expression of ``open_key`` that the unique index ``cases_open`` covers.
    _OPEN_KEY_INDEXED = "{}"
    #: Attempts to insert-or-find before giving up: a found case may be disposed or withdrawn between
    #: the refused insert and the read (PostgreSQL), after which the insert succeeds.
    _OPEN_ATTEMPTS = 5

    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _sql(self, statement: str) -> str:
        """``statement`` with its ``:name`` parameters in the driver's spelling."""
        return statement

    def _execute(self, conn: Any, statement: str, params: Mapping[str, Any]) -> Any:
        return conn.execute(self._sql(statement), params)

    def _execute_many(self, conn: Any, statement: str, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:  # a case has a handful of measures and lists
            self._execute(conn, statement, row)

    @staticmethod
    def _rows(cursor: Any) -> builtins.list[dict[str, Any]]:
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def insert_case(self, row: Mapping[str, Any], measures: Sequence[tuple[str, str]],
                    list_types: Sequence[str], event: Event) -> tuple[str, bool]:
        with self._writing() as conn:
            return self._insert_case(conn, row, measures, list_types, event)

    def insert_cases(self, cases: Sequence[NewCase]) -> builtins.list[tuple[str, bool]]:
        with self._writing() as conn:
            return [self._insert_case(conn, c.row, c.measures, c.list_types, c.event) for c in cases]

    def _insert_case(self, conn: Any, row: Mapping[str, Any], measures: Sequence[tuple[str, str]],
                     list_types: Sequence[str], event: Event) -> tuple[str, bool]:
        columns = ", ".join(_CASE_INSERT_COLUMNS)
        values = ", ".join(f":{c}" for c in _CASE_INSERT_COLUMNS)
        indexed = self._OPEN_KEY_INDEXED.format("open_key")
        insert = (f"INSERT INTO cases ({columns}) VALUES ({values}) "
                  f"ON CONFLICT ({indexed}) WHERE status = 'responded' DO NOTHING RETURNING case_id")
        holder = (f"SELECT case_id FROM cases WHERE {indexed} = "
                  f"{self._OPEN_KEY_INDEXED.format('CAST(:open_key AS TEXT)')} "
                  "AND open_key = :open_key AND status = 'responded'")
        case_id = row["case_id"]
        for _ in range(self._OPEN_ATTEMPTS):
            if self._execute(conn, insert, row).fetchone() is not None:
                break
            # The insert waited for (PostgreSQL) or came after (SQLite) the case holding the key;
            # this statement sees it committed, unless it has moved on since.
            found = self._execute(conn, holder, {"open_key": row["open_key"]}).fetchone()
            if found is not None:
                return str(found[0]), False
        else:
            raise StoreError(f"case {case_id}: the open case of its matter kept changing; try again")
        self._execute_many(conn, "INSERT INTO case_measures (case_id, measure_id, kind) "
                                 "VALUES (:case_id, :measure_id, :kind)",
                           [{"case_id": case_id, "measure_id": mid, "kind": kind} for mid, kind in measures])
        self._execute_many(conn, "INSERT INTO case_lists (case_id, list_type) VALUES (:case_id, :list_type)",
                           [{"case_id": case_id, "list_type": lt} for lt in list_types])
        self._execute(conn, _INSERT_EVENT, asdict(event))
        return case_id, True

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        with self._reading() as conn:
            rows = self._rows(self._execute(conn, f"{_SELECT_CASE} WHERE c.case_id = :case_id",
                                            {"case_id": case_id}))
        return rows[0] if rows else None

    def list_cases(self, status: str | None, subject_id: str | None = None, matter_type: str | None = None,
                   since: str | None = None) -> builtins.list[dict[str, Any]]:
        params = {"status": status, "subject_id": subject_id, "matter_type": matter_type, "since": since}
        tests = {"status": "c.status = :status", "subject_id": "c.subject_id = :subject_id",
                 "matter_type": "c.matter_type = :matter_type", "since": "c.initiated_at >= :since"}
        used = [tests[name] for name, value in params.items() if value is not None]
        where = f"WHERE {' AND '.join(used)} " if used else ""
        with self._reading() as conn:
            return self._rows(self._execute(
                conn, f"{_SELECT_CASE} {where}ORDER BY c.initiated_at, c.responded_at, c.case_id", params))

    def case_ids_from(self, prefix: str, limit: int) -> builtins.list[str]:
        with self._reading() as conn:
            rows = self._execute(conn, "SELECT case_id FROM cases WHERE case_id >= :prefix "
                                       "ORDER BY case_id LIMIT :limit", {"prefix": prefix, "limit": limit})
            return [str(r[0]) for r in rows.fetchall()]

    def check_ids(self, case_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._reading() as conn:
            for start in range(0, len(case_ids), 500):  # within every driver's parameter limit
                params = {f"c{i}": case_id for i, case_id in enumerate(case_ids[start:start + 500])}
                rows = self._execute(conn, f"SELECT case_id, check_id FROM cases WHERE case_id IN "
                                           f"({', '.join(f':{name}' for name in params)})", params)
                found.update((str(case_id), str(check_id)) for case_id, check_id in rows.fetchall())
        return found

    def withdraw(self, case_id: str, from_status: str, to_status: str, reason: str, at: str,
                 event: Event) -> bool:
        with self._writing() as conn:
            changed = self._execute(conn, "UPDATE cases SET status = :to_status, withdrawal_reason = :reason, "
                                          "withdrawn_at = :at WHERE case_id = :case_id AND status = :from_status",
                                    {"to_status": to_status, "reason": reason, "at": at, "case_id": case_id,
                                     "from_status": from_status}).rowcount
            if not changed:
                return False
            self._execute(conn, _INSERT_EVENT, asdict(event))
        return True

    def get_payload(self, case_id: str) -> str | None:
        with self._reading() as conn:
            row = self._execute(conn, "SELECT payload FROM feedback_outbox WHERE case_id = :case_id",
                                {"case_id": case_id}).fetchone()
        return None if row is None else str(row[0])

    def dispose(self, case_id: str, from_status: str, to_status: str, columns: Mapping[str, Any],
                payload: str, enqueued_at: float, event: Event) -> bool:
        unknown = set(columns) - _DISPOSAL_COLUMNS
        if unknown:
            raise ValueError(f"not disposal columns: {sorted(unknown)}")
        assignments = ", ".join(f"{c} = :{c}" for c in columns)
        params = {**columns, "case_id": case_id, "from_status": from_status, "to_status": to_status}
        with self._writing() as conn:
            changed = self._execute(conn, f"UPDATE cases SET status = :to_status, {assignments} "
                                          "WHERE case_id = :case_id AND status = :from_status", params).rowcount
            if not changed:
                return False
            self._execute(conn, "INSERT INTO feedback_outbox (case_id, payload, state, enqueued_at, "
                                "next_attempt_at) VALUES (:case_id, :payload, 'pending', :at, :at)",
                          {"case_id": case_id, "payload": payload, "at": enqueued_at})
            self._execute(conn, _INSERT_EVENT, asdict(event))
        return True

    def claim(self, owner: str, token: str, now: float, lease_until: float, due_by: float | None,
              tried_before: float | None) -> ClaimedRow | None:
        params = {"owner": owner, "token": token, "now": now, "lease_until": lease_until,
                  "due_by": due_by, "tried_before": tried_before}
        free = "(claimed_by IS NULL OR claim_expires_at <= :now)"
        with self._writing() as conn:
            # SQLite's BEGIN IMMEDIATE admits one writer at a time, so the pick and the update are
            # one step; PostgreSQL locks the picked row, and re-checks the outer guard on it.
            row = self._execute(conn,
                "UPDATE feedback_outbox SET claimed_by = :owner, claim_token = :token, "
                "claim_expires_at = :lease_until "
                f"WHERE {free} AND case_id = (SELECT case_id FROM feedback_outbox "
                f"  WHERE {_CLAIMABLE} AND {free} "
                f"  ORDER BY next_attempt_at, enqueued_at, case_id LIMIT 1{self._LOCK_PICKED_ROW}) "
                "RETURNING case_id, payload, attempts", params).fetchone()
        return None if row is None else ClaimedRow(case_id=row[0], payload=row[1], attempts=row[2])

    def live_claims(self, now: float) -> builtins.list[tuple[str, str, str]]:
        with self._reading() as conn:
            rows = self._execute(conn, "SELECT case_id, claimed_by, claim_token FROM feedback_outbox "
                                       "WHERE state = 'pending' AND claimed_by IS NOT NULL "
                                       "AND claim_expires_at > :now", {"now": now}).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def release(self, case_id: str, token: str) -> bool:
        with self._writing() as conn:
            return bool(self._execute(conn,
                "UPDATE feedback_outbox SET claimed_by = NULL, claim_token = NULL, claim_expires_at = NULL "
                "WHERE case_id = :case_id AND claim_token = :token",
                {"case_id": case_id, "token": token}).rowcount)

    def renew(self, case_id: str, token: str, lease_until: float) -> bool:
        with self._writing() as conn:
            return bool(self._execute(conn,
                "UPDATE feedback_outbox SET claim_expires_at = :lease_until "
                "WHERE case_id = :case_id AND claim_token = :token AND state = 'pending'",
                {"lease_until": lease_until, "case_id": case_id, "token": token}).rowcount)

    def record_failure(self, case_id: str, token: str, attempted_at: float, error: str,
                       next_attempt_at: float, lease_until: float | None) -> bool:
        keep = lease_until is not None
        with self._writing() as conn:
            return bool(self._execute(conn,
                "UPDATE feedback_outbox SET attempts = attempts + 1, last_attempt_at = :at, "
                "last_error = :error, next_attempt_at = :next, "
                "claimed_by = CASE WHEN :keep THEN claimed_by END, "
                "claim_token = CASE WHEN :keep THEN claim_token END, "
                "claim_expires_at = :lease_until "
                "WHERE case_id = :case_id AND claim_token = :token AND state = 'pending'",
                {"at": attempted_at, "error": error, "next": next_attempt_at, "keep": keep,
                 "lease_until": lease_until, "case_id": case_id, "token": token}).rowcount)

    def finish(self, case_id: str, from_status: str, to_status: str, outbox_state: str,
               attempted_at: float, status_code: int | None, error: str | None, event: Event) -> bool:
        with self._writing() as conn:
            # Not fenced by the claim token: an answer from the platform is a fact whoever holds the
            # claim now (a run whose lease ran out may still hear back).
            changed = self._execute(conn,
                "UPDATE feedback_outbox SET state = :state, attempts = attempts + 1, "
                "last_attempt_at = :at, status_code = :code, last_error = :error, finished_at = :at, "
                "claimed_by = NULL, claim_token = NULL, claim_expires_at = NULL "
                "WHERE case_id = :case_id AND state = 'pending'",
                {"state": outbox_state, "at": attempted_at, "code": status_code, "error": error,
                 "case_id": case_id}).rowcount
            if not changed:
                return False
            self._execute(conn, "UPDATE cases SET status = :to_status WHERE case_id = :case_id "
                                "AND status = :from_status",
                          {"to_status": to_status, "case_id": case_id, "from_status": from_status})
            self._execute(conn, _INSERT_EVENT, asdict(event))
        return True

    def count_waiting(self, tried_before: float | None) -> int:
        with self._reading() as conn:
            # Every record still to try counts, held or not: a lease that ran out after the
            # caller's last claim attempt leaves a record that the next attempt will take.
            return int(self._execute(conn, f"SELECT COUNT(*) FROM feedback_outbox WHERE {_CLAIMABLE}",
                                     {"due_by": None, "tried_before": tried_before}).fetchone()[0])

    def count_by_status(self) -> dict[str, int]:
        with self._reading() as conn:
            rows = self._execute(conn, "SELECT status, COUNT(*) FROM cases GROUP BY status", {}).fetchall()
        return {s: int(n) for s, n in rows}

    def effective_breakdowns(self, statuses: Sequence[str]) -> dict[str, dict[str, int]]:
        params = {f"s{i}": s for i, s in enumerate(statuses)}
        effective = f"c.status IN ({', '.join(f':{name}' for name in params)})"
        queries = {
            "month": f"SELECT c.disposed_month, COUNT(*) FROM cases c WHERE {effective} GROUP BY 1",
            "department": f"SELECT COALESCE(c.department, 'unspecified'), COUNT(*) FROM cases c "
                          f"WHERE {effective} GROUP BY 1",
            "result": f"SELECT c.result, COUNT(*) FROM cases c WHERE {effective} GROUP BY 1",
            "measure": f"SELECT m.measure_id, COUNT(*) FROM case_measures m "
                       f"JOIN cases c ON c.case_id = m.case_id WHERE {effective} GROUP BY 1",
            "list_type": f"SELECT l.list_type, COUNT(*) FROM case_lists l "
                         f"JOIN cases c ON c.case_id = l.case_id WHERE {effective} GROUP BY 1",
        }
        with self._reading() as conn:
            return {name: {str(k): int(n) for k, n in self._execute(conn, sql, params).fetchall()}
                    for name, sql in queries.items()}


class SqliteCaseBackend(_SqlCaseBackend):
    """:class:`CaseBackend` in a :class:`~joint_sanctions.stores.sqlite.SqliteStore`'s database.

    Shares the store's connection and lock; applies :data:`CASE_MIGRATIONS` when created.

    Raises:
        StoreError: the migrations or any later statement fail.
    """

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        store.migrate(CASE_MIGRATIONS)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._store.lock:
            try:
                yield self._store.connection
            except sqlite3.Error as exc:
                raise StoreError(f"database {self._store.path}: {exc}") from exc

    def _writing(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._store.transaction()


# PostgreSQL spells the same schema with its own types: a 64-bit serial key, double precision for
# SQLite's REAL epoch seconds, and the "C" collation on text keys so that ordering follows code
# points (as in SQLite) whatever collation the database was created with.
_POSTGRES_TYPES = ((re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGSERIAL PRIMARY KEY"),
                   (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
                   (re.compile(r"\b(case_id|initiated_at|responded_at)(\s+)TEXT\b"), r'\1\2TEXT COLLATE "C"'))

#: :data:`CASE_MIGRATIONS` in PostgreSQL's types; the same ids. From cases-0002 on, PostgreSQL
#: changes the table in place (SQLite has to rebuild it).
POSTGRES_CASE_MIGRATIONS: tuple[Migration, ...] = (
    *(Migration(m.id, tuple(functools.reduce(lambda sql, rule: rule[0].sub(rule[1], sql), _POSTGRES_TYPES, s)
                            for s in m.statements))
      for m in CASE_MIGRATIONS[:1]),
    Migration("cases-0002", (
        # cases-0001's CHECK constraints carry names PostgreSQL chose: find them rather than guess.
        """DO $$
           DECLARE found record;
           BEGIN
             FOR found IN SELECT conname FROM pg_constraint
                          WHERE conrelid = 'cases'::regclass AND contype = 'c' LOOP
               EXECUTE 'ALTER TABLE cases DROP CONSTRAINT ' || quote_ident(found.conname);
             END LOOP;
           END $$""",
        "ALTER TABLE cases ADD COLUMN open_key TEXT, ADD COLUMN withdrawal_reason TEXT, "
        "ADD COLUMN withdrawn_at TEXT, " + ", ".join(f"ADD {check}" for check in _CASE_CHECKS_0002),
        "CREATE INDEX cases_subject ON cases (subject_id, matter_type)",
        *_backfill_open_keys(lambda name: f"(matter::json ->> '{name}')"),
        # A B-tree entry has a size limit that a long item code could pass: the digest has none.
        "CREATE UNIQUE INDEX cases_open ON cases (md5(open_key)) WHERE status = 'responded'",
    )),
    _DATA_AS_OF_MIGRATION,
)

_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class PostgresCaseBackend(_SqlCaseBackend):
    """:class:`CaseBackend` in a :class:`~joint_sanctions.stores.postgres.PostgresStore`'s database.

    Uses the store's connection pool (READ COMMITTED); applies :data:`POSTGRES_CASE_MIGRATIONS`
    when created. Several processes may deliver from one database: a claim locks the record it picks
    with ``FOR UPDATE SKIP LOCKED``, so two claimants never pick the same one.

    Raises:
        StoreError: the migrations or any later statement fail.
    """

    _LOCK_PICKED_ROW = " FOR UPDATE SKIP LOCKED"
    _OPEN_KEY_INDEXED = "md5({})"

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        store.migrate(POSTGRES_CASE_MIGRATIONS)

    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        return self._store.connection()

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        return self._store.transaction()

    def _sql(self, statement: str) -> str:
        return _pyformat(statement)


@functools.lru_cache(maxsize=256)  # the statements are a small fixed set, translated once each
def _pyformat(statement: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s``."""
    return _NAMED_PARAMETER.sub(r"%(\1)s", statement)


# --- the case book --------------------------------------------------------------------------------


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _from_epoch(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def _clean(name: str, value: str | None) -> str | None:
    """Strip a free-text disposal field; blank → None; too long → DisposalError."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > _MAX_TEXT:
        raise DisposalError(f"{name} is {len(value)} characters long; at most {_MAX_TEXT} are kept / "
                            f"{name} 过长")
    return value or None


class CaseBook:
    """Opens, finds, disposes and counts cases; :attr:`outbox` serves delivery.

    Implements :class:`~joint_sanctions.check.CaseRecorder`, so an :class:`~joint_sanctions.Engine`
    opens its cases here. Get one with :func:`case_book_for`.

    Args:
        backend: where cases are stored.
        clock: returns the current time (aware); injectable for reproducible tests.
        new_id: returns fresh case ids.
        tz: time zone of the disposal month in statistics (default China Standard Time).
        region_code: the deployment's 6-digit region code put in feedback records; default
            ``JOINT_SANCTIONS_REGION``, else 410100 (read at each disposal).
    """

    def __init__(self, backend: CaseBackend, *, clock: Callable[[], dt.datetime] = _utc_now,
                 new_id: Callable[[], str] = _new_id, tz: dt.tzinfo = CST,
                 region_code: str | None = None) -> None:
        self._backend = backend
        self._clock = clock
        self._new_id = new_id
        self._tz = tz
        self._region_code = region_code
        self.outbox = Outbox(backend)

    @property
    def backend(self) -> CaseBackend:
        """Where this book's cases are stored."""
        return self._backend

    # --- 发起、响应 ---------------------------------------------------------------------------------

    def open_case(self, result: CheckResult, subject: Subject) -> str:
        """Store a new case (status ``responded``) for a check that found measures, unless the matter
        already has one.

        The matter is the subject's (normalised) id, the matter type, the item code and the
        application number, None being a value like any other. While a case of the same matter is
        ``responded``, its id is returned and nothing is stored, whichever process asks.

        Args:
            result: the check result; its measures, hits, matter and revision are kept.
            subject: the subject as checked, for its unmasked id (stored for the uplink only).

        Returns:
            The new case id, or that of the matter's responded case.

        Raises:
            CaseError: the result has no measure.
            StoreError: the database refused the write.
        """
        new = self._new_case(result, subject)
        case_id, opened = self._backend.insert_case(new.row, new.measures, new.list_types, new.event)
        self._log_open(result, subject, case_id, opened)
        return case_id

    def open_cases(self, checked: Sequence[tuple[CheckResult, Subject]]) -> builtins.list[tuple[str, bool]]:
        """:meth:`open_case` for each ``(result, subject)``, all in one transaction: either every case
        is stored (or found already open), or, when the database refuses any, none is.

        Returns:
            ``(case_id, opened)`` per pair, in order: ``opened`` is False when the matter's responded
            case was found (its id is given).

        Raises:
            CaseError: a result has no measure (nothing is stored).
            StoreError: the database refused a write (nothing is stored).
        """
        new = [self._new_case(result, subject) for result, subject in checked]
        # Inserted in key order, so that two batches naming the same matters lock them in the same
        # order and never deadlock (PostgreSQL makes a second inserter of a key wait for the first).
        order = sorted(range(len(new)), key=lambda i: new[i].row["open_key"])
        stored = self._backend.insert_cases([new[i] for i in order])
        opened: builtins.list[tuple[str, bool]] = [("", False)] * len(new)
        for i, answer in zip(order, stored, strict=True):
            opened[i] = answer
        for (result, subject), (case_id, was_opened) in zip(checked, opened, strict=True):
            self._log_open(result, subject, case_id, was_opened)
        return opened

    def _new_case(self, result: CheckResult, subject: Subject) -> NewCase:
        if not result.measures:
            raise CaseError(f"check {result.check_id} found no measure: it opens no case / 无措施，不立案")
        case = Case(case_id=self._new_id(), check_id=result.check_id, status="responded",
                    decision=result.decision, revision=result.revision, subject=result.subject,
                    subject_id=subject.id, matter=result.matter or Matter(matter_type=result.matter_type),
                    measures=result.measures, hits=result.hits, initiated_at=result.checked_at,
                    responded_at=self._clock(), data_as_of=result.data_as_of)
        case_id = case.case_id
        row = {
            "case_id": case_id, "check_id": case.check_id, "status": case.status, "decision": case.decision,
            "revision": case.revision, "matter_type": case.matter_type, "kind": case.kind,
            "subject_id": case.subject_id, "subject_shown_id": case.subject.id,
            "subject_id_kind": case.subject.id_kind, "subject_name": case.subject.name,
            "subject_type": case.subject.subject_type, "matter": case.matter.model_dump_json(),
            "measures": json.dumps([m.model_dump(mode="json") for m in case.measures], ensure_ascii=False),
            "hits": json.dumps([h.model_dump(mode="json") for h in case.hits], ensure_ascii=False),
            "initiated_at": _iso(case.initiated_at), "responded_at": _iso(case.responded_at),
            "open_key": _open_key(case.subject_id, case.matter_type, case.matter.item_code,
                                  case.matter.application_no),
            "data_as_of": json.dumps({k: v.isoformat() for k, v in case.data_as_of.items()}),
        }
        return NewCase(row, [(m.measure_id, m.kind) for m in case.measures],
                       sorted({h.list_type for h in case.list_hits}),
                       Event(case_id, None, "responded", row["responded_at"], "engine", f"check {case.check_id}"))

    @staticmethod
    def _log_open(result: CheckResult, subject: Subject, case_id: str, opened: bool) -> None:
        _log.info("case_opened" if opened else "case_already_open", case_id=case_id, check_id=result.check_id,
                  subject=identifiers.mask(subject.id), matter_type=result.matter_type,
                  decision=result.decision, measure_ids=[m.measure_id for m in result.measures])

    def withdraw(self, case_id: str, reason: str, *, at: dt.datetime | None = None) -> Case:
        """Withdraw a responded case (e.g. the application was withdrawn): it is never fed back.

        The matter then has no open case: the next check of it opens a new one.

        Args:
            case_id: the case.
            reason: why; required, kept with the case.
            at: when; default now.

        Returns:
            The case, now ``withdrawn``.

        Raises:
            CaseError: a blank or too long reason, or a time without a time zone.
            UnknownCaseError: no such case.
            TransitionError: the case is not ``responded``.
        """
        text = _clean("reason", reason)
        if not text:
            raise CaseError(f"case {case_id}: a withdrawal needs a reason / 撤回须说明理由")
        case = self.get(case_id)
        target = _target(case, "withdraw")
        when = at if at is not None else self._clock()
        if when.tzinfo is None:
            raise CaseError("the withdrawal time must carry a time zone")
        event = Event(case_id, case.status, target, _iso(when), "", text)
        if not self._backend.withdraw(case_id, case.status, target, text, _iso(when), event):
            raise _refusal(self.get(case_id), "withdraw")
        _log.info("case_withdrawn", case_id=case_id, reason=identifiers.mask_text(text))
        return self.get(case_id)

    # --- reading ------------------------------------------------------------------------------------

    def get(self, case_id: str) -> Case:
        """The case with this id.

        Raises:
            UnknownCaseError: no such case.
        """
        row = self._backend.get_case(case_id)
        if row is None:
            raise UnknownCaseError(case_id)
        return _to_case(row)

    def resolve(self, case_id: str) -> str:
        """The full id of the case that ``case_id`` names: the id itself, or a unique prefix of at
        least :data:`MIN_PREFIX` characters.

        Raises:
            AmbiguousCaseError: several cases start with it (the first few are named).
            UnknownCaseError: no case starts with it, or it is no full id and too short to be a prefix.
        """
        try:
            case_id.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes on a command line: no id looks like that
            raise UnknownCaseError(case_id) from None
        if self._backend.get_case(case_id) is not None:
            return case_id
        if len(case_id) < MIN_PREFIX:
            raise UnknownCaseError(case_id, (f"; a prefix of a case id needs at least {MIN_PREFIX} characters",
                                             f"（案例编号前缀至少 {MIN_PREFIX} 个字符）"))
        # Ids starting with the prefix come first among those >= it, in code-point order.
        matches = [c for c in self._backend.case_ids_from(case_id, _PREFIX_MATCHES_SHOWN + 1)
                   if c.startswith(case_id)]
        if not matches:
            raise UnknownCaseError(case_id)
        if len(matches) > 1:
            shown = matches[:_PREFIX_MATCHES_SHOWN] + (["…"] if len(matches) > _PREFIX_MATCHES_SHOWN else [])
            raise AmbiguousCaseError(case_id, tuple(shown))
        return matches[0]

    def list(self, status: str | None = None, *, subject: str | None = None, matter_type: str | None = None,
             since: dt.date | dt.datetime | None = None) -> builtins.list[Case]:
        """Cases, oldest first; each filter given narrows them.

        Args:
            status: only cases in this status.
            subject: only cases of this subject (USCC or resident id; normalised first).
            matter_type: only cases of this matter type.
            since: only cases initiated at or after this time; a date means its first moment in
                the book's time zone (China Standard Time by default).

        Raises:
            CaseError: ``status`` is not one of :data:`CASE_STATUSES`, or ``since`` is a time without
                a time zone.
            IdentifierError: ``subject`` is not a valid id.
        """
        if status is not None and status not in CASE_STATUSES:
            raise CaseError(f"unknown case status {identifiers.mask_text(status)!r} "
                            f"(known: {', '.join(CASE_STATUSES)})")
        subject_id = identifiers.parse_identifier(subject)[0] if subject is not None else None
        start = None
        if isinstance(since, dt.datetime):
            if since.tzinfo is None:
                raise CaseError("the 'since' time must carry a time zone")
            start = _iso(since)
        elif since is not None:
            start = _iso(dt.datetime.combine(since, dt.time(), self._tz))
        return [_to_case(row) for row in self._backend.list_cases(status, subject_id, matter_type, start)]

    def check_ids(self, case_ids: Sequence[str]) -> dict[str, str]:
        """The check that opened each of these cases, by case id (unknown ids left out).

        A check whose result carries a case that another check opened found its matter's case open.
        """
        return self._backend.check_ids(case_ids)

    def pending_count(self) -> int:
        """Cases disposed and neither delivered nor rejected."""
        return self._backend.count_by_status().get("disposed", 0)

    def feedback(self, case_id: str) -> FeedbackV1:
        """The feedback record as it was queued at disposal (what is sent, byte for byte).

        Raises:
            UnknownCaseError: no such case.
            TransitionError: the case is not disposed yet.
        """
        payload = self._backend.get_payload(case_id)
        if payload is None:
            case = self.get(case_id)
            raise TransitionError(case_id, case.status, "show feedback for", "it is not disposed yet")
        return FeedbackV1.model_validate_json(payload)

    def _region(self) -> str:
        return self._region_code if self._region_code is not None else region_code_from_env()

    # --- 处置 -----------------------------------------------------------------------------------------

    def dispose(self, case_id: str, result: str, *, text: str | None = None, reason: str | None = None,
                department: str | None = None, department_code: str | None = None,
                description: str | None = None, at: dt.datetime | None = None) -> Case:
        """Record what the handling department did (处置) and queue the feedback record.

        Args:
            case_id: the case.
            result: ``applied``, ``not_applied`` or ``partially_applied``.
            text: what was done, in the department's words (result_text).
            reason: why a measure was not (fully) applied; required for ``not_applied``.
            department, department_code: the handling department; default those the host passed
                to the check.
            description: anything else the platform should know.
            at: when; default now.

        Returns:
            The case, now ``disposed``, its feedback record waiting in the outbox.

        Raises:
            DisposalError: unknown result, ``not_applied`` without a reason, a text too long.
            UnknownCaseError: no such case.
            TransitionError: the case is already disposed (or delivered, or rejected).
            CaseError: the region code is not six digits.
        """
        if result not in DISPOSAL_RESULTS:
            raise DisposalError(f"unknown disposal result {identifiers.mask_text(str(result))!r} "
                                f"(expected one of {', '.join(DISPOSAL_RESULTS)}) / 处置结果无效")
        fields = {"text": _clean("text", text), "reason": _clean("reason", reason),
                  "description": _clean("description", description),
                  "department": _clean("department", department),
                  "department_code": _clean("department_code", department_code)}
        if result == "not_applied" and not fields["reason"]:
            raise DisposalError(f"case {case_id}: a not_applied disposal needs a reason / "
                                "未实施须说明理由")
        case = self.get(case_id)
        target = _target(case, "dispose")
        when = at if at is not None else self._clock()
        if when.tzinfo is None:
            raise DisposalError("the disposal time must carry a time zone")
        disposal = Disposal(result=result,  # type: ignore[arg-type]  # checked against DISPOSAL_RESULTS
                            text=fields["text"], reason=fields["reason"], description=fields["description"],
                            department=fields["department"] or case.matter.department,
                            department_code=fields["department_code"] or case.matter.department_code,
                            disposed_at=when)
        disposed = case.model_copy(update={"status": target, "disposal": disposal})
        payload = build_feedback(disposed, region_code=self._region()).model_dump_json()
        columns = {"result": disposal.result, "result_text": disposal.text, "reason": disposal.reason,
                   "description": disposal.description, "department": disposal.department,
                   "department_code": disposal.department_code, "disposed_at": _iso(when),
                   "disposed_month": when.astimezone(self._tz).strftime("%Y-%m")}
        event = Event(case_id, case.status, target, _iso(when), disposal.department or "", result)
        if not self._backend.dispose(case_id, case.status, target, columns, payload, time.time(), event):
            # Someone else moved the case between our read and our write: report what it is now.
            raise _refusal(self.get(case_id), "dispose")
        _log.info("case_disposed", case_id=case_id, result=result, department=_masked(disposal.department))
        return self.get(case_id)

    # --- statistics ---------------------------------------------------------------------------------

    def stats(self) -> CaseStats:
        """Counts of the closed loop (see :class:`CaseStats`)."""
        by_status = self._backend.count_by_status()
        groups = self._backend.effective_breakdowns(EFFECTIVE_STATUSES)

        def ordered(counts: dict[str, int]) -> dict[str, int]:
            return dict(sorted(counts.items()))

        return CaseStats(
            opened=sum(by_status.values()),
            awaiting_disposal=by_status.get("responded", 0),
            effective=sum(by_status.get(s, 0) for s in EFFECTIVE_STATUSES),
            pending=by_status.get("disposed", 0),
            delivered=by_status.get("fed_back", 0),
            rejected=by_status.get("rejected", 0),
            withdrawn=by_status.get("withdrawn", 0),
            by_month=ordered(groups["month"]),
            by_measure=ordered(groups["measure"]),
            by_department=ordered(_masked_keys(groups["department"])),
            by_list_type=ordered(groups["list_type"]),
            by_result=ordered(groups["result"]),
        )


def _target(case: Case, action: str) -> CaseStatus:
    target = TRANSITIONS.get((case.status, action))
    if target is None:
        raise _refusal(case, action)
    return target


def _refusal(case: Case, action: str) -> TransitionError:
    detail = ""
    if case.disposal is not None and action == "dispose":
        detail = f"disposed {case.disposal.result} at {case.disposal.disposed_at.isoformat()}"
    return TransitionError(case.case_id, case.status, action, detail)


def _to_case(row: Mapping[str, Any]) -> Case:
    disposal = None
    if row["result"] is not None:
        disposal = Disposal(result=row["result"], text=row["result_text"], reason=row["reason"],
                            description=row["description"], department=row["department"],
                            department_code=row["department_code"],
                            disposed_at=dt.datetime.fromisoformat(row["disposed_at"]))
    delivery = None
    if row["outbox_state"] is not None:
        delivery = Delivery(attempts=row["attempts"], last_attempt_at=_from_epoch(row["last_attempt_at"]),
                            next_attempt_at=_from_epoch(row["next_attempt_at"]) if row["outbox_state"] == "pending"
                            else None,
                            last_error=row["last_error"], status_code=row["status_code"],
                            claimed_by=row["claimed_by"], finished_at=_from_epoch(row["finished_at"]))
    return Case(
        case_id=row["case_id"], check_id=row["check_id"], status=row["status"], decision=row["decision"],
        revision=row["revision"],
        subject=SubjectRef(id=row["subject_shown_id"], id_kind=row["subject_id_kind"],
                           name=row["subject_name"], subject_type=row["subject_type"]),
        subject_id=row["subject_id"],
        matter=Matter.model_validate_json(row["matter"]),
        measures=tuple(AppliedMeasure.model_validate(m) for m in json.loads(row["measures"])),
        hits=tuple(Hit.model_validate(h) for h in json.loads(row["hits"])),
        initiated_at=dt.datetime.fromisoformat(row["initiated_at"]),
        responded_at=dt.datetime.fromisoformat(row["responded_at"]),
        disposal=disposal, delivery=delivery,
        withdrawal=None if row["withdrawn_at"] is None else Withdrawal(
            reason=row["withdrawal_reason"], withdrawn_at=dt.datetime.fromisoformat(row["withdrawn_at"])),
        data_as_of={k: dt.datetime.fromisoformat(v) for k, v in json.loads(row["data_as_of"]).items()},
    )


# --- the outbox -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A pending feedback record claimed for sending.

    Attributes:
        case_id: the case, also the Idempotency-Key.
        body: the exact bytes to send (frozen at disposal).
        attempts: attempts made before this claim.
        token: proves the claim is still ours when the outcome is recorded.
        owner: ``host:pid`` of the claimer.
    """

    case_id: str
    body: bytes
    attempts: int
    token: str
    owner: str


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # no safe probe here (os.kill would terminate it): wait for the lease instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


class Outbox:
    """Claims and outcomes of feedback records; used by :func:`joint_sanctions.delivery.deliver`.

    Times are epoch seconds from ``now`` (wall clock: leases are compared across processes).

    Args:
        backend: the case backend.
        now: the wall clock.
        host: this host's name, the first half of ``claimed_by``.
    """

    def __init__(self, backend: CaseBackend, *, now: Callable[[], float] = time.time,
                 host: str | None = None) -> None:
        self._backend = backend
        self._now = now
        self._host = host or socket.gethostname()

    def now(self) -> float:
        """The outbox's clock: epoch seconds."""
        return self._now()

    @property
    def owner(self) -> str:
        """``host:pid`` of this process (read each time: a forked child is another owner)."""
        return f"{self._host}:{os.getpid()}"

    def claim(self, *, lease: float = DEFAULT_LEASE, due_only: bool = False,
              tried_before: float | None = None) -> Claim | None:
        """Claim the next pending record that no live claim holds.

        Args:
            lease: seconds the claim holds without renewal.
            due_only: skip records scheduled for later (a long-running sender); a one-off run
                tries every pending record now.
            tried_before: skip records attempted at or after this time (a run passes its start, so
                it tries each record once).

        Returns:
            The claim, or None when nothing is claimable now.
        """
        now = self._now()
        token = uuid.uuid4().hex
        row = self._backend.claim(self.owner, token, now, now + lease, now if due_only else None, tried_before)
        if row is None:
            return None
        return Claim(case_id=row.case_id, body=row.payload.encode("utf-8"), attempts=row.attempts,
                     token=token, owner=self.owner)

    def take_over_dead(self) -> int:
        """Free the claims of this host's processes that are gone, so they can be claimed at once.

        Returns:
            How many claims were freed.
        """
        freed = 0
        for case_id, holder, token in self._backend.live_claims(self._now()):
            host, _, pid = holder.rpartition(":")
            if host != self._host or not pid.isdigit() or _pid_alive(int(pid)):
                continue
            if self._backend.release(case_id, token):
                freed += 1
                _log.warning("claim_taken_over", case_id=case_id, holder=holder)
        return freed

    def renew(self, claim: Claim, lease: float = DEFAULT_LEASE) -> bool:
        """Extend the lease; False when the claim was lost (taken over after expiry, or finished)."""
        return self._backend.renew(claim.case_id, claim.token, self._now() + lease)

    def record_failure(self, claim: Claim, error: str, *, retry_at: float,
                       keep_for: float | None = None) -> None:
        """Count a failed attempt and schedule the next one.

        Args:
            claim: the claim.
            error: what went wrong (masked before it is stored).
            retry_at: epoch seconds of the next attempt for a long-running sender.
            keep_for: keep the claim this many seconds more (retrying within the run); None
                releases it.
        """
        now = self._now()
        self._backend.record_failure(claim.case_id, claim.token, now, identifiers.mask_text(error)[:500],
                                     retry_at, None if keep_for is None else now + keep_for)

    def release(self, claim: Claim) -> None:
        """Give the claim up without counting an attempt (e.g. the run was interrupted)."""
        self._backend.release(claim.case_id, claim.token)

    def mark_delivered(self, claim: Claim, status_code: int | None = None) -> bool:
        """The platform has the record: the case becomes ``fed_back``.

        Returns:
            False when the record was already finished (by another run that heard back first).
        """
        return self._finish(claim, "deliver", "delivered", status_code, None)

    def mark_rejected(self, claim: Claim, reason: str, status_code: int | None = None) -> bool:
        """The platform refused the record: the case becomes ``rejected`` and stays visible.

        Returns:
            False when the record was already finished.
        """
        return self._finish(claim, "reject", "rejected", status_code, identifiers.mask_text(reason)[:500])

    def _finish(self, claim: Claim, action: str, state: str, status_code: int | None,
                error: str | None) -> bool:
        target = TRANSITIONS[("disposed", action)]
        now = self._now()
        event = Event(claim.case_id, "disposed", target,
                      dt.datetime.fromtimestamp(now, dt.UTC).isoformat(), claim.owner,
                      f"HTTP {status_code}" if status_code is not None else "")
        return self._backend.finish(claim.case_id, "disposed", target, state, now, status_code, error, event)

    def waiting_on_others(self, tried_before: float | None = None) -> int:
        """Pending records still to try (not attempted since ``tried_before``), whether another run's
        live claim holds them or they are free again: a one-off run waits until this is 0."""
        return self._backend.count_waiting(tried_before)


# --- finding the case book of a store -------------------------------------------------------------

# A MemoryStore's cases live in a private in-memory SQLite database, one per store, so that every
# engine and caller over the same store sees the same cases.
_memory_books: weakref.WeakKeyDictionary[Any, SqliteStore] = weakref.WeakKeyDictionary()


def case_book_for(store: Any, *, clock: Callable[[], dt.datetime] = _utc_now,
                  new_id: Callable[[], str] = _new_id, tz: dt.tzinfo = CST,
                  region_code: str | None = None) -> CaseBook:
    """The case book kept in ``store``'s database.

    Args:
        store: a :class:`~joint_sanctions.stores.sqlite.SqliteStore` (cases in the same file), a
            :class:`~joint_sanctions.stores.postgres.PostgresStore` (cases in the same database) or a
            :class:`~joint_sanctions.testing.MemoryStore` (cases in memory, for tests and examples).
        clock, new_id, tz, region_code: see :class:`CaseBook`.

    Raises:
        StoreError: the store has no case book implementation, or its migrations fail.
    """
    from .testing import MemoryStore  # testing imports nothing from here; keeps the fakes optional

    backend: CaseBackend
    if isinstance(store, SqliteStore):
        backend = SqliteCaseBackend(store)
    elif (postgres := postgres_store_type()) is not None and isinstance(store, postgres):
        backend = PostgresCaseBackend(store)
    elif isinstance(store, MemoryStore):
        database = _memory_books.get(store)
        if database is None:
            database = _memory_books.setdefault(store, SqliteStore(":memory:"))
        backend = SqliteCaseBackend(database)
    else:
        raise StoreError(f"no case book for {type(store).__name__}: pass Engine(cases=False) or a "
                         "CaseRecorder of your own")
    return CaseBook(backend, clock=clock, new_id=new_id, tz=tz, region_code=region_code)
