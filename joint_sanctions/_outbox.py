"""The feedback outbox (:class:`Outbox`): claims with leases, retries, and the takeover of dead claims."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from . import _identifiers as identifiers
from ._case_model import DEFAULT_LEASE, TRANSITIONS, CaseBackend, Event
from ._logging import get_logger

_log = get_logger()


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
    """Claims and outcomes of feedback records; used by :func:`joint_sanctions._delivery.deliver`.

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
