"""Shared fixtures: engines over real SQLite files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import structlog

from joint_sanctions import CreditRecord, Engine
from joint_sanctions.check import compile_paths
from joint_sanctions.compile import CompiledMeasures
from joint_sanctions.stores.sqlite import SqliteStore

FIXED_NOW = dt.datetime(2025, 6, 1, 4, 0, tzinfo=dt.timezone.utc)


def _drop(_logger: Any, _name: str, _event: Any) -> Any:
    raise structlog.DropEvent


@pytest.fixture(autouse=True)
def quiet_logs() -> Any:
    """Drop log output in tests (capture_logs still sees every event); undo any test's configure()."""
    structlog.reset_defaults()
    structlog.configure(processors=[_drop])
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def shipped() -> CompiledMeasures:
    """The shipped measure lists, compiled once for the session."""
    return compile_paths(None)


def record(record_id: str, subject_id: str, list_type: str = "court_defaulter", **kw: Any) -> CreditRecord:
    """A credit record with sensible defaults for tests."""
    data: dict[str, Any] = {"record_id": record_id, "list_type": list_type, "subject_id": subject_id,
                            "authority": "郑州市中级人民法院", "document_no": "(2024)豫01执1号",
                            "listed_on": dt.date(2024, 1, 1)}
    data.update(kw)
    return CreditRecord.model_validate(data)


@pytest.fixture
def make_engine(tmp_path: Path, shipped: CompiledMeasures) -> Callable[..., Engine]:
    """Build an engine over a fresh SQLite file holding ``records``."""
    counter = iter(range(10**9))

    def make(records: Iterable[CreditRecord] = (), measures: Any = None, **kw: Any) -> Engine:
        store = SqliteStore(tmp_path / f"records-{next(counter)}.db")
        store.upsert(list(records))
        ids = (f"chk-{i}" for i in range(10**9))
        kw.setdefault("clock", lambda: FIXED_NOW)
        kw.setdefault("new_id", lambda: next(ids))
        return Engine(measures=measures if measures is not None else shipped, store=store, **kw)
    return make
