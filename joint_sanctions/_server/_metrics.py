"""``GET /metrics``: Prometheus text through the official client (``prometheus_client``).

Checks by decision and a latency histogram are counted in each process. With several worker processes
``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` (when the operator has not) before the workers start, and
the client's multiprocess mode adds up every worker's files, so any worker's ``/metrics`` shows the
whole service. Cases by status and the outbox's pending records are read from the database at each
scrape: they are the same for every process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ..vocabulary import CASE_STATUSES, DECISIONS

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Checks answer in tens of microseconds to tens of milliseconds; slower ones are worth seeing too.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _CaseCollector(Collector):
    """Cases by status and pending feedback records, read at scrape time."""

    def __init__(self, count_by_status: Callable[[], dict[str, int]]) -> None:
        self._count = count_by_status

    def collect(self) -> Iterator[Metric]:
        counts = self._count()
        cases = GaugeMetricFamily("joint_sanctions_cases", "Cases by status", labels=["status"])
        for status in CASE_STATUSES:
            cases.add_metric([status], counts.get(status, 0))
        yield cases
        yield GaugeMetricFamily("joint_sanctions_outbox_pending",
                                "Disposed cases whose feedback is neither delivered nor rejected",
                                value=counts.get("disposed", 0))


class Metrics:
    """The service's metrics; :meth:`checked` is called once per check answered."""

    def __init__(self, count_by_status: Callable[[], dict[str, int]]) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series only repeat start times
        own = CollectorRegistry(auto_describe=True)
        self._checks = Counter("joint_sanctions_checks", "Checks answered, by decision", ["decision"],
                               registry=own)
        self._latency = Histogram("joint_sanctions_check_seconds", "Time to answer a check request",
                                  buckets=_BUCKETS, registry=own)
        # One child per decision, bound once: the check path only adds.
        self._by_decision = {d: self._checks.labels(d) for d in DECISIONS}
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]  # every worker's counters, from their files
        else:
            self.registry = own
        self.registry.register(_CaseCollector(count_by_status))

    def checked(self, decision: str, seconds: float, count: int = 1) -> None:
        self._by_decision[decision].inc(count)
        self._latency.observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
