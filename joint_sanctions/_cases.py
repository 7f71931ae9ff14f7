"""The closed loop (发起 → 响应 → 处置 → 反馈): cases, disposal, the feedback outbox, statistics.

A check at the current time that finds at least one measure opens a case (发起 and 响应 at once:
status ``responded``). The handling department records its disposal (处置: ``disposed``), which puts
the case's v1 feedback record in the outbox in the same transaction. A delivery run
(:mod:`joint_sanctions._delivery`) claims each pending record, sends it and marks the case ``fed_back``
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

Layout. This module holds the case book and :func:`case_book_for`, and re-exports the public names of
the stages beside it: :mod:`~joint_sanctions._case_model` (statuses, transitions, the case, statistics,
the :class:`CaseBackend` protocol, and :class:`~joint_sanctions._case_model.CaseOpener`, which the
engine records cases with) and :mod:`~joint_sanctions._outbox` (claims and leases). Those import the
model only.

Storage. :class:`CaseBook` and :class:`Outbox` hold the logic; every SQL statement is written once, in
:class:`~joint_sanctions.stores._case_tables.SqlCaseBackend`, behind the small :class:`CaseBackend`
protocol. The tables sit in the record store's own database: each store provides its case backend
(``store.case_backend()``; the test kit's ``MemoryStore`` keeps one in memory), and the dialect of
its database says what SQLite and PostgreSQL spell differently.

Claims. ``claimed_by`` is ``host:pid`` and a claim carries a lease (60 s by default) and a random
token; a claim whose lease has run out is free. A claim held by a process of this host whose pid is
gone is taken over at once (:meth:`Outbox.take_over_dead`). Where containers share a host name but
not a pid namespace, set distinct host names: a live holder there would look dead.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _identifiers as identifiers
from ._case_model import (
    _MAX_TEXT,
    _PREFIX_MATCHES_SHOWN,
    CASE_STATUSES,
    DISPOSAL_RESULTS,
    EFFECTIVE_STATUSES,
    MIN_PREFIX,
    TRANSITIONS,
    Case,
    CaseBackend,
    CaseOpener,
    CaseStats,
    CaseStatus,
    Delivery,
    Disposal,
    Event,
    Withdrawal,
    _masked,
    _masked_keys,
    case_backend_of,
    iso,
    new_case_id,
    utc_now,
)
from ._errors import (
    AmbiguousCaseError,
    CaseError,
    DisposalError,
    TransitionError,
    UnknownCaseError,
)
from ._feedback import FeedbackV1, build_feedback, region_code_from_env
from ._logging import get_logger
from ._models import CST, AppliedMeasure, CheckResult, Hit, Matter, Subject, SubjectRef
from ._outbox import Claim, Outbox

__all__ = [
    "CASE_STATUSES",
    "DISPOSAL_RESULTS",
    "MIN_PREFIX",
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
    "Withdrawal",
    "case_book_for",
]

_log = get_logger()


# --- the case book --------------------------------------------------------------------------------


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

    Implements :class:`~joint_sanctions._check.CaseRecorder`, so an :class:`~joint_sanctions.Engine`
    opens its cases here. Get one with :func:`case_book_for`.

    Args:
        backend: where cases are stored.
        clock: returns the current time (aware); injectable for reproducible tests.
        new_id: returns fresh case ids.
        tz: time zone of the disposal month in statistics (default China Standard Time).
        region_code: the deployment's 6-digit region code put in feedback records; default
            ``JOINT_SANCTIONS_REGION``, else 410100 (read at each disposal).
    """

    def __init__(self, backend: CaseBackend, *, clock: Callable[[], dt.datetime] = utc_now,
                 new_id: Callable[[], str] = new_case_id, tz: dt.tzinfo = CST,
                 region_code: str | None = None) -> None:
        self._backend = backend
        self._clock = clock
        self._tz = tz
        self._region_code = region_code
        self._opener = CaseOpener(backend, clock=clock, new_id=new_id)
        self.outbox = Outbox(backend)

    @property
    def backend(self) -> CaseBackend:
        """Where this book's cases are stored."""
        return self._backend

    # --- 发起、响应 ---------------------------------------------------------------------------------

    def open_case(self, result: CheckResult, subject: Subject, *, caller: str | None = None) -> str:
        """Store a new case (status ``responded``) for a check that found measures, unless the matter
        already has one.

        The matter is the subject's (normalised) id, the matter type, the item code and the
        application number, None being a value like any other. While a case of the same matter is
        ``responded``, its id is returned and nothing is stored, whichever process asks.

        Args:
            result: the check result; its measures, hits, matter and revision are kept.
            subject: the subject as checked, for its unmasked id (stored for the uplink only).
            caller: who asked for the check (an HTTP key's name), kept with the case.

        Returns:
            The new case id, or that of the matter's responded case.

        Raises:
            CaseError: the result has no measure.
            StoreError: the database refused the write.
        """
        return self._opener.open_case(result, subject, caller=caller)

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
        return self._opener.open_cases(checked)

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
        event = Event(case_id, case.status, target, iso(when), "", text)
        if not self._backend.withdraw(case_id, case.status, target, text, iso(when), event):
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
        if "\x00" in case_id:  # no id holds NUL, and PostgreSQL refuses it in a parameter
            raise UnknownCaseError(case_id)
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
            start = iso(since)
        elif since is not None:
            start = iso(dt.datetime.combine(since, dt.time(), self._tz))
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
                   "department_code": disposal.department_code, "disposed_at": iso(when),
                   "disposed_month": when.astimezone(self._tz).strftime("%Y-%m")}
        event = Event(case_id, case.status, target, iso(when), disposal.department or "", result)
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
        caller=row.get("caller"),
    )


# --- finding the case book of a store -------------------------------------------------------------


def case_book_for(store: Any, *, clock: Callable[[], dt.datetime] = utc_now,
                  new_id: Callable[[], str] = new_case_id, tz: dt.tzinfo = CST,
                  region_code: str | None = None) -> CaseBook:
    """The case book kept in ``store``'s database (the store's ``case_backend()``).

    Args:
        store: a :class:`~joint_sanctions.stores.SqliteStore` (cases in the same file), a
            :class:`~joint_sanctions.stores.PostgresStore` (cases in the same database), a
            :class:`~joint_sanctions.testing.MemoryStore` (cases in memory, for tests and examples), or
            any store with a ``case_backend()`` method.
        clock, new_id, tz, region_code: see :class:`CaseBook`.

    Raises:
        StoreError: the store keeps no cases, or its migrations fail.
    """
    return CaseBook(case_backend_of(store), clock=clock, new_id=new_id, tz=tz, region_code=region_code)
