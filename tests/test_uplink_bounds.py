"""A bounded uplink: body cap, per-attempt and per-record deadlines, plain-http warning, signing key from
the environment — against real HTTP servers on 127.0.0.1 and real SQLite and PostgreSQL case stores."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import structlog

from joint_sanctions._delivery import (
    MAX_RESPONSE_BODY,
    SIGNATURE_HEADER,
    UPLINK_KEY_ENV,
    HttpSink,
    deliver,
    uplink_key,
    verify_signature,
)
from joint_sanctions._errors import DeliveryError, RejectedDeliveryError, RetryableDeliveryError

from .conftest import FAST, Database, Loop, cli

#: A safety bound for runs that, unbounded, would take 75 s or more: not a performance target.
SAFETY = 30.0


@dataclass
class Received:
    """One request the server read in full."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Connection:
    """What the server did on one connection."""

    sent: int = 0  # bytes of the answer written before it ended
    cut_by_client: bool = False  # the client closed before the answer was complete


# An answer writes to the socket through ``write``, which raises OSError once the client is gone.
Answer = Callable[["Platform", Received, Callable[[bytes], None]], None]


def status(code: int, body: bytes = b"") -> Answer:
    """A complete, prompt answer."""
    def answer(_platform: Platform, _request: Received, write: Callable[[bytes], None]) -> None:
        write(f"HTTP/1.1 {code} X\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return answer


def verifying(key: bytes) -> Answer:
    """201 when the body carries a valid HMAC-SM3 under ``key`` (checked with the library's own
    verify_signature), else 401."""
    def answer(platform: Platform, request: Received, write: Callable[[bytes], None]) -> None:
        ok = verify_signature(request.body, key, request.headers.get(SIGNATURE_HEADER.lower()))
        status(201 if ok else 401)(platform, request, write)
    return answer


def trickle_head(interval: float = 0.5, length: int = 150) -> Answer:
    """A 201 whose status line and headers come one byte every ``interval`` s (75 s by default)."""
    def answer(platform: Platform, _request: Received, write: Callable[[bytes], None]) -> None:
        head = b"HTTP/1.1 201 Created\r\nX-Pad: " + b"p" * length + b"\r\nContent-Length: 0\r\n\r\n"
        for byte in head:
            if platform.stop.wait(interval):
                return
            write(bytes([byte]))
    return answer


def trickle_body(code: int, interval: float = 0.5, length: int = 150) -> Answer:
    """Status and headers at once, then a body of ``length`` bytes one byte every ``interval`` s."""
    def answer(platform: Platform, _request: Received, write: Callable[[bytes], None]) -> None:
        write(f"HTTP/1.1 {code} X\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n".encode())
        for _ in range(length):
            if platform.stop.wait(interval):
                return
            write(b"x")
    return answer


def huge(code: int, size: int = 4 << 30) -> Answer:
    """A ``size``-byte body generated from one 64 KiB block (never allocated whole)."""
    block = b"0123456789abcdef" * 4096
    def answer(platform: Platform, _request: Received, write: Callable[[bytes], None]) -> None:
        write(f"HTTP/1.1 {code} X\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
        left = size
        while left > 0 and not platform.stop.is_set():
            write(block[:left])
            left -= len(block)
    return answer


@dataclass
class Platform:
    """A real HTTP/1.1 server on a free loopback port, answering each request with the next scripted
    answer (the last one repeats). Every loop in it ends by itself: at the end of an answer, when the
    client goes away, or when the test stops the server."""

    script: list[Answer]
    requests: list[Received] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/feedback"
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        record = Connection()
        with conn:
            conn.settimeout(5)
            request = self._read(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
                self.connections.append(record)
                answer = self.script[min(len(self.requests) - 1, len(self.script) - 1)]

            def write(data: bytes) -> None:
                conn.sendall(data)
                record.sent += len(data)

            try:
                answer(self, request, write)
            except OSError:
                record.cut_by_client = True

    @staticmethod
    def _read(conn: socket.socket) -> Received | None:
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk or len(data) > 1 << 20:
                    return None
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
            while len(body) < int(headers.get("content-length", "0")):
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                body += chunk
        except OSError:
            return None
        return Received(headers, body)

    def close(self) -> None:
        self.stop.set()
        self._sock.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(10)


@pytest.fixture
def serve() -> Iterator[Callable[..., Platform]]:
    """Start platforms on loopback for the test; all are stopped after it."""
    started: list[Platform] = []

    def start(*script: Answer) -> Platform:
        platform = Platform(list(script))
        started.append(platform)
        return platform

    yield start
    for platform in started:
        platform.close()


@pytest.fixture
def loop(database: Database) -> Loop:
    """A loop over a fresh database (SQLite file, then PostgreSQL)."""
    return Loop(database)


def status_of(loop: Loop, case_id: str) -> str:
    return loop.book.get(case_id).status


# --- outcomes over a real server ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 204, 409])
def test_2xx_and_409_deliver_the_case(loop: Loop, serve: Callable[..., Platform], code: int) -> None:
    """A prompt 2xx (or 409, already held) marks the case fed back after one attempt."""
    (case_id,) = loop.disposed()
    platform = serve(status(code))
    with HttpSink(platform.url, timeout=5) as sink:
        report = deliver(loop.book, sink, in_run_backoff=FAST)
    assert report.ok and report.delivered == [case_id] and report.attempts == 1
    assert status_of(loop, case_id) == "fed_back"
    assert json.loads(platform.requests[0].body)["case_id"] == case_id


def test_4xx_rejects_the_case_and_keeps_the_reason(loop: Loop, serve: Callable[..., Platform]) -> None:
    """A 422 with a reason marks the case rejected once, with the platform's reason kept."""
    (case_id,) = loop.disposed()
    platform = serve(status(422, "行政区划代码错误 / bad region_code".encode()))
    with HttpSink(platform.url, timeout=5) as sink:
        report = deliver(loop.book, sink, in_run_backoff=FAST)
    assert [c for c, _ in report.rejected] == [case_id] and len(platform.requests) == 1
    case = loop.book.get(case_id)
    assert case.status == "rejected" and "bad region_code" in (case.delivery.last_error or "")  # type: ignore[union-attr]


def test_5xx_then_2xx_is_retried_and_delivered(loop: Loop, serve: Callable[..., Platform]) -> None:
    """Two 503s then a 201: retried within the run, delivered on the third attempt."""
    (case_id,) = loop.disposed()
    platform = serve(status(503), status(503), status(201))
    with HttpSink(platform.url, timeout=5) as sink:
        report = deliver(loop.book, sink, in_run_backoff=FAST)
    assert report.ok and report.delivered == [case_id] and report.attempts == 3
    assert status_of(loop, case_id) == "fed_back" and len(platform.requests) == 3


# --- deadlines ---------------------------------------------------------------------------------------


def test_trickled_answer_is_abandoned_at_the_attempt_deadline(serve: Callable[..., Platform]) -> None:
    """Status line trickled one byte per 0.5 s (75 s in all): the attempt ends at its deadline, retryable,
    and the connection is closed under the server."""
    platform = serve(trickle_head())
    began = time.monotonic()
    with HttpSink(platform.url, timeout=5, deadline=1.0) as sink, \
            pytest.raises(RetryableDeliveryError, match="deadline"):
        sink.send("c1", b"{}")
    assert time.monotonic() - began < SAFETY
    assert platform.connections[0].sent < 150  # never got to the end of the answer


def test_trickled_run_leaves_the_case_pending_within_the_record_budget(loop: Loop,
                                                                       serve: Callable[..., Platform]) -> None:
    """A platform that trickles every answer: the record's attempts stop with its budget, the case is
    left pending (disposed, unclaimed, error kept), nothing is marked delivered."""
    (case_id,) = loop.disposed()
    platform = serve(trickle_head())
    began = time.monotonic()
    with HttpSink(platform.url, timeout=5, deadline=0.8) as sink:
        report = deliver(loop.book, sink, retry_for=1.5, in_run_backoff=FAST)
    assert time.monotonic() - began < SAFETY
    assert report.left_pending == [case_id] and report.delivered == [] and report.pending_after == 1
    assert report.attempts >= 2  # retried within the budget, each attempt abandoned
    case = loop.book.get(case_id)
    assert case.status == "disposed" and case.delivery is not None and case.delivery.claimed_by is None
    assert "deadline" in (case.delivery.last_error or "")
    assert all(c.sent < 150 for c in platform.connections)


def test_a_retry_never_outlives_the_record_budget(loop: Loop, serve: Callable[..., Platform]) -> None:
    """A 503 then trickles: the retry is cut at the record's budget, not given a full attempt deadline."""
    (case_id,) = loop.disposed()
    platform = serve(status(503), trickle_head())
    began = time.monotonic()
    with HttpSink(platform.url, timeout=60, deadline=60) as sink:
        report = deliver(loop.book, sink, retry_for=1.0, in_run_backoff=FAST)
    assert time.monotonic() - began < SAFETY  # the 60 s attempt deadline was not what ended it
    assert report.left_pending == [case_id] and status_of(loop, case_id) == "disposed"
    assert len(platform.requests) >= 2


def test_2xx_with_a_trickled_body_is_delivered_on_its_status(loop: Loop, serve: Callable[..., Platform]) -> None:
    """The status decides: a 201 whose body trickles is delivered without waiting for the body."""
    (case_id,) = loop.disposed()
    platform = serve(trickle_body(201))
    with HttpSink(platform.url, timeout=60, deadline=60) as sink:
        report = deliver(loop.book, sink, in_run_backoff=FAST)
    assert report.delivered == [case_id] and status_of(loop, case_id) == "fed_back"
    assert platform.connections[0].sent < 200  # the body was not waited for


def test_4xx_with_a_trickled_body_is_rejected_at_the_deadline(serve: Callable[..., Platform]) -> None:
    """A 422 whose reason trickles is still a rejection; the reason read so far is kept."""
    platform = serve(trickle_body(422, interval=0.05, length=2000))
    with HttpSink(platform.url, timeout=5, deadline=0.5) as sink, \
            pytest.raises(RejectedDeliveryError, match=r"HTTP 422 from \S+: x+$") as caught:
        sink.send("c1", b"{}")
    assert caught.value.status_code == 422
    assert platform.connections[0].sent < 2000


# --- body cap ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code, outcome", [(503, RetryableDeliveryError), (422, RejectedDeliveryError)])
def test_huge_error_body_is_read_up_to_the_cap_only(serve: Callable[..., Platform], code: int,
                                                    outcome: type[DeliveryError]) -> None:
    """A 4 GiB body: at most 1 MiB is read, then the connection is closed; the status decides."""
    platform = serve(huge(code))
    with HttpSink(platform.url, timeout=5) as sink, pytest.raises(outcome, match=f"HTTP {code}"):
        sink.send("c1", b"{}")
    platform.stop.set()  # ends the server's loop if the client had not closed already
    (connection,) = platform.connections
    assert connection.cut_by_client or connection.sent < 4 << 30
    # What the client read is bounded by the cap; the rest is what the kernel buffered in between.
    assert connection.sent < MAX_RESPONSE_BODY + (32 << 20)


def test_huge_body_case_stays_pending(loop: Loop, serve: Callable[..., Platform]) -> None:
    """A 5xx with a 4 GiB body in every answer: the run ends, the case stays pending."""
    (case_id,) = loop.disposed()
    platform = serve(huge(500))
    with HttpSink(platform.url, timeout=5) as sink:
        report = deliver(loop.book, sink, retry_for=0, in_run_backoff=FAST)  # one attempt
    platform.stop.set()
    assert report.left_pending == [case_id] and status_of(loop, case_id) == "disposed"
    assert "HTTP 500" in (loop.book.get(case_id).delivery.last_error or "")  # type: ignore[union-attr]
    assert all(c.sent < MAX_RESPONSE_BODY + (32 << 20) for c in platform.connections)


def test_huge_2xx_body_is_delivered_without_reading_it(serve: Callable[..., Platform]) -> None:
    """A 200 followed by 4 GiB: delivered on its status, the body is not read."""
    platform = serve(huge(200))
    with HttpSink(platform.url, timeout=5) as sink:
        assert sink.send("c1", b"{}") == 200
    platform.stop.set()
    assert platform.connections[0].sent < MAX_RESPONSE_BODY + (32 << 20)


# --- the command line over a trickling platform ------------------------------------------------------


def test_cli_feedback_against_a_trickling_platform_ends_with_the_record_budget(
        loop: Loop, serve: Callable[..., Platform], tmp_path: Path) -> None:
    """``cases feedback`` with its defaults against a platform trickling a 75 s answer: the run ends
    after the record's ~10 s budget, exit 1, the case still pending and unclaimed."""
    (case_id,) = loop.disposed()
    platform = serve(trickle_head())
    began = time.monotonic()
    done = cli("cases", "feedback", "--to", platform.url, "--json", "--db", loop.url, cwd=tmp_path)
    assert time.monotonic() - began < SAFETY
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["left_pending"] == [case_id] and "still pending" in done.stderr
    case = loop.book.get(case_id)
    assert case.status == "disposed" and case.delivery is not None and case.delivery.claimed_by is None
    assert "Traceback" not in done.stderr


# --- plain http warning --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://platform.example/f", "http://127.0.0.1:9/f", "http://localhost/f",
                                 "http://[::1]:8080/f", "http://127.8.9.10/f"])
def test_no_warning_for_https_or_loopback(url: str) -> None:
    """https, and plain http to loopback (a local relay), log no warning."""
    with structlog.testing.capture_logs() as logs:
        HttpSink(url).close()
    assert [e for e in logs if e["log_level"] == "warning"] == []


@pytest.mark.parametrize("sign_key, unsigned", [(None, True), (b"k", False)])
def test_plain_http_to_another_host_logs_one_warning(sign_key: bytes | None, unsigned: bool) -> None:
    """Plain http:// to a non-loopback host: one warning naming the host, and the missing key if any."""
    with structlog.testing.capture_logs() as logs:
        HttpSink("http://platform.example:8080/feedback?token=secret", sign_key=sign_key).close()
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["event"] == "uplink_plain_http"
    assert warnings[0]["url"] == "http://platform.example:8080/feedback"  # no query: it may hold a secret
    assert warnings[0]["signed"] is not unsigned
    assert ("no signing key" in warnings[0]["message"]) is unsigned
    assert "unmasked" in warnings[0]["message"]


def test_cli_warns_once_on_plain_http(database: Database, tmp_path: Path) -> None:
    """``cases feedback --to http://other-host`` prints one warning line (none with https); it still runs."""
    Loop(database)  # a database with records and no pending case: nothing is sent anywhere
    env = {k: v for k, v in os.environ.items() if k != UPLINK_KEY_ENV}
    plain = cli("cases", "feedback", "--to", "http://platform.example/feedback", "--db", database.url,
                cwd=tmp_path, env=env)
    assert plain.returncode == 0, plain.stderr
    lines = [line for line in plain.stderr.splitlines() if "http://" in line]
    assert len(lines) == 1 and "warning" in lines[0] and "no signing key" in lines[0]
    assert len(plain.stderr.splitlines()) == 1
    signed = cli("cases", "feedback", "--to", "http://platform.example/feedback", "--db", database.url,
                 cwd=tmp_path, env={**env, UPLINK_KEY_ENV: "k"})
    (line,) = signed.stderr.splitlines()
    assert "http://" in line and "no signing key" not in line
    tls = cli("cases", "feedback", "--to", "https://platform.example/feedback", "--db", database.url,
              cwd=tmp_path, env=env)
    assert tls.returncode == 0 and tls.stderr == ""


# --- the signing key from the environment -----------------------------------------------------------


def test_uplink_key_resolution() -> None:
    """An explicit variable wins; else JOINT_SANCTIONS_UPLINK_KEY; empty or unset means no key."""
    assert uplink_key(environ={UPLINK_KEY_ENV: "k1"}) == b"k1"
    assert uplink_key("MINE", environ={UPLINK_KEY_ENV: "k1", "MINE": "k2"}) == b"k2"
    assert uplink_key(environ={UPLINK_KEY_ENV: ""}) is None and uplink_key(environ={}) is None
    assert uplink_key(environ={UPLINK_KEY_ENV: "密钥"}) == "密钥".encode()
    with pytest.raises(DeliveryError, match="MINE is not set"):
        uplink_key("MINE", environ={UPLINK_KEY_ENV: "k1"})


def test_cli_signs_with_the_key_from_the_environment(loop: Loop, serve: Callable[..., Platform],
                                                     tmp_path: Path) -> None:
    """With JOINT_SANCTIONS_UPLINK_KEY set, every POST carries an HMAC-SM3 the platform verifies; an explicit
    ``--sign-key-env`` wins over it; an empty variable sends no signature."""
    first, second, third = loop.disposed(3)
    env = {k: v for k, v in os.environ.items() if k != UPLINK_KEY_ENV}
    platform = serve(verifying(b"shared-key"))
    done = cli("cases", "feedback", "--to", platform.url, "--db", loop.url, cwd=tmp_path,
               env={**env, UPLINK_KEY_ENV: "shared-key"})
    assert done.returncode == 0, done.stderr
    assert {status_of(loop, c) for c in (first, second, third)} == {"fed_back"}
    assert all(SIGNATURE_HEADER.lower() in r.headers for r in platform.requests)

    (fourth,) = loop.disposed()
    other = serve(verifying(b"explicit-key"))
    done = cli("cases", "feedback", "--to", other.url, "--sign-key-env", "MY_KEY", "--db", loop.url,
               cwd=tmp_path, env={**env, UPLINK_KEY_ENV: "shared-key", "MY_KEY": "explicit-key"})
    assert done.returncode == 0, done.stderr
    assert status_of(loop, fourth) == "fed_back"

    (fifth,) = loop.disposed()
    unsigned = serve(status(201))
    done = cli("cases", "feedback", "--to", unsigned.url, "--db", loop.url, cwd=tmp_path,
               env={**env, UPLINK_KEY_ENV: ""})
    assert done.returncode == 0, done.stderr
    assert status_of(loop, fifth) == "fed_back"
    assert SIGNATURE_HEADER.lower() not in unsigned.requests[0].headers


def test_wrong_environment_key_is_refused_and_the_case_kept(loop: Loop, serve: Callable[..., Platform],
                                                            tmp_path: Path) -> None:
    """A key the platform does not share: 401 stops the run with exit 1, the case stays pending."""
    (case_id,) = loop.disposed()
    platform = serve(verifying(b"right"))
    env = {**os.environ, UPLINK_KEY_ENV: "wrong"}
    done = cli("cases", "feedback", "--to", platform.url, "--db", loop.url, cwd=tmp_path, env=env)
    assert done.returncode == 1 and "HTTP 401" in done.stderr and "Traceback" not in done.stderr
    assert status_of(loop, case_id) == "disposed"
