"""Feedback sinks that record or fail (re-exported by :mod:`joint_sanctions.testing`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

from .._errors import DeliveryError


class RecordingSink:
    """A :class:`~joint_sanctions._delivery.FeedbackSink` that keeps what it is sent.

    Args:
        failures: what the next sends do, in order: ``None`` delivers, an exception (e.g.
            ``RetryableDeliveryError("boom")``) is raised instead. Once used up, every send delivers.

    Attributes:
        sent: ``(case_id, body)`` of every send that delivered, in order (resends included).
        calls: case ids of every send, failed or not.
    """

    def __init__(self, failures: Iterable[DeliveryError | None] = ()) -> None:
        self._lock = threading.Lock()
        self._failures = list(failures)
        self.sent: list[tuple[str, bytes]] = []
        self.calls: list[str] = []
        self.closed = False

    def send(self, case_id: str, body: bytes) -> None:
        """See :meth:`FeedbackSink.send`."""
        with self._lock:
            self.calls.append(case_id)
            failure = self._failures.pop(0) if self._failures else None
            if failure is not None:
                raise failure
            self.sent.append((case_id, body))

    @property
    def payloads(self) -> list[dict[str, Any]]:
        """The delivered records, parsed."""
        with self._lock:
            return [json.loads(body) for _, body in self.sent]

    def close(self) -> None:
        """Mark the sink closed; what it recorded stays readable."""
        self.closed = True


class FailingSink:
    """A :class:`~joint_sanctions._delivery.FeedbackSink` whose every send fails: a platform that is down.

    Args:
        error: what each send raises, e.g. ``RetryableDeliveryError("platform down")`` (the case
            stays pending) or ``RejectedDeliveryError("bad record", 400)`` (the case is rejected).

    Attributes:
        calls: case ids of every send, in order.
    """

    def __init__(self, error: BaseException) -> None:
        self._lock = threading.Lock()
        self.error = error
        self.calls: list[str] = []
        self.closed = False

    def send(self, case_id: str, body: bytes) -> None:
        """See :meth:`FeedbackSink.send`; always raises :attr:`error`."""
        with self._lock:
            self.calls.append(case_id)
        raise self.error

    def close(self) -> None:
        """Mark the sink closed."""
        self.closed = True
