"""The case model of the closed loop (:mod:`joint_sanctions._cases`): statuses and transitions, the
case and its parts, statistics, the storage interface (:class:`CaseBackend`, which every store that
keeps cases provides: ``store.case_backend()``), and :class:`CaseOpener`, which turns a check result
into a stored case: the engine's case recorder, below the case book and the loop stages."""

from __future__ import annotations

import builtins
import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from . import _identifiers as identifiers
from . import vocabulary
from ._base import FROZEN as _FROZEN
from ._errors import CaseError, StoreError
from ._logging import get_logger
from ._models import AppliedMeasure, CheckResult, Decision, Hit, Kind, Matter, Subject, SubjectRef, iso_time

_log = get_logger()

DisposalResult = Literal["applied", "not_applied", "partially_applied"]
CaseStatus = Literal["responded", "disposed", "fed_back", "rejected", "withdrawn"]

CASE_STATUSES: Mapping[str, str] = MappingProxyType(vocabulary.CASE_STATUSES)
DISPOSAL_RESULTS: Mapping[str, str] = MappingProxyType(vocabulary.DISPOSAL_RESULTS)

#: (status, action) → new status. Anything not in this table is refused.
TRANSITIONS: Mapping[tuple[str, str], CaseStatus] = MappingProxyType({
    ("responded", "dispose"): "disposed",
    ("responded", "withdraw"): "withdrawn",
    ("disposed", "deliver"): "fed_back",
    ("disposed", "reject"): "rejected",
})

#: Statuses of cases whose disposal is recorded: the "effective cases" that statistics count.
EFFECTIVE_STATUSES: tuple[CaseStatus, ...] = ("disposed", "fed_back", "rejected")

DEFAULT_LEASE = 60.0
_MAX_TEXT = 2000  # disposal texts are notes, not documents; longer input is most likely a mistake
#: A case id may be abbreviated to a unique prefix of at least this many characters.
MIN_PREFIX = 8
_PREFIX_MATCHES_SHOWN = 10


# --- the case model -------------------------------------------------------------------------------

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
    #: Who asked for the check that opened the case (an HTTP key's name); None for the library and CLI.
    caller: str | None = None

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
            "caller": self.caller,
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


# --- opening cases (发起、响应) ----------------------------------------------------------------------


def case_backend_of(store: object) -> CaseBackend:
    """The case tables kept in ``store``'s database (``store.case_backend()``).

    Raises:
        StoreError: the store keeps no cases, or its case tables cannot be created.
    """
    provide: Callable[[], CaseBackend] | None = getattr(store, "case_backend", None)
    if provide is None:
        raise StoreError(f"no case book for {type(store).__name__}: pass Engine(cases=False) or a "
                         "CaseRecorder of your own")
    return provide()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_case_id() -> str:
    return uuid.uuid4().hex


def iso(value: dt.datetime) -> str:
    """A case time as stored: ISO-8601 in UTC."""
    return value.astimezone(dt.UTC).isoformat()


def open_key(subject_id: str, matter_type: str, item_code: str | None, application_no: str | None) -> str:
    """What makes two checks the same matter: ``subject|matter|item|application``.

    Item code and application number are written length-first (``-`` for None), so that no two
    different quadruples give one key and None differs from every text, the empty one included.
    The case tables' migration cases-0002 computes the same text in SQL.
    """
    def part(value: str | None) -> str:
        return "-" if value is None else f"{len(value)}:{value}"

    return f"{subject_id}|{matter_type}|{part(item_code)}|{part(application_no)}"


class CaseRecorder(Protocol):
    """Where the closed loop opens a case (发起、响应) for a check that found measures."""

    def open_case(self, result: CheckResult, subject: Subject) -> str:
        """Store a new case for ``result`` (``subject`` unmasked, for the uplink); return its case id.
        A recorder that also takes ``caller=`` (the case book's does) is given the check's caller."""
        ...


def record_case(recorder: CaseRecorder, result: CheckResult, subject: Subject, caller: str | None) -> CheckResult:
    """``result`` with the id of the case ``recorder`` opened for it, ``caller`` (who asked) passed on
    only when there is one: a recorder of the host's own may not take it."""
    case_id = (recorder.open_case(result, subject) if caller is None
               else recorder.open_case(result, subject, caller=caller))  # type: ignore[call-arg]
    return result.model_copy(update={"case_id": case_id})


class CaseOpener:
    """Opens cases (发起、响应: status ``responded``) for checks that found measures, one per matter.

    Implements :class:`CaseRecorder`: the engine's default recorder, over the
    case backend of its store; the case book opens its cases through one too.

    Args:
        backend: where cases are stored.
        clock: returns the current time (aware), the time of the response.
        new_id: returns fresh case ids.
    """

    def __init__(self, backend: CaseBackend, *, clock: Callable[[], dt.datetime] = utc_now,
                 new_id: Callable[[], str] = new_case_id) -> None:
        self._backend = backend
        self._clock = clock
        self._new_id = new_id

    def open_case(self, result: CheckResult, subject: Subject, *, caller: str | None = None) -> str:
        """See :meth:`joint_sanctions._cases.CaseBook.open_case`."""
        new = self._new_case(result, subject, caller)
        case_id, opened = self._backend.insert_case(new.row, new.measures, new.list_types, new.event)
        _log_open(result, subject, case_id, opened)
        return case_id

    def open_cases(self, checked: Sequence[tuple[CheckResult, Subject]]) -> builtins.list[tuple[str, bool]]:
        """See :meth:`joint_sanctions._cases.CaseBook.open_cases`."""
        new = [self._new_case(result, subject) for result, subject in checked]
        # Inserted in key order, so that two batches naming the same matters lock them in the same
        # order and never deadlock (PostgreSQL makes a second inserter of a key wait for the first).
        order = sorted(range(len(new)), key=lambda i: new[i].row["open_key"])
        stored = self._backend.insert_cases([new[i] for i in order])
        opened: builtins.list[tuple[str, bool]] = [("", False)] * len(new)
        for i, answer in zip(order, stored, strict=True):
            opened[i] = answer
        for (result, subject), (case_id, was_opened) in zip(checked, opened, strict=True):
            _log_open(result, subject, case_id, was_opened)
        return opened

    def _new_case(self, result: CheckResult, subject: Subject, caller: str | None = None) -> NewCase:
        if not result.measures:
            raise CaseError(f"check {result.check_id} found no measure: it opens no case / 无措施，不立案")
        case = Case(case_id=self._new_id(), check_id=result.check_id, status="responded",
                    decision=result.decision, revision=result.revision, subject=result.subject,
                    subject_id=subject.id, matter=result.matter or Matter(matter_type=result.matter_type),
                    measures=result.measures, hits=result.hits, initiated_at=result.checked_at,
                    responded_at=self._clock(), data_as_of=result.data_as_of, caller=caller)
        case_id = case.case_id
        row: dict[str, Any] = {
            "case_id": case_id, "check_id": case.check_id, "status": case.status, "decision": case.decision,
            "revision": case.revision, "matter_type": case.matter_type, "kind": case.kind,
            "subject_id": case.subject_id, "subject_shown_id": case.subject.id,
            "subject_id_kind": case.subject.id_kind, "subject_name": case.subject.name,
            "subject_type": case.subject.subject_type, "matter": case.matter.model_dump_json(),
            "measures": json.dumps([m.model_dump(mode="json") for m in case.measures], ensure_ascii=False),
            "hits": json.dumps([h.model_dump(mode="json") for h in case.hits], ensure_ascii=False),
            "initiated_at": iso(case.initiated_at), "responded_at": iso(case.responded_at),
            "open_key": open_key(case.subject_id, case.matter_type, case.matter.item_code,
                                 case.matter.application_no),
            "data_as_of": json.dumps({k: v.isoformat() for k, v in case.data_as_of.items()}),
            "caller": caller,
        }
        return NewCase(row, [(m.measure_id, m.kind) for m in case.measures],
                       sorted({h.list_type for h in case.list_hits}),
                       Event(case_id, None, "responded", row["responded_at"], "engine", f"check {case.check_id}"))


def _log_open(result: CheckResult, subject: Subject, case_id: str, opened: bool) -> None:
    _log.info("case_opened" if opened else "case_already_open", case_id=case_id, check_id=result.check_id,
              subject=identifiers.mask(subject.id), matter_type=result.matter_type,
              decision=result.decision, measure_ids=[m.measure_id for m in result.measures])
