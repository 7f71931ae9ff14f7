"""Feedback delivery: the outbox, claims, retries, sinks and the simulator, over loopback and real SQLite."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from joint_sanctions._cases import CaseBook, Outbox, case_book_for
from joint_sanctions._delivery import (
    SIGNATURE_HEADER,
    Backoff,
    DeliveryReport,
    HttpSink,
    JsonlFileSink,
    deliver,
    sign_body,
    translate_http_error,
    verify_signature,
)
from joint_sanctions._errors import DeliveryError, RejectedDeliveryError, RetryableDeliveryError
from joint_sanctions.testing import FailingSink, RecordingSink
from joint_sanctions.testing.simulator import PlatformSimulator

from .conftest import FAST, PERSON, Loop, assert_valid, cli, wait_until


@pytest.fixture
def platform() -> Iterator[PlatformSimulator]:
    """The platform simulator on a free loopback port."""
    with PlatformSimulator(hang=1.0, seed=7) as sim:
        yield sim


def statuses(book: CaseBook) -> dict[str, str]:
    return {c.case_id: c.status for c in book.list()}


def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the whole loop -------------------------------------------------------------------------------


def test_whole_lifecycle_through_engine_and_simulator(loop: Loop, platform: PlatformSimulator) -> None:
    """Check → case responded → disposed → POSTed once → fed_back; the platform got the queued record."""
    result = loop.engine.check({"id": PERSON, "name": "张三"}, "civil_servant_hiring", item_code="GWY-2025")
    assert result.case_id is not None and loop.book.get(result.case_id).status == "responded"
    loop.book.dispose(result.case_id, "applied", text="不予录用", department="郑州市人社局", department_code="HR")
    assert loop.book.get(result.case_id).status == "disposed"
    with HttpSink(platform.url, timeout=2) as sink:
        report = deliver(loop.book, sink)
    assert report.ok and report.delivered == [result.case_id]
    case = loop.book.get(result.case_id)
    assert case.status == "fed_back" and case.delivery is not None
    assert (case.delivery.status_code, case.delivery.attempts) == (201, 1)
    assert platform.accepted[result.case_id] == loop.book.feedback(result.case_id).model_dump(mode="json")
    assert platform.accepted[result.case_id]["subject"]["id"] == PERSON  # unmasked for the platform
    assert [r.key for r in platform.requests] == [result.case_id] and platform.invalid == []
    assert loop.book.stats().delivered == 1


def test_every_payload_sent_is_valid_v1(loop: Loop, platform: PlatformSimulator) -> None:
    """Every body the simulator received validates against the shipped schema, here and there."""
    loop.disposed(3)
    loop.disposed(2, PERSON, "civil_servant_hiring")
    with HttpSink(platform.url, timeout=2) as sink:
        assert deliver(loop.book, sink).ok
    assert len(platform.requests) == 5 and platform.invalid == []
    for received in platform.requests:
        assert received.status == 201
        assert_valid(json.loads(received.body))


def test_request_carries_idempotency_key_and_content_length(loop: Loop) -> None:
    """One POST per record: JSON body with Content-Length, Idempotency-Key = case_id, bearer token."""
    (case_id,) = loop.disposed()
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    with HttpSink("https://platform.example/feedback", token="t0k", transport=httpx.MockTransport(answer)) as sink:
        assert deliver(loop.book, sink).ok
    (request,) = seen
    assert request.method == "POST" and request.headers["Idempotency-Key"] == case_id
    assert request.headers["Content-Length"] == str(len(request.content))
    assert "Transfer-Encoding" not in request.headers
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["Authorization"] == "Bearer t0k"
    assert request.content == loop.book.feedback(case_id).to_bytes()


# --- retries ---------------------------------------------------------------------------------------


def test_5xx_are_retried_with_backoff_then_delivered(loop: Loop, platform: PlatformSimulator) -> None:
    """500, 502 and 503 in a row are retried within the run; the fourth attempt delivers."""
    (case_id,) = loop.disposed()
    platform.script([500, 502, 503])
    with HttpSink(platform.url, timeout=2) as sink:
        report = deliver(loop.book, sink, in_run_backoff=FAST)
    assert report.ok and report.attempts == 4
    assert [r.status for r in platform.requests] == [500, 502, 503, 201]
    assert loop.book.get(case_id).delivery.attempts == 4  # type: ignore[union-attr]


def test_timeouts_are_retried_then_delivered(loop: Loop, platform: PlatformSimulator) -> None:
    """A platform that does not answer within the timeout is tried again; the case is not lost."""
    (case_id,) = loop.disposed()
    platform.script(["timeout", "timeout"])
    with HttpSink(platform.url, timeout=0.2) as sink:
        report = deliver(loop.book, sink, in_run_backoff=FAST)
    assert report.ok and report.delivered == [case_id]
    assert platform.faults["timeout"] == 2 and list(platform.accepted) == [case_id]


def test_lost_answer_is_resent_and_409_counts_as_delivered(loop: Loop, platform: PlatformSimulator) -> None:
    """The platform kept the record but the answer was lost: the resend gets 409, the case is fed back."""
    (case_id,) = loop.disposed()
    platform.script(["lost"])
    with HttpSink(platform.url, timeout=0.2) as sink:
        report = deliver(loop.book, sink, in_run_backoff=Backoff(base=1.0, cap=1.0))
    assert report.ok
    assert platform.duplicates == [case_id] and platform.mismatched == []
    case = loop.book.get(case_id)
    assert case.status == "fed_back" and case.delivery is not None and case.delivery.status_code == 409


def test_409_from_a_platform_that_already_has_the_case_is_delivered(loop: Loop,
                                                                    platform: PlatformSimulator) -> None:
    """A record the platform already holds (409) is marked delivered, not rejected."""
    (case_id,) = loop.disposed()
    body = loop.book.feedback(case_id).to_bytes()
    first = httpx.post(platform.url, content=body, headers={"Idempotency-Key": case_id})
    assert first.status_code == 201
    with HttpSink(platform.url) as sink:
        report = deliver(loop.book, sink)
    assert report.ok and loop.book.get(case_id).status == "fed_back"
    assert platform.duplicates == [case_id]


def test_retry_budget_spent_leaves_the_case_pending_with_a_stored_schedule(loop: Loop,
                                                                           platform: PlatformSimulator) -> None:
    """When 5xx last beyond ``retry_for`` the case stays pending, counted and scheduled for later."""
    (case_id,) = loop.disposed()
    platform.error_rate = 1.0
    began = time.time()
    with HttpSink(platform.url) as sink:
        report = deliver(loop.book, sink, retry_for=0.3, in_run_backoff=FAST)
    assert not report.ok and report.left_pending == [case_id] and report.pending_after == 1
    case = loop.book.get(case_id)
    assert case.status == "disposed" and case.delivery is not None
    # Every attempt reached the platform but perhaps the last, which the record's budget may cut short
    # before its request is sent (a loaded machine); a cut-short attempt still counts as one.
    assert len(platform.requests) >= 2 and case.delivery.attempts - len(platform.requests) in (0, 1)
    assert case.delivery.last_error is not None and case.delivery.claimed_by is None
    assert "HTTP 503" in case.delivery.last_error or "attempt abandoned" in case.delivery.last_error
    assert case.delivery.next_attempt_at is not None
    assert case.delivery.next_attempt_at.timestamp() >= began + 15  # SCHEDULED_BACKOFF: ≥ half of 30 s
    platform.error_rate = 0.0
    with HttpSink(platform.url) as sink:  # a one-off run does not wait for the schedule
        assert deliver(loop.book, sink).delivered == [case_id]


def test_a_backoff_wait_that_overruns_the_budget_makes_no_attempt_that_cannot_send(
        loop: Loop, platform: PlatformSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a loaded machine a backoff wait may end after the record's budget: the run then leaves the case
    for its stored schedule instead of counting an attempt abandoned before it could send."""
    from joint_sanctions import _delivery

    (case_id,) = loop.disposed()
    platform.error_rate = 1.0
    waited = _delivery._Run.wait
    monkeypatch.setattr(_delivery._Run, "wait", lambda run, seconds: waited(run, seconds + 0.5))  # overrun
    with HttpSink(platform.url) as sink:
        report = deliver(loop.book, sink, retry_for=0.3, in_run_backoff=FAST)
    case = loop.book.get(case_id)
    assert report.left_pending == [case_id] and case.status == "disposed" and case.delivery is not None
    assert case.delivery.attempts == len(platform.requests) == 1
    assert case.delivery.claimed_by is None and case.delivery.next_attempt_at is not None


def test_refused_connection_is_retryable_and_loses_nothing(loop: Loop) -> None:
    """Nobody listening: each attempt is refused, the case stays pending for the next run."""
    (case_id,) = loop.disposed()
    with HttpSink(f"http://127.0.0.1:{free_port()}/feedback", timeout=1) as sink:
        with pytest.raises(RetryableDeliveryError, match="connection failed"):
            sink.send(case_id, b"{}")
        report = deliver(loop.book, sink, retry_for=0.2, in_run_backoff=FAST)
    assert report.left_pending == [case_id] and loop.book.get(case_id).status == "disposed"


def test_long_running_sender_follows_the_stored_schedule(loop: Loop, platform: PlatformSimulator) -> None:
    """``forever=True`` sends as records fall due and waits for the stored backoff after a failure."""
    (case_id,) = loop.disposed()
    platform.script([503])
    stop = threading.Event()
    with HttpSink(platform.url) as sink:
        sender = threading.Thread(target=deliver, args=(loop.book, sink), kwargs={
            "forever": True, "stop": stop, "retry_for": 0, "poll_interval": 0.02,
            "scheduled_backoff": Backoff(base=0.6, cap=0.6)})
        sender.start()
        try:
            assert platform.wait_for(1, timeout=5)
            more = loop.disposed()  # disposed while the sender runs: picked up without a restart
            assert platform.wait_for(2, timeout=5)
        finally:
            stop.set()
            sender.join(5)
    first, second = platform.requests[0], next(r for r in platform.requests if r.key == case_id and r.status == 201)
    assert first.status == 503 and second.at - first.at >= 0.3  # waited half the scheduled 0.6 s at least
    assert set(platform.accepted) == {case_id, *more} and not sender.is_alive()


# --- rejection and configuration errors --------------------------------------------------------------


def test_4xx_rejects_the_record_keeps_it_visible_and_never_retries_it(loop: Loop,
                                                                      platform: PlatformSimulator) -> None:
    """A 422 marks the case rejected, visible in ``cases list --status rejected``, and no run resends it."""
    rejected, fine = loop.disposed(2)
    platform.script([422])
    with HttpSink(platform.url) as sink:
        report = deliver(loop.book, sink)
    assert not report.ok and [c for c, _ in report.rejected] == [rejected] and report.delivered == [fine]
    case = loop.book.get(rejected)
    assert case.status == "rejected" and case.delivery is not None and case.delivery.status_code == 422
    assert "HTTP 422" in (case.delivery.last_error or "")
    assert [c.case_id for c in loop.book.list("rejected")] == [rejected]
    listed = cli("cases", "list", "--status", "rejected", "--json", "--db", loop.url, cwd=loop.database.workdir)
    assert [c["case_id"] for c in json.loads(listed.stdout)] == [rejected]
    sent = len(platform.requests)
    with HttpSink(platform.url) as sink:
        again = deliver(loop.book, sink)
    assert again.ok and again.attempts == 0 and len(platform.requests) == sent


def test_refused_credentials_stop_the_run_and_reject_nothing(loop: Loop) -> None:
    """A 401 is the sink's fault, not the record's: the run stops, every case stays pending."""
    ids = loop.disposed(2)
    with PlatformSimulator(token="right") as platform:
        with HttpSink(platform.url, token="wrong") as sink, pytest.raises(DeliveryError, match="HTTP 401"):
            deliver(loop.book, sink)
        assert len(platform.requests) == 1
        assert set(statuses(loop.book).values()) == {"disposed"}
        with HttpSink(platform.url, token="right") as sink:
            assert sorted(deliver(loop.book, sink).delivered) == sorted(ids)


def test_hmac_sm3_signature_is_verified_by_the_platform(loop: Loop) -> None:
    """With a shared key the body is signed with HMAC-SM3; the simulator accepts it and refuses a wrong key."""
    ids = loop.disposed(2)
    key = "共享密钥-2025".encode()
    with PlatformSimulator(sign_key=key) as platform:
        with HttpSink(platform.url, sign_key=b"not the key") as sink, pytest.raises(DeliveryError, match="401"):
            deliver(loop.book, sink)
        assert platform.accepted == {}
        with HttpSink(platform.url, sign_key=key) as sink:
            assert sorted(deliver(loop.book, sink).delivered) == sorted(ids)
    for received in platform.requests[1:]:
        assert received.status == 201


def test_signature_is_hmac_sm3_of_the_exact_bytes() -> None:
    """The signature changes with any byte of the body or the key, and verifies in constant time."""
    body, key = b'{"case_id":"c1"}', b"k"
    signature = sign_body(body, key)
    assert len(signature) == 64 and verify_signature(body, key, signature)
    assert verify_signature(body, key, signature.upper())
    assert not verify_signature(body + b" ", key, signature)
    assert not verify_signature(body, b"K", signature) and not verify_signature(body, key, None)
    assert SIGNATURE_HEADER == "X-Signature-HMAC-SM3"


@pytest.mark.parametrize("status, outcome", [
    (200, "delivered"), (201, "delivered"), (202, "delivered"), (204, "delivered"), (409, "delivered"),
    (400, RejectedDeliveryError), (404, RejectedDeliveryError), (410, RejectedDeliveryError),
    (422, RejectedDeliveryError),
    (500, RetryableDeliveryError), (502, RetryableDeliveryError), (503, RetryableDeliveryError),
    (504, RetryableDeliveryError), (408, RetryableDeliveryError), (429, RetryableDeliveryError),
    (401, DeliveryError), (403, DeliveryError), (302, DeliveryError),
])
def test_status_codes_map_to_outcomes(platform: PlatformSimulator, status: int,
                                      outcome: str | type[DeliveryError]) -> None:
    """2xx/409 deliver; other 4xx reject; 5xx, 408, 429 retry; 401/403 and 3xx are configuration errors."""
    platform.script([status])
    with HttpSink(platform.url) as sink:
        if outcome == "delivered":
            assert sink.send("c1", b"{}") == status
            return
        assert isinstance(outcome, type)
        with pytest.raises(outcome) as caught:
            sink.send("c1", b"{}")
    assert type(caught.value) is outcome and f"HTTP {status}" in str(caught.value)
    if outcome is RejectedDeliveryError:
        assert caught.value.status_code == status  # type: ignore[attr-defined]


def _httpx_exceptions() -> list[type[Exception]]:
    return sorted({obj for name in dir(httpx) if isinstance(obj := getattr(httpx, name), type)
                   and issubclass(obj, Exception) and obj.__module__.startswith("httpx")}, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", _httpx_exceptions(), ids=lambda c: c.__name__)
def test_every_httpx_exception_is_translated(cls: type[Exception]) -> None:
    """No httpx exception leaves HttpSink untranslated; network trouble and timeouts are retryable."""
    from joint_sanctions._http_sink import _HTTPX_ERRORS

    assert issubclass(cls, _HTTPX_ERRORS), f"{cls.__name__} would escape HttpSink.send"
    request = httpx.Request("POST", "http://127.0.0.1/feedback")
    params = inspect.signature(cls).parameters
    kwargs: dict[str, Any] = {}
    if "request" in params:
        kwargs["request"] = request
    if "response" in params:
        kwargs["response"] = httpx.Response(503, request=request)
    exc = cls("boom", **kwargs) if "message" in params else cls(**kwargs)
    translated = translate_http_error(exc)
    assert isinstance(translated, DeliveryError)
    if issubclass(cls, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        assert isinstance(translated, RetryableDeliveryError)
    if issubclass(cls, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError):
        assert type(translated) is DeliveryError


def test_bad_sink_settings_are_refused_up_front(tmp_path: Path) -> None:
    """A non-http URL, a missing CA file and a client certificate without verification fail at once."""
    with pytest.raises(DeliveryError, match="not an http"):
        HttpSink("ftp://platform.example/x")
    with pytest.raises(DeliveryError, match=r"not an http\(s\) URL: 'platform.example/x' \(e.g. https://"):
        HttpSink("platform.example/x")  # the scheme forgotten: the message quotes what was typed
    with pytest.raises(DeliveryError, match="cannot load TLS"):
        HttpSink("https://platform.example/x", verify=str(tmp_path / "missing.pem"))
    with pytest.raises(DeliveryError, match="without server verification"):
        HttpSink("https://platform.example/x", verify=False, cert=str(tmp_path / "c.pem"))


# --- the JSON Lines sink ----------------------------------------------------------------------------


def test_jsonl_sink_appends_one_valid_line_per_record(loop: Loop, tmp_path: Path) -> None:
    """Each delivered record is one JSON line, valid v1, in delivery order; the cases are fed back."""
    ids = loop.disposed(3)
    out = tmp_path / "drop" / "feedback.jsonl"
    with JsonlFileSink(out) as sink:
        assert deliver(loop.book, sink).delivered == ids
    lines = out.read_bytes().splitlines()
    assert [json.loads(line)["case_id"] for line in lines] == ids
    for line in lines:
        assert_valid(json.loads(line))
    assert set(statuses(loop.book).values()) == {"fed_back"}


def test_jsonl_sink_closes_a_torn_line_before_appending(tmp_path: Path) -> None:
    """A line cut short by a crash stays alone on its line; the next record starts a line of its own."""
    out = tmp_path / "feedback.jsonl"
    out.write_bytes(b'{"case_id": "a"}\n{"case_id": "b", "tor')
    with JsonlFileSink(out) as sink:
        sink.send("c", b'{"case_id":"c"}')
        with pytest.raises(DeliveryError, match="several lines"):
            sink.send("d", b'{"case_id":\n"d"}')
    assert out.read_bytes().splitlines() == [b'{"case_id": "a"}', b'{"case_id": "b", "tor', b'{"case_id":"c"}']


def test_cli_feedback_out_writes_the_file_and_exits_0(loop: Loop, tmp_path: Path) -> None:
    """``cases feedback --out FILE.jsonl`` delivers everything pending and exits 0."""
    ids = loop.disposed(2)
    done = cli("cases", "feedback", "--out", str(tmp_path / "f.jsonl"), "--db", loop.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "delivered 2" in done.stdout
    assert [json.loads(line)["case_id"] for line in (tmp_path / "f.jsonl").read_text().splitlines()] == ids


# --- the command line ---------------------------------------------------------------------------------


def test_cli_feedback_exit_codes(loop: Loop, platform: PlatformSimulator, tmp_path: Path) -> None:
    """Exit 1 when a record is rejected in the run or left pending; 0 once everything is delivered."""
    loop.disposed(2)
    platform.script([422])
    rejected = cli("cases", "feedback", "--to", platform.url, "--db", loop.url, cwd=tmp_path)
    assert rejected.returncode == 1 and "rejected by the platform: HTTP 422" in rejected.stderr
    assert "Traceback" not in rejected.stderr
    loop.disposed()
    nobody = f"http://127.0.0.1:{free_port()}/feedback"
    pending = cli("cases", "feedback", "--to", nobody, "--retry-for", "0.3", "--json", "--db", loop.url, cwd=tmp_path)
    assert pending.returncode == 1 and json.loads(pending.stdout)["pending_after"] == 1
    assert "still pending" in pending.stderr
    fine = cli("cases", "feedback", "--to", platform.url, "--db", loop.url, cwd=tmp_path)
    assert fine.returncode == 0, fine.stderr
    assert json.loads(cli("cases", "stats", "--json", "--db", loop.url, cwd=tmp_path).stdout)["delivered"] == 2


def test_cli_feedback_with_token_and_signing_key_from_the_environment(loop: Loop, tmp_path: Path) -> None:
    """``--token-env`` and ``--sign-key-env`` read secrets from the environment; a missing one is exit 1."""
    loop.disposed()
    env = {**os.environ, "PLATFORM_TOKEN": "tok", "PLATFORM_KEY": "k3y"}
    with PlatformSimulator(token="tok", sign_key=b"k3y") as platform:
        missing = cli("cases", "feedback", "--to", platform.url, "--sign-key-env", "NOT_SET_ANYWHERE",
                      "--db", loop.url, cwd=tmp_path)
        assert missing.returncode == 1 and "NOT_SET_ANYWHERE is not set" in missing.stderr
        done = cli("cases", "feedback", "--to", platform.url, "--token-env", "PLATFORM_TOKEN",
                   "--sign-key-env", "PLATFORM_KEY", "--db", loop.url, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert len(platform.accepted) == 1


# --- claims and concurrency ------------------------------------------------------------------------


def test_two_runs_in_threads_never_send_the_same_case(loop: Loop, platform: PlatformSimulator) -> None:
    """Two delivery runs (own connections, several workers each) share 60 cases without a duplicate."""
    ids = loop.disposed(60)
    platform.delay = 0.005
    books = [case_book_for(loop.database.open()) for _ in range(2)]
    reports: list[Any] = []
    with HttpSink(platform.url) as sink:
        runs = [threading.Thread(target=lambda b=b: reports.append(deliver(b, sink, workers=3))) for b in books]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
    assert sorted(platform.accepted) == sorted(ids)
    assert platform.duplicates == [] and platform.overlapping == [] and len(platform.requests) == 60
    assert sorted(c for r in reports for c in r.delivered) == sorted(ids)


def test_two_processes_never_send_the_same_case(loop: Loop, platform: PlatformSimulator, tmp_path: Path) -> None:
    """Two ``cases feedback`` processes at once: every case sent exactly once, both exit 0."""
    ids = loop.disposed(120)
    platform.delay = 0.005
    command = [sys.executable, "-m", "joint_sanctions", "cases", "feedback", "--to", platform.url, "--db", loop.url]
    procs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sorted(platform.accepted) == sorted(ids)
    assert platform.duplicates == [] and platform.overlapping == [] and len(platform.requests) == 120
    delivered = [int(out.split("delivered ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(delivered) == 120 and min(delivered) > 0  # both really worked at once


class WatchedRun:
    """A one-off :func:`deliver` run on a thread of its own, over an outbox on a clock the test moves,
    counting how often the run looks for a record to claim."""

    def __init__(self, loop: Loop, clock: list[float]) -> None:
        self.looks = 0
        watched = self

        class CountsLooks(Outbox):
            def claim(self, **kwargs: Any) -> Any:
                watched.looks += 1
                return super().claim(**kwargs)

        loop.book.outbox = CountsLooks(loop.book.backend, now=lambda: clock[0])
        self.loop = loop
        self.outcome: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self.outcome["report"] = deliver(self.loop.book, self.sink, poll_interval=0.01)
        except BaseException as exc:  # noqa: BLE001 -- handed to the test's thread by finish()
            self.outcome["error"] = exc

    def start(self, sink: HttpSink) -> None:
        self.sink = sink
        self.thread.start()

    def still_waiting_after_more_looks(self, platform: PlatformSimulator, looks: int = 3) -> bool:
        """True when the run has looked ``looks`` more times, is still running and has sent nothing."""
        seen = self.looks
        wait_until(lambda: self.looks >= seen + looks or not self.thread.is_alive())
        return self.thread.is_alive() and platform.requests == []

    def finish(self) -> DeliveryReport:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive() and "error" not in self.outcome, self.outcome
        report: DeliveryReport = self.outcome["report"]
        return report


def test_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(loop: Loop,
                                                                    platform: PlatformSimulator) -> None:
    """A process that claimed a record and died leaves it pending; the next run takes it over at once."""
    (case_id,) = loop.disposed()
    code = ("import sys, os; from joint_sanctions.stores import open_store; "
            "from joint_sanctions._cases import case_book_for; "
            "c = case_book_for(open_store(sys.argv[1])).outbox.claim(); print(c.case_id, flush=True); os._exit(0)")
    child = subprocess.Popen([sys.executable, "-c", code, loop.url], stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate(timeout=30)
    assert out.strip() == case_id
    delivery = loop.book.get(case_id).delivery
    assert delivery is not None and delivery.claimed_by == f"{socket.gethostname()}:{child.pid}"
    with HttpSink(platform.url) as sink:
        report = deliver(loop.book, sink)
    assert report.delivered == [case_id] and report.taken_over == 1  # taken over, not waited out


def test_claim_of_a_live_holder_is_respected_until_its_lease_ends(loop: Loop, platform: PlatformSimulator) -> None:
    """A record claimed by a live process of this host is not sent until that lease runs out."""
    (case_id,) = loop.disposed()
    clock = [time.time()]
    holder = Outbox(loop.book.backend, now=lambda: clock[0])  # this live process, another outbox
    assert holder.claim(lease=60) is not None
    run = WatchedRun(loop, clock)
    with HttpSink(platform.url) as sink:
        run.start(sink)
        assert run.still_waiting_after_more_looks(platform)
        clock[0] += 59.0
        assert run.still_waiting_after_more_looks(platform)  # a second before the end: still held
        clock[0] += 1.5
        report = run.finish()
    assert report.delivered == [case_id] and report.taken_over == 0
    assert platform.duplicates == []


def test_a_lease_that_runs_out_while_the_run_looks_elsewhere_is_still_sent(loop: Loop,
                                                                            platform: PlatformSimulator) -> None:
    """A one-off run never ends with a record pending because another's lease ran out between two looks."""
    (case_id,) = loop.disposed()
    clock = [time.time()]
    elsewhere = Outbox(loop.book.backend, host="other-host", now=lambda: clock[0])
    assert elsewhere.claim(lease=5.0) is not None

    class ExpiresAfterEachLook(Outbox):
        def claim(self, **kwargs: Any) -> Any:
            claim = super().claim(**kwargs)
            if claim is None:
                clock[0] += 10.0  # the other run's lease ends just after this look found it held
            return claim

    loop.book.outbox = ExpiresAfterEachLook(loop.book.backend, now=lambda: clock[0])
    with HttpSink(platform.url) as sink:
        report = deliver(loop.book, sink, poll_interval=0.01)
    assert report.delivered == [case_id] and report.left_pending == []


def test_claim_of_another_host_is_taken_after_its_lease(loop: Loop, platform: PlatformSimulator) -> None:
    """Another host's holder cannot be probed, even when it is gone: a run waits for its claim and sends
    the record only once the lease has run out."""
    (case_id,) = loop.disposed()
    clock = [time.time()]
    # A process of another host claims the record for 60 s and exits: its pid means nothing here.
    code = ("import sys; from joint_sanctions.stores import open_store; "
            "from joint_sanctions._cases import case_book_for; from joint_sanctions._outbox import Outbox; "
            "book = case_book_for(open_store(sys.argv[1])); "
            "t = float(sys.argv[2]); c = Outbox(book.backend, host='other-host', now=lambda: t).claim(lease=60); "
            "print(c.case_id)")
    held = subprocess.run([sys.executable, "-c", code, loop.url, repr(clock[0])], capture_output=True, text=True,
                          timeout=60, check=True)
    assert held.stdout.strip() == case_id
    run = WatchedRun(loop, clock)
    assert loop.book.outbox.claim() is None and loop.book.outbox.take_over_dead() == 0
    with HttpSink(platform.url) as sink:
        run.start(sink)
        assert run.still_waiting_after_more_looks(platform)  # nothing sent during the lease
        clock[0] += 59.0
        assert run.still_waiting_after_more_looks(platform)  # a second before the end: still held
        clock[0] += 1.5
        report = run.finish()
    assert report.delivered == [case_id] and report.taken_over == 0


def test_an_interrupted_send_leaves_the_case_pending(loop: Loop, platform: PlatformSimulator) -> None:
    """Ctrl-C in the middle of a send releases the claim: the next run sends the case at once."""
    (case_id,) = loop.disposed()

    with pytest.raises(KeyboardInterrupt):
        deliver(loop.book, FailingSink(KeyboardInterrupt()))
    case = loop.book.get(case_id)
    assert case.status == "disposed" and case.delivery is not None and case.delivery.claimed_by is None
    with HttpSink(platform.url) as sink:
        assert deliver(loop.book, sink).delivered == [case_id]


def test_delivery_logs_mask_resident_ids(loop: Loop, platform: PlatformSimulator) -> None:
    """Retry, rejection and delivery log lines never carry a natural person's full id."""
    loop.disposed(2, PERSON, "civil_servant_hiring")
    platform.script([503, 400])
    with structlog.testing.capture_logs() as logs, HttpSink(platform.url) as sink:
        deliver(loop.book, sink, in_run_backoff=FAST)
    assert {e["event"] for e in logs} >= {"feedback_retry", "feedback_rejected", "feedback_delivered"}
    assert PERSON not in repr(logs)
    assert all(PERSON not in (c.delivery.last_error or "") for c in loop.book.list() if c.delivery)


def test_recording_sink_scripts_failures(loop: Loop) -> None:
    """The shipped RecordingSink raises the scripted errors, then records what it delivers."""
    ids = loop.disposed(2)
    sink = RecordingSink([RetryableDeliveryError("blip")])
    report = deliver(loop.book, sink, in_run_backoff=FAST)
    assert report.delivered == ids and sink.calls == [ids[0], ids[0], ids[1]]
    assert [p["case_id"] for p in sink.payloads] == ids
