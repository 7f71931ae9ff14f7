"""Shared fixtures and helpers: engines over real SQLite files, a real PostgreSQL server for the session,
the closed loop's data, and the helpers every test module may use (test modules never import one another).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import psycopg
import pytest
import structlog

from joint_sanctions import CaseBook, CreditRecord, Engine, case_book_for
from joint_sanctions._check import compile_paths
from joint_sanctions._compile import CompiledMeasures
from joint_sanctions._delivery import Backoff
from joint_sanctions._feedback import shipped_schema_text
from joint_sanctions.stores import RecordStore, open_store
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.testing import Clock, SequentialIds

from . import pgserver

FIXED_NOW = dt.datetime(2025, 6, 1, 4, 0, tzinfo=dt.UTC)


#: Set to 1 to run the tests marked ``browser`` with the rest (or select them: ``pytest -m browser``).
BROWSER_ENV = "JOINT_SANCTIONS_TEST_BROWSER"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the ``browser`` tests out unless asked for: they need chromium and a CJK font."""
    if os.environ.get(BROWSER_ENV) == "1" or "browser" in (config.getoption("markexpr") or ""):
        return
    left_out = [item for item in items if item.get_closest_marker("browser")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("browser")]


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
        kw.setdefault("clock", Clock(FIXED_NOW))
        kw.setdefault("new_id", SequentialIds("chk-"))
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

    def execute(self, *statements: str) -> None:
        """Run ``statements`` (no parameters, no rows back) in one transaction of a connection of their
        own, as an intruder or another program would."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as lite:
                for statement in statements:
                    lite.execute(statement)
            return
        with psycopg.connect(self.url) as pg:
            for statement in statements:
                pg.execute(statement)


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


# --- helpers the test modules share (test modules never import one another) --------------------------


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.005) -> None:
    """Return as soon as ``predicate()`` is true; fail the test when it is still false after ``timeout``.

    The timeout is a safety bound for a broken build, never the wait itself: a loaded machine only
    makes the wait longer, not the test red.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {timeout} s: {getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)


def assert_masked(text: str, *numbers: str) -> None:
    """Fail when ``text`` shows the ten middle digits of any of ``numbers`` in any spelling
    (full-width digits, grouped by spaces or dashes)."""
    flat = re.sub("[\\s\\-\u2010-\u2014\uff0d]", "", text.translate(
        {ord(c) + 0xFEE0: ord(c) for c in "0123456789"}))
    for number in numbers:
        assert number[4:14] not in flat, f"{number[:4]}…{number[-4:]} shows in {text[:200]!r}"


def failures_in_threads(work: Callable[[int], object], count: int) -> list[BaseException]:
    """Run ``work(0)`` … ``work(count - 1)`` on threads of their own; what they raised."""
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # noqa: BLE001 -- returned to the test: a thread cannot fail it
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m joint_sanctions`` as a user would (``env``: the whole environment, if given)."""
    return subprocess.run([sys.executable, "-m", "joint_sanctions", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env=env, check=False)


# --- subjects and input files ---------------------------------------------------------------------------


def resident_id(n: int, birth: str = "19850314") -> str:
    """A valid 居民身份证号码 (郑州市金水区) with sequence ``n``."""
    body = f"410105{birth}{n:03d}"
    total = sum(int(ch) * w for ch, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2),
                                             strict=True))
    return body + "10X98765432"[total % 11]


USCCS = [numbered_uscc(i) for i in range(11_000)]
PERSONS = [resident_id(i) for i in range(1, 200)]


def write_csv(path: Path, rows: Iterable[Sequence[str]],
              header: Sequence[str] = ("subject_id", "subject_name")) -> Path:
    """A UTF-8 CSV input file with ``header``."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- the closed loop: an engine over the fixture lists, its case book, disposed cases -------------------

FIXTURE = Path(__file__).parent / "fixtures" / "measures"
CO = "91410100MA0000015B"      # a company on the court-defaulter list
CO2 = "91350100M000100Y43"     # a company on the tax-credit A (red) list
CO3 = "91110000600037341L"     # a company on the market serious-violator list
PERSON = "410102199003071230"  # a natural person on the court-defaulter list
FAST = Backoff(base=0.02, cap=0.1)  # in-run backoff short enough for tests


def loop_records() -> list[CreditRecord]:
    """Credit records the loop tests share."""
    return [
        record("R-CO", CO, authority="郑州市中级人民法院", document_no="(2024)豫01执1号"),
        record("R-CO2", CO2, list_type="tax_credit_a", authority="国家税务总局郑州市税务局", document_no=""),
        record("R-CO3", CO3, list_type="market_serious_violator", authority="郑州市市场监督管理局"),
        record("R-P", PERSON, authority="金水区人民法院"),
    ]


def loop_engine(db: Database | Path, **kw: Any) -> Engine:
    """A real engine over a database (or SQLite file) holding :func:`loop_records`, opening cases in it."""
    store = db.open() if isinstance(db, Database) else SqliteStore(db)
    store.upsert(loop_records())
    kw.setdefault("clock", Clock(FIXED_NOW))
    return Engine(measures=FIXTURE, store=store, **kw)


class Loop:
    """A real engine over a database (or SQLite file), its case book, and disposed cases on request."""

    def __init__(self, db: Database | Path) -> None:
        self.database = db if isinstance(db, Database) else Database("sqlite", f"sqlite:///{db}", db.parent)
        self.url = self.database.url
        self.engine: Engine = loop_engine(db)
        self.book: CaseBook = case_book_for(self.engine.store)

    def dispose(self, subject: Any = CO, matter: str = "government_procurement", result: str = "applied",
                check: dict[str, Any] | None = None, **disposal: Any) -> str:
        """Check ``subject`` for ``matter``, dispose the case it opens, return its id."""
        case_id = self.engine.check(subject, matter, **(check or {})).case_id
        assert case_id is not None
        self.book.dispose(case_id, result, **disposal)
        return case_id

    def disposed(self, n: int = 1, subject: str = CO, matter: str = "government_procurement") -> list[str]:
        """Open and dispose ``n`` cases; return their ids, oldest first."""
        return [self.dispose(subject, matter, department="郑州市财政局") for _ in range(n)]


@pytest.fixture
def loop(database: Database) -> Loop:
    """A loop over a fresh database (SQLite file, then PostgreSQL)."""
    return Loop(database)


# --- feedback v1 ------------------------------------------------------------------------------------


def feedback_validator() -> jsonschema.Draft202012Validator:
    """A validator of the shipped feedback v1 schema, formats checked."""
    return jsonschema.Draft202012Validator(json.loads(shipped_schema_text()),
                                           format_checker=jsonschema.FormatChecker())


def assert_valid(payload: dict[str, Any]) -> None:
    """Fail with every schema error of ``payload`` against the shipped feedback v1 schema."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in feedback_validator().iter_errors(payload)]
    assert errors == []


@pytest.fixture(params=["durable", "reference"])
def back_end(request: pytest.FixtureRequest) -> str:
    """Each rule back end in turn: durable_rules and the reference evaluator."""
    return str(request.param)


def measures_folder(folder: Path, text: str) -> Path:
    """``folder`` made to hold one measure-list file, ``t.yaml``, with ``text``."""
    folder.mkdir(exist_ok=True)
    (folder / "t.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def measures_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The test module's own measure list (its ``MEASURES`` text) in a folder of its own."""
    return measures_folder(tmp_path / "measures", request.module.MEASURES)


@pytest.fixture
def engine_with(back_end: str, make_engine: Callable[..., Engine], measures_dir: Path) -> Callable[..., Engine]:
    """An engine over the test module's measures (``measures_dir``) and ``records``, on each rule back end."""
    return lambda *records: make_engine(records, measures=[measures_dir], rules=back_end)


# --- the HTTP service (tests/test_server*.py) ---------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``joint-sanctions serve`` subprocess and an HTTP client for it."""

    def __init__(self, db_url: str, workdir: Path, *args: str, measures: Path = FIXTURE) -> None:
        self.port = free_port()
        self.terminated = False
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"serve-{self.port}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "joint_sanctions", "serve", "--db", db_url, "--measures", str(measures),
                 "--port", str(self.port), *args], cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.client = httpx.Client(base_url=self.base, timeout=60)
        wait_until(self._up, timeout=120)

    def _up(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"serve exited {self.process.returncode}: {self.log.read_text(errors='replace')[-2000:]}")
        try:
            self.client.get("/healthz")
        except httpx.TransportError:
            return False
        return True

    def call(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)

    def terminate(self) -> None:
        """SIGTERM, once: a second one would cut the graceful shutdown short."""
        if not self.terminated and self.process.poll() is None:
            self.terminated = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        """Stop the server (SIGTERM) and wait for it; its exit code (0 after a graceful shutdown)."""
        self.client.close()
        self.terminate()
        return self.process.wait(timeout=60)


def server_key(db_url: str, name: str, cwd: Path) -> str:
    done = cli("keys", "create", "--name", name, "--db", db_url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def loop_db(path: Path) -> str:
    store = SqliteStore(path, create=True)
    store.upsert(loop_records())
    store.close()
    return f"sqlite:///{path}"


# --- the headless browser (tests marked ``browser``) ---------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable chromium with a CJK font; their absence fails the opted-in test."""
    path = shutil.which("chromium")
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout \
        if shutil.which("fc-list") else ""
    missing = ([] if path else ["chromium"]) + ([] if fonts.strip() else ["fonts-wqy-zenhei"])
    if missing:  # without a CJK font every Chinese heading renders as boxes
        pytest.fail(f"the browser tests need {' and '.join(missing)}: apt-get install {' '.join(missing)}",
                    pytrace=False)
    assert path is not None
    return path


def run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless chromium with a fresh profile under ``tmp_path``; fail the test if it fails."""
    profile = tmp_path / "chromium-profile"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done
