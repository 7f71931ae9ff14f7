"""What the HTTP routes do, without HTTP: the engine, the case book, the key cache and the metrics of
one serving process (each worker process has its own :class:`Service` over the same database).

The check handler (:meth:`Service.check`, :meth:`Service.check_many`) is the one place where a check
made over HTTP is answered. Every answer is appended to the audit log (docs/audit.md) with the caller's
key name before it is sent (concurrent requests share a transaction: :mod:`._audit_queue`); an
answer that cannot be audited is not sent (the route answers 503), so every decision a host received
can be proved later. A case opened by a check is committed by
:meth:`~joint_sanctions.Engine.check` before it returns, so before the route sends its 200.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .._audit import AuditLog
from .._case_model import Case
from .._cases import CaseBook, case_book_for
from .._check import Engine
from .._errors import CheckError, UnknownCaseError
from .._models import CheckResult
from .._workbench_measures import measure_rows
from ..stores._key_tables import KeyBook, hash_key
from ..vocabulary import MATTER_TYPES
from ._audit_queue import AuditQueue
from ._metrics import Metrics
from ._schemas import BatchRequest, CaseView, CheckRequest, DisposalRequest

__all__ = ["KEY_CACHE_SECONDS", "ServeConfig", "Service", "Unauthorized"]

#: How long a process trusts its copy of the valid key digests: a revoked key is refused by every
#: process within this time (keys revoked are refused within one second; a database query takes the rest).
KEY_CACHE_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """What ``serve`` was given; passed to worker processes as JSON in an environment variable."""

    db: str | None = None
    measures: list[str] | None = None
    max_data_age_seconds: float | None = None
    #: Log every check (``joint-sanctions -v serve``), as the command line does, on stderr.
    verbose: bool = False
    #: Re-read changed measure lists this often (seconds); 0 never. A list with problems is refused
    #: and logged while the last good revision keeps serving (Engine.watch).
    watch_seconds: float = 2.0

    @property
    def max_data_age(self) -> dt.timedelta | None:
        return None if self.max_data_age_seconds is None else dt.timedelta(seconds=self.max_data_age_seconds)


class Unauthorized(Exception):
    """No key, or a key that is unknown or revoked."""


class _KeyCache:
    """The digests of the keys not revoked, re-read from the database at most every
    :data:`KEY_CACHE_SECONDS` (one query per process per interval, however many requests)."""

    def __init__(self, read: Callable[[], dict[str, str]]) -> None:
        self._read = read
        self._valid: dict[str, str] = {}
        self._until = 0.0
        self._lock = threading.Lock()

    def name_of(self, key: str) -> str | None:
        if time.monotonic() >= self._until:
            with self._lock:
                if time.monotonic() >= self._until:
                    # Counted from before the read: a slow read never stretches how long a key revoked
                    # during it is still taken.
                    started = time.monotonic()
                    self._valid = self._read()
                    self._until = started + KEY_CACHE_SECONDS
        return self._valid.get(hash_key(key))


class Service:
    """One process's engine, case book, keys and metrics (see the module docstring)."""

    def __init__(self, config: ServeConfig) -> None:
        self.engine = Engine(measures=config.measures, store=config.db, max_data_age=config.max_data_age)
        try:
            self.book: CaseBook = case_book_for(self.engine.store)
            self._keys = _KeyCache(KeyBook(self.engine.store).valid)
            self.audit = AuditQueue(AuditLog(self.engine.store))
            self._watcher = self.engine.watch(config.watch_seconds) if config.watch_seconds > 0 else None
        except BaseException:
            self.engine.close()
            raise
        self.metrics = Metrics(self.book.backend.count_by_status)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self.audit.close()
        self.engine.close()

    # --- access ----------------------------------------------------------------------------------

    def caller(self, authorization: str | None) -> str:
        """The name of the key in an ``Authorization: Bearer <key>`` header.

        Raises:
            Unauthorized: no such header, or its key is unknown or revoked.
        """
        scheme, _, key = (authorization or "").partition(" ")
        name = self._keys.name_of(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if name is None:
            raise Unauthorized
        return name

    # --- checks (the one place every HTTP check is answered) ----------------------------------------

    def check(self, request: CheckRequest, caller: str) -> CheckResult:
        started = time.perf_counter()
        subject = request.subject if isinstance(request.subject, str) else request.subject.model_dump()
        result = self.engine.check(subject, request.matter, at=request.at, open_case=request.open_case,
                                   caller=caller, **request.matter_fields())
        self.audit.append((result,), caller)
        self.metrics.checked(result.decision, time.perf_counter() - started)
        return result

    def check_many(self, request: BatchRequest, caller: str) -> list[CheckResult]:
        started = time.perf_counter()
        subjects = [s if isinstance(s, str) else s.model_dump() for s in request.subjects]
        results = self.engine.check_many(subjects, request.matter, at=request.at, open_case=request.open_case,
                                         caller=caller, **request.matter_fields())
        self.audit.append(results, caller)
        counts: dict[str, int] = {}
        for r in results:
            counts[r.decision] = counts.get(r.decision, 0) + 1
        seconds = time.perf_counter() - started
        for decision, n in counts.items():
            self.metrics.checked(decision, seconds, n)
        return results

    # --- measures and cases ----------------------------------------------------------------------

    def measures(self, matter: str | None) -> dict[str, Any]:
        if matter is not None and matter not in MATTER_TYPES:
            raise CheckError("unknown_matter_type", f"unknown matter type {matter[:80]!r} / 未知的事项类型")
        compiled = self.engine.compiled
        return {"revision": compiled.revision, "matter": matter,
                "measures": measure_rows(compiled.files, matter=matter)}

    def cases(self, status: str | None) -> list[dict[str, Any]]:
        return [_view(c) for c in self.book.list(status)]

    def _resolve(self, case_id: str) -> str:
        # A path may carry a NUL (%00), which no case id holds and PostgreSQL refuses as a parameter
        # (a StoreError, answered 503 as if the database were down).
        if "\x00" in case_id:
            raise UnknownCaseError(case_id)
        return self.book.resolve(case_id)

    def case(self, case_id: str) -> dict[str, Any]:
        return _view(self.book.get(self._resolve(case_id)))

    def dispose(self, case_id: str, request: DisposalRequest) -> dict[str, Any]:
        return _view(self.book.dispose(self._resolve(case_id), request.result, text=request.text,
                                       reason=request.reason, description=request.description,
                                       department=request.department, department_code=request.department_code))

    def withdraw(self, case_id: str, reason: str) -> dict[str, Any]:
        return _view(self.book.withdraw(self._resolve(case_id), reason))

    # --- health ----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The service's state, judged as a check would judge it.

        Raises:
            CheckError: no record was ever written (``no_data``) or a list is older than the maximum
                data age (``stale_data``): the engine's own refusals.
            StoreError: the database cannot be read.
        """
        engine = self.engine
        # The engine's own refresh and refusal, now rather than at its next check: the same notions
        # of "empty" and "stale" that make a check fail closed (docs/failing-closed.md).
        engine._poll()
        engine._refuse_without_data(dt.datetime.now(dt.UTC), None, ())
        return {"status": "ok", "revision": engine.revision, "rules_backend": engine.rules_backend,
                "data_as_of": engine.data_as_of, "pid": os.getpid()}


def _view(case: Case) -> dict[str, Any]:
    # Validated against the documented model, so the OpenAPI document cannot drift from what is sent.
    return CaseView.model_validate(case.summary()).model_dump(mode="json")
