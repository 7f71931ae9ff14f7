"""Group commit of audit entries: the answers of concurrent requests share one transaction.

Every answer is in the audit log before it is sent, so a request waits for its append. Appends take
turns on one locked head row (across every process), so one transaction per request would bound the
whole service by the time of one locked commit. Here a request hands its results to one appender
thread per process and waits; the thread appends everything that arrived while the previous
transaction ran in the next one (:meth:`~joint_sanctions.AuditLog.append_each`). A lone request still
waits for exactly one transaction; under load many requests share one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future

from .._audit import AuditLog
from .._errors import StoreError
from .._models import CheckResult

__all__ = ["AuditQueue"]

#: The most results one transaction takes (a batch request's own results always stay together).
MAX_GROUP = 20_000


class AuditQueue:
    """Appends results to ``audit`` from one thread, grouping what concurrent requests hand in."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit
        self._ready = threading.Condition()
        self._pending: list[tuple[list[tuple[CheckResult, str | None]], Future[None]]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="joint-sanctions-audit", daemon=True)
        self._thread.start()

    def append(self, results: Sequence[CheckResult], caller: str | None) -> None:
        """Return once ``results`` are in the log, in order and together.

        Raises:
            ValueError: ``caller`` holds a NUL character (checked here, so it cannot fail the others).
            StoreError: the append failed or the queue is closed; nothing of this call was written.
        """
        if caller is not None and "\x00" in caller:
            raise ValueError("the caller's name holds a NUL character / 调用方名称含有 NUL 字符")
        done: Future[None] = Future()
        with self._ready:
            if self._closed:
                raise StoreError("the audit log is closed / 审计日志已关闭")
            self._pending.append(([(r, caller) for r in results], done))
            self._ready.notify()
        done.result()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._closed:
                    self._ready.wait()
                if not self._pending:
                    return  # closed, and everything handed in is written
                group: list[tuple[list[tuple[CheckResult, str | None]], Future[None]]] = []
                size = 0
                while self._pending and (not group or size + len(self._pending[0][0]) <= MAX_GROUP):
                    items, done = self._pending.pop(0)
                    group.append((items, done))
                    size += len(items)
            try:
                self._audit.append_each([item for items, _ in group for item in items])
            except Exception as exc:  # noqa: BLE001 -- each waiting request gets the failure as its own
                for _, done in group:
                    done.set_exception(StoreError(str(exc)) if isinstance(exc, StoreError) else exc)
            else:
                for _, done in group:
                    done.set_result(None)

    def close(self) -> None:
        """Write what was handed in, then stop (later appends are refused)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()
