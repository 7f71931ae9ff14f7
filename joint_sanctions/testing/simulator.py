"""A provincial credit platform simulator, for the demo and the tests (loopback only).

It receives feedback records as the platform would and misbehaves on request::

    with PlatformSimulator(script=[503, "timeout"], hang=1.0) as platform:
        deliver(book, HttpSink(platform.url, timeout=0.5))
        platform.accepted          # case_id → payload, each case once

Each ``POST`` (any path) is answered:

- an injected fault first, when one is due: the next item of ``script`` (an HTTP status code;
  ``"timeout"``: wait ``hang`` seconds, then 504 without keeping the record; ``"lost"``: keep the
  record, then wait ``hang`` seconds before answering, as when an answer never reaches the sender;
  ``"ok"``: no fault), else a 503 with probability ``error_rate`` or a timeout with probability
  ``timeout_rate``;
- 411 without Content-Length; 401 when a token is required and missing or wrong, or when a signing
  key is set and ``X-Signature-HMAC-SM3`` does not match the body;
- 400 with the reason when the ``Idempotency-Key`` header is missing, the body is not JSON, is not
  valid against the shipped feedback v1 schema, or names another case than the key;
- 409 when the key was accepted before (counted in :attr:`duplicates`), else 201.

A request whose body ends before its Content-Length (the sender died) is dropped unanswered and
counted in :attr:`truncated`.

Every answer waits ``delay`` seconds after the record is kept, which widens the window in which a
sender can die after the platform has its record. ``GET /received`` gives a summary as JSON.

Run ``python -m joint_sanctions.testing.simulator --port 8765`` for the demo; it prints each record kept, and
requires signatures with the key of ``--sign-key-env VAR``, else of ``JOINT_SANCTIONS_UPLINK_KEY`` when set.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from .._delivery import SIGNATURE_HEADER, UPLINK_KEY_ENV, uplink_key, verify_signature
from .._errors import DeliveryError
from .._feedback import shipped_schema_text
from .._identifiers import mask, mask_text

__all__ = ["PlatformSimulator", "Received", "main"]

_HOST = "127.0.0.1"  # loopback only: the simulator is never reachable from the network
Fault = int | str


@dataclass(frozen=True)
class Received:
    """One POST as the simulator saw it and answered it."""

    key: str | None
    body: bytes
    status: int
    reason: str
    at: float


_NEEDS_JSONSCHEMA = ("the platform simulator validates with jsonschema: pip install 'joint-sanctions[testing]' "
                     "/ 平台模拟器需要 jsonschema")


def _validator() -> Any:
    try:
        import jsonschema
    except ImportError as exc:  # the simulator is for demos and tests; the library does not need it
        raise ImportError(_NEEDS_JSONSCHEMA) from exc
    schema = json.loads(shipped_schema_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


class PlatformSimulator:
    """A local HTTP server standing in for the provincial credit platform.

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one (see :attr:`url`).
        token: when set, requests must carry ``Authorization: Bearer <token>``.
        sign_key: when set, requests must carry a matching HMAC-SM3 signature of the body.
        script: faults for the next requests, in order (see the module docstring).
        error_rate: probability of a 503 once the script is used up.
        timeout_rate: probability of a timeout (wait ``hang``, no record kept) likewise.
        delay: seconds every answer waits after the record is kept.
        hang: seconds a timeout or a lost answer waits.
        seed: seeds the random faults.
        on_accept: called with each newly kept payload (the demo prints it).
    """

    def __init__(self, port: int = 0, *, token: str | None = None, sign_key: bytes | None = None,
                 script: Iterable[Fault] = (), error_rate: float = 0.0, timeout_rate: float = 0.0,
                 delay: float = 0.0, hang: float = 2.0, seed: int | None = None,
                 on_accept: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._validator = _validator()
        self.token = token
        self.sign_key = sign_key
        self.error_rate = error_rate
        self.timeout_rate = timeout_rate
        self.delay = delay
        self.hang = hang
        self._on_accept = on_accept
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._script: collections.deque[Fault] = collections.deque(script)
        #: every POST, in arrival order
        self.requests: list[Received] = []
        #: case_id → payload of each record kept, first arrival only
        self.accepted: dict[str, dict[str, Any]] = {}
        self._bodies: dict[str, bytes] = {}
        #: keys answered 409, once per resend
        self.duplicates: list[str] = []
        #: keys resent with a different body than the one kept (never expected)
        self.mismatched: list[str] = []
        #: (key, reason) of records answered 400
        self.invalid: list[tuple[str | None, str]] = []
        #: faults injected, by kind
        self.faults: collections.Counter[str] = collections.Counter()
        self._in_flight: collections.Counter[str] = collections.Counter()
        #: keys that arrived while a request with the same key was still being answered
        self.overlapping: list[str] = []
        #: keys of requests whose body ended before Content-Length (the sender died): dropped
        self.truncated: list[str | None] = []
        self._server = _Server((_HOST, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Where to POST feedback records."""
        return f"http://{_HOST}:{self.port}/feedback"

    def script(self, faults: Iterable[Fault]) -> None:
        """Queue more faults for the next requests."""
        with self._lock:
            self._script.extend(faults)

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="platform-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def summary(self) -> dict[str, Any]:
        """Counts as ``GET /received`` gives them."""
        with self._lock:
            return {"requests": len(self.requests), "accepted": len(self.accepted),
                    "duplicates": len(self.duplicates), "mismatched": len(self.mismatched),
                    "invalid": len(self.invalid), "overlapping": len(self.overlapping),
                    "truncated": len(self.truncated),
                    "faults": dict(self.faults)}

    def wait_for(self, accepted: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``accepted`` records are kept; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.accepted) >= accepted:
                    return True
            time.sleep(0.01)
        return False

    # --- answering one request ----------------------------------------------------------------------

    def _next_fault(self) -> Fault:
        with self._lock:
            fault: Fault
            if self._script:
                fault = self._script.popleft()
            else:
                roll = self._rng.random()
                fault = (503 if roll < self.error_rate
                         else "timeout" if roll < self.error_rate + self.timeout_rate else "ok")
            if fault != "ok":
                self.faults[str(fault)] += 1
            return fault

    def _handle(self, headers: Any, body: bytes) -> tuple[int, str, str | None, float]:
        """(status, reason, key, seconds to wait before answering) for one POST."""
        key = headers.get("Idempotency-Key")
        fault = self._next_fault()
        if isinstance(fault, int):
            return fault, f"injected {fault}", key, self.delay
        if fault == "timeout":
            return 504, "injected timeout", key, self.hang
        if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, "missing or wrong bearer token", key, self.delay
        if self.sign_key is not None and not verify_signature(body, self.sign_key, headers.get(SIGNATURE_HEADER)):
            return 401, f"missing or wrong {SIGNATURE_HEADER}", key, self.delay
        if not key:
            return 400, "missing Idempotency-Key header", key, self.delay
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return 400, f"body is not JSON: {exc}", key, self.delay
        error = next(iter(sorted(self._validator.iter_errors(payload), key=lambda e: list(e.path))), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return 400, mask_text(f"not valid feedback v1 at {where}: {error.message}"), key, self.delay
        if payload.get("case_id") != key:
            return 400, "Idempotency-Key does not match the payload's case_id", key, self.delay
        with self._lock:
            if key in self.accepted:
                self.duplicates.append(key)
                if self._bodies[key] != body:
                    self.mismatched.append(key)
                return 409, "duplicate: this case was received before", key, self.delay
            self.accepted[key] = payload
            self._bodies[key] = body
        if self._on_accept is not None:
            self._on_accept(payload)
        return 201, "accepted", key, self.hang if fault == "lost" else self.delay

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)
            if received.status == 400:
                self.invalid.append((received.key, received.reason))

    def _truncated(self, key: str | None) -> None:
        with self._lock:
            self.truncated.append(key)

    def _enter(self, key: str | None) -> None:
        if key is None:
            return
        with self._lock:
            if self._in_flight[key]:
                self.overlapping.append(key)
            self._in_flight[key] += 1

    def _leave(self, key: str | None) -> None:
        if key is None:
            return
        with self._lock:
            self._in_flight[key] -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender killed or timed out mid-request resets its connection: expected here, not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _handler_for(sim: PlatformSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real platform's front end would
        # Headers and body go out in two writes; with Nagle on, the second waits for a delayed ACK
        # (40 ms a request on Linux), which would make the simulator, not the sender, the bottleneck.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self._answer(411, {"error": "Content-Length required"})
                return
            body = self.rfile.read(int(length))
            key = self.headers.get("Idempotency-Key")
            if len(body) < int(length):
                # The sender died mid-body: like a real front end, drop the request unanswered.
                sim._truncated(key)
                self.close_connection = True
                return
            sim._enter(key)
            try:
                status, reason, key, wait = sim._handle(self.headers, body)
                sim._record(Received(key=key, body=body, status=status, reason=reason, at=time.time()))
                if wait:
                    time.sleep(wait)
            finally:
                sim._leave(key)
            self._answer(status, {"status": status, "reason": reason, "case_id": key})

        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/received":
                self._answer(404, {"error": "not found"})
                return
            self._answer(200, sim.summary())

        def _answer(self, status: int, doc: dict[str, Any]) -> None:
            data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting (a simulated timeout): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the demo prints what it receives itself."""

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m joint_sanctions.testing.simulator``: serve until interrupted, printing each record kept."""
    parser = argparse.ArgumentParser(prog="python -m joint_sanctions.testing.simulator",
                                     description="Provincial credit platform simulator (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0 = any free one)")
    parser.add_argument("--token-env", metavar="VAR", help="require the bearer token held in VAR")
    parser.add_argument("--sign-key-env", metavar="VAR",
                        help=f"require HMAC-SM3 signatures with the key in VAR (default: {UPLINK_KEY_ENV} "
                             "when set, as the senders do)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered 503")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="fraction of requests left hanging")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds every answer waits")
    parser.add_argument("--hang", type=float, default=15.0, help="seconds a hanging request waits")
    parser.add_argument("--seed", type=int, help="seed of the random faults")
    args = parser.parse_args(argv)

    def secret(var: str | None) -> str | None:
        if var is None:
            return None
        value = os.environ.get(var)
        if not value:
            parser.error(f"environment variable {var} is not set")
        return value

    def show(payload: dict[str, Any]) -> None:
        subject = payload["subject"]
        print(f"received case {payload['case_id']}: {subject['name'] or '-'} ({mask(subject['id'])}) "
              f"{payload['matter']['matter_type']} {payload['kind']} {payload['result']} "
              f"[{', '.join(m['measure_id'] for m in payload['measures'])}]", flush=True)

    try:
        key = uplink_key(args.sign_key_env)
    except DeliveryError as exc:
        parser.error(str(exc))
    try:
        _validator()
    except ImportError:
        print(f"error: {_NEEDS_JSONSCHEMA}", file=sys.stderr)
        return 1
    sim = PlatformSimulator(args.port, token=secret(args.token_env), sign_key=key,
                            error_rate=args.error_rate, timeout_rate=args.timeout_rate, delay=args.delay,
                            hang=args.hang, seed=args.seed, on_accept=show)
    with sim:
        print(f"provincial platform simulator listening on {sim.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    print(json.dumps(sim.summary(), ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
