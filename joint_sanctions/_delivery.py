"""Delivery of case feedback (反馈): sinks, and the loop that empties the outbox.

::

    deliver(book, sink) ──claim──▶ sink.send(case_id, body) ──▶ delivered → case fed_back
                                                             ├─▶ rejected  → case rejected (kept, visible)
                                                             └─▶ retryable → tried again (backoff + jitter)

Delivery is at-least-once with ``case_id`` as the idempotency key: a record is claimed before it is
sent and marked only after the platform answered, so a crash at any point leaves it pending and the
next run sends it again (the platform answers a resend with 409, which counts as delivered).

Sinks plug in behind :class:`FeedbackSink`: :class:`HttpSink` (one POST per record, bounded in time
and size; :mod:`~joint_sanctions._http_sink`) and :class:`JsonlFileSink` (a file drop;
:mod:`~joint_sanctions._sinks`); :class:`joint_sanctions.testing.RecordingSink` for tests. Each
maps its library's exceptions to :class:`~joint_sanctions._errors.DeliveryError` subclasses in one
place (:func:`translate_http_error`, ``JsonlFileSink.send``). This module is the loop; the sinks are
re-exported from it, so the whole delivery stage is imported from here.

A retry within a run never outlives the record's budget: the loop sets the deadline the HTTP sink
honours around each retry.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from dataclasses import dataclass, field

from ._case_model import DEFAULT_LEASE
from ._cases import CaseBook, Claim
from ._errors import DeliveryError, RejectedDeliveryError, RetryableDeliveryError
from ._http_sink import (
    _RECORD_DEADLINE,
    MAX_RESPONSE_BODY,
    HttpSink,
    plain_http_warning,
    translate_http_error,
)
from ._logging import get_logger
from ._sinks import (
    SIGNATURE_HEADER,
    UPLINK_KEY_ENV,
    FeedbackSink,
    JsonlFileSink,
    sign_body,
    uplink_key,
    verify_signature,
)

__all__ = [
    "IN_RUN_BACKOFF",
    "MAX_RESPONSE_BODY",
    "SCHEDULED_BACKOFF",
    "SIGNATURE_HEADER",
    "UPLINK_KEY_ENV",
    "Backoff",
    "DeliveryReport",
    "FeedbackSink",
    "HttpSink",
    "JsonlFileSink",
    "deliver",
    "plain_http_warning",
    "sign_body",
    "translate_http_error",
    "uplink_key",
    "verify_signature",
]

_log = get_logger()


# --- the delivery loop ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of ``base·factorⁿ``
    (capped), so that senders that failed together do not retry together."""

    base: float
    cap: float
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempt``-th failure (0-based)."""
        ceiling = min(self.cap, self.base * self.factor ** min(attempt, 64))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


#: Between attempts within one run (the run gives a record about 10 s in all).
IN_RUN_BACKOFF = Backoff(base=0.2, cap=2.0)
#: The stored schedule a long-running sender follows after a run's attempts failed.
SCHEDULED_BACKOFF = Backoff(base=30.0, cap=3600.0)


@dataclass
class DeliveryReport:
    """What one :func:`deliver` call did.

    Attributes:
        delivered: case ids the platform now has.
        rejected: ``(case_id, reason)`` of records the platform refused in this run.
        left_pending: case ids still pending after this run's attempts.
        attempts: sends tried.
        taken_over: claims of dead processes freed by this run.
        pending_after: cases pending in the whole outbox when the run ended.
    """

    delivered: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    left_pending: list[str] = field(default_factory=list)
    attempts: int = 0
    taken_over: int = 0
    pending_after: int = 0

    @property
    def ok(self) -> bool:
        """Nothing was rejected in this run and nothing is left pending."""
        return not self.rejected and self.pending_after == 0


def deliver(book: CaseBook, sink: FeedbackSink, *, forever: bool = False, retry_for: float = 10.0,
            lease: float = DEFAULT_LEASE, workers: int = 1, poll_interval: float | None = None,
            stop: threading.Event | None = None, in_run_backoff: Backoff = IN_RUN_BACKOFF,
            scheduled_backoff: Backoff = SCHEDULED_BACKOFF, rng: random.Random | None = None) -> DeliveryReport:
    """Send pending feedback records through ``sink``.

    A one-off run (the default, ``cases feedback``) tries every pending record now, whatever its
    stored schedule, retrying 5xx and timeouts with backoff and jitter for about ``retry_for``
    seconds per record; it waits for records that other live runs hold, and takes over the claims
    of dead ones. A long-running sender (``forever=True``) sends records as they fall due and
    follows the stored schedule after failures, until ``stop`` is set.

    Args:
        book: the case book whose outbox is emptied.
        sink: where records go.
        forever: keep running until ``stop`` is set.
        retry_for: seconds of in-run retries per record before it is left for later.
        lease: seconds a claim holds; renewed at each retry.
        workers: records sent at once (threads).
        poll_interval: seconds between looks at the outbox when idle (default 1 s when running
            forever, 0.2 s while waiting for other runs).
        stop: set it to end the run after the records in flight.
        in_run_backoff, scheduled_backoff: the backoff within a run and the stored schedule.
        rng: the jitter's random source (seed it in tests).

    Returns:
        What was done; :attr:`DeliveryReport.ok` is False when something was rejected in this run
        or is left pending.

    Raises:
        DeliveryError: the sink cannot work as configured (bad URL, credentials refused, file not
            writable); the record in hand stays pending.
        StoreError: the database failed.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    run = _Run(book, sink, forever=forever, retry_for=retry_for, lease=lease,
               poll=poll_interval if poll_interval is not None else (1.0 if forever else 0.2),
               stop=stop or threading.Event(), in_run=in_run_backoff, scheduled=scheduled_backoff,
               rng=rng or random.Random())
    # Records a dead run of this host left claimed go out in their turn, not after everything else.
    run.report.taken_over += book.outbox.take_over_dead()
    if workers == 1:
        run.work()
    else:
        threads = [threading.Thread(target=run.work_guarded, name=f"deliver-{i}") for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if run.failure is not None:
            raise run.failure
    run.report.pending_after = book.pending_count()
    _log.info("feedback_run", delivered=len(run.report.delivered), rejected=len(run.report.rejected),
              left_pending=len(run.report.left_pending), pending_after=run.report.pending_after,
              attempts=run.report.attempts, taken_over=run.report.taken_over)
    return run.report


@dataclass
class _Run:
    """The state one :func:`deliver` call shares between its workers."""

    book: CaseBook
    sink: FeedbackSink
    forever: bool
    retry_for: float
    lease: float
    poll: float
    stop: threading.Event
    in_run: Backoff
    scheduled: Backoff
    rng: random.Random
    report: DeliveryReport = dataclasses.field(default_factory=DeliveryReport)
    failure: BaseException | None = None
    _halt: threading.Event = dataclasses.field(default_factory=threading.Event)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    started: float | None = dataclasses.field(init=False, default=None)

    def __post_init__(self) -> None:
        # A one-off run tries each record once: records attempted since it started are skipped.
        self.started = None if self.forever else self.book.outbox.now()

    def halted(self) -> bool:
        return self.stop.is_set() or self._halt.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep, waking early when the run is stopped."""
        deadline = time.monotonic() + seconds
        while not self.halted() and (left := deadline - time.monotonic()) > 0:
            self.stop.wait(min(left, 0.05))

    def work_guarded(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread by deliver()
            with self._lock:
                if self.failure is None:
                    self.failure = exc
            self._halt.set()

    def work(self) -> None:
        outbox = self.book.outbox
        while not self.halted():
            claim = outbox.claim(lease=self.lease, due_only=self.forever, tried_before=self.started)
            if claim is not None:
                self.send(claim)
                continue
            taken = outbox.take_over_dead()
            if taken:
                with self._lock:
                    self.report.taken_over += taken
                continue
            if not self.forever and outbox.waiting_on_others(self.started) == 0:
                return
            self.wait(self.poll)

    def send(self, claim: Claim) -> None:
        outbox = self.book.outbox
        began = time.monotonic()
        failures = 0
        while True:
            with self._lock:
                self.report.attempts += 1
            # The first attempt has the sink's own deadline; a retry ends with the record's budget.
            budget = _RECORD_DEADLINE.set(None if failures == 0 else began + self.retry_for)
            try:
                code = self.sink.send(claim.case_id, claim.body)
            except RetryableDeliveryError as exc:
                delay = self.in_run.delay(failures, self.rng)
                failures += 1
                give_up = self.halted() or time.monotonic() - began + delay > self.retry_for
                retry_at = outbox.now() + self.scheduled.delay(claim.attempts + failures - 1, self.rng)
                outbox.record_failure(claim, str(exc), retry_at=retry_at,
                                      keep_for=None if give_up else self.lease + delay)
                if give_up:
                    with self._lock:
                        self.report.left_pending.append(claim.case_id)
                    _log.warning("feedback_left_pending", case_id=claim.case_id, error=str(exc),
                                 attempts=claim.attempts + failures)
                    return
                _log.info("feedback_retry", case_id=claim.case_id, error=str(exc), delay=round(delay, 3))
                self.wait(delay)
                # Halted, or the wait itself overran the record's budget (a loaded machine): an attempt
                # now could not send before its deadline, so the record waits for its stored schedule.
                if self.halted() or time.monotonic() >= began + self.retry_for:
                    outbox.release(claim)
                    with self._lock:
                        self.report.left_pending.append(claim.case_id)
                    return
                continue
            except RejectedDeliveryError as exc:
                outbox.mark_rejected(claim, str(exc), exc.status_code)
                with self._lock:
                    self.report.rejected.append((claim.case_id, str(exc)))
                _log.warning("feedback_rejected", case_id=claim.case_id, status_code=exc.status_code,
                             error=str(exc))
                return
            except DeliveryError as exc:
                outbox.record_failure(claim, str(exc), retry_at=outbox.now())
                self._halt.set()
                raise
            except BaseException:
                # Interrupted mid-send: whether the platform has it is unknown, so it stays pending.
                outbox.release(claim)
                raise
            finally:
                _RECORD_DEADLINE.reset(budget)
            outbox.mark_delivered(claim, code)
            with self._lock:
                self.report.delivered.append(claim.case_id)
            _log.info("feedback_delivered", case_id=claim.case_id, status_code=code,
                      attempts=claim.attempts + failures + 1)
            return
