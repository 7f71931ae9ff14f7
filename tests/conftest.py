"""Shared fixtures: engines over real SQLite files, and a real PostgreSQL server for the session."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import structlog

from joint_sanctions import CreditRecord, Engine
from joint_sanctions._check import compile_paths
from joint_sanctions._compile import CompiledMeasures
from joint_sanctions.stores import RecordStore, open_store
from joint_sanctions.stores._sqlite import SqliteStore

from . import pgserver

FIXED_NOW = dt.datetime(2025, 6, 1, 4, 0, tzinfo=dt.UTC)


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


def unlisted_import() -> CreditRecord:
    """A removed record of a subject no test checks: lists were imported, and they name no one."""
    return record("IMPORTED-NONE", numbered_uscc(9_999_999), status="removed")


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def numbered_uscc(n: int, prefix: str = "91410100MA") -> str:
    """A valid 统一社会信用代码 numbered ``n`` < 10,000,000 (GB 32100-2015 check character)."""
    body = f"{prefix}{n:07d}"
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


@pytest.fixture
def make_engine(tmp_path: Path, shipped: CompiledMeasures) -> Callable[..., Engine]:
    """Build an engine over a fresh SQLite file holding ``records``.

    With no records the store still gets its lists imported: a store that never received a record
    refuses checks (design.md §9), so it holds one removed record of a subject no test checks.
    """
    counter = iter(range(10**9))

    def make(records: Iterable[CreditRecord] = (), measures: Any = None, **kw: Any) -> Engine:
        store = SqliteStore(tmp_path / f"records-{next(counter)}.db")
        store.upsert(list(records) or [unlisted_import()])
        ids = (f"chk-{i}" for i in range(10**9))
        kw.setdefault("clock", lambda: FIXED_NOW)
        kw.setdefault("new_id", lambda: next(ids))
        return Engine(measures=measures if measures is not None else shipped, store=store, **kw)
    return make


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pgserver.PgServer]:
    """A PostgreSQL server for the whole session: JOINT_SANCTIONS_TEST_PG, else a throwaway one.

    A server that cannot be started fails the tests that need it (never a skip).
    """
    try:
        server = pgserver.start()
    except pgserver.PgServerError as exc:
        problem = str(exc)  # failed outside the except block, so the report is this message alone
    else:
        problem = ""
    if problem:
        pytest.fail(f"PostgreSQL tests need a server: {problem}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: pgserver.PgServer) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped after the test."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@dataclass(frozen=True)
class Database:
    """A real database a test's stores open by URL: a SQLite file or a PostgreSQL database.

    Attributes:
        kind: ``sqlite`` or ``postgres``.
        url: what ``open_store``, ``Engine(store=…)`` and ``--db`` take.
        workdir: a scratch directory of the test (the working directory of CLI runs).
    """

    kind: str
    url: str
    workdir: Path
    opened: list[RecordStore] = field(default_factory=list, repr=False)

    def open(self) -> RecordStore:
        """A new store on this database (its own connection or pool), closed after the test.

        Closed explicitly because a connection pool left to the garbage collector may be collected
        on one of its own worker threads, which then cannot join itself (an unraisable error).
        """
        store = open_store(self.url, create=True)
        self.opened.append(store)
        return store

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of ``query`` (``?`` parameters) through a separate connection, as another process
        would see them."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
                return conn.execute(query, params).fetchall()
        with psycopg.connect(self.url) as conn:
            return conn.execute(query.replace("?", "%s"), params).fetchall()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same test on a fresh SQLite file and on a fresh PostgreSQL database: one contract, two stores."""
    if request.param == "sqlite":
        db = Database("sqlite", f"sqlite:///{tmp_path / 'loop.db'}", tmp_path)
    else:
        db = Database("postgres", request.getfixturevalue("pg_url"), tmp_path)
    yield db
    for store in db.opened:
        store.close()
