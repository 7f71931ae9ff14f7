"""Delivery of case feedback (反馈): sinks, and the loop that empties the outbox.

::

    deliver(book, sink) ──claim──▶ sink.send(case_id, body) ──▶ delivered → case fed_back
                                                             ├─▶ rejected  → case rejected (kept, visible)
                                                             └─▶ retryable → tried again (backoff + jitter)

Delivery is at-least-once with ``case_id`` as the idempotency key: a record is claimed before it is
sent and marked only after the platform answered, so a crash at any point leaves it pending and the
next run sends it again (the platform answers a resend with 409, which counts as delivered).

Sinks plug in behind :class:`FeedbackSink`: :class:`HttpSink` (one POST per record) and
:class:`JsonlFileSink` (a file drop); :class:`joint_sanctions.testing.RecordingSink` for tests. Each
maps its library's exceptions to :class:`~joint_sanctions._errors.DeliveryError` subclasses in one
place (:func:`translate_http_error`, ``JsonlFileSink.send``).

HTTP answers: 2xx and 409 = delivered; 5xx, timeouts, refused or broken connections, 408, 425 and
429 = retryable; 401, 403 and 407 = the sink's credentials are wrong, which is no fault of the record:
the run stops and every record stays pending; any other 4xx = the platform refuses the record.

Bounds: an HTTP attempt ends at a wall-clock deadline whatever the platform does (a peer sending a byte
now and then defeats per-read timeouts), a retry within a run never outlives the record's budget, and
at most :data:`MAX_RESPONSE_BODY` bytes of an answer are read. An attempt abandoned at its deadline is
retryable: the case stays pending.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hmac as std_hmac
import ipaddress
import os
import random
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Protocol, Self, runtime_checkable

import httpx
from cryptography.hazmat.primitives import hashes, hmac

from ._case_model import DEFAULT_LEASE
from ._cases import CaseBook, Claim
from ._errors import DeliveryError, RejectedDeliveryError, RetryableDeliveryError
from ._identifiers import mask_text
from ._logging import get_logger

__all__ = [
    "IN_RUN_BACKOFF",
    "MAX_RESPONSE_BODY",
    "SCHEDULED_BACKOFF",
    "SIGNATURE_HEADER",
    "UPLINK_KEY_ENV",
    "Backoff",
    "DeliveryReport",
    "FeedbackSink",
    "HttpSink",
    "JsonlFileSink",
    "deliver",
    "plain_http_warning",
    "sign_body",
    "translate_http_error",
    "uplink_key",
    "verify_signature",
]

_log = get_logger()

#: Header carrying the lowercase hex HMAC-SM3 of the exact body bytes, when a shared key is set.
SIGNATURE_HEADER = "X-Signature-HMAC-SM3"
_USER_AGENT = "joint-sanctions"
_RETRY_STATUSES = frozenset({408, 425, 429})
_CREDENTIAL_STATUSES = frozenset({401, 403, 407})
_SNIPPET = 200  # characters of a refusal's body kept in the error: enough for a reason, not a page
_KEPT = 4096  # bytes of an answer's body kept to make that snippet; the rest is read and dropped
#: Bytes of an HTTP answer's body read at most; past it the connection is closed unread.
MAX_RESPONSE_BODY = 1 << 20
#: The environment variable holding the shared signing key when no other variable is named.
UPLINK_KEY_ENV = "JOINT_SANCTIONS_UPLINK_KEY"


# --- signatures -----------------------------------------------------------------------------------


def sign_body(body: bytes, key: bytes) -> str:
    """The HMAC-SM3 of ``body`` under ``key``, as lowercase hex."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(body)
    return mac.finalize().hex()


def verify_signature(body: bytes, key: bytes, signature: str | None) -> bool:
    """True when ``signature`` is the HMAC-SM3 of ``body`` under ``key`` (compared in constant time)."""
    if not signature:
        return False
    return std_hmac.compare_digest(sign_body(body, key), signature.strip().lower())


def uplink_key(var: str | None = None, *, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The shared signing key from the environment, as UTF-8 bytes.

    Args:
        var: a variable named explicitly (``cases feedback --sign-key-env VAR``); it wins over
            :data:`UPLINK_KEY_ENV` and must be set.
        environ: the environment (default ``os.environ``).

    Returns:
        The key, or None when no variable is named and ``JOINT_SANCTIONS_UPLINK_KEY`` is unset or empty.

    Raises:
        DeliveryError: ``var`` is named but unset or empty (sending unsigned would be a silent downgrade).
    """
    env = os.environ if environ is None else environ
    if var is not None:
        value = env.get(var)
        if not value:
            raise DeliveryError(f"signing key: environment variable {var} is not set / 签名密钥环境变量未设置")
        return value.encode("utf-8")
    value = env.get(UPLINK_KEY_ENV)
    return value.encode("utf-8") if value else None


# --- the sink interface ---------------------------------------------------------------------------


@runtime_checkable
class FeedbackSink(Protocol):
    """Where feedback records go: one call per record, with the exact bytes to deliver."""

    def send(self, case_id: str, body: bytes) -> int | None:
        """Deliver one record.

        Args:
            case_id: the case, also the idempotency key.
            body: the feedback v1 JSON, sent byte for byte.

        Returns:
            The platform's status code (HTTP), or None where there is none.

        Raises:
            RetryableDeliveryError: not delivered this time; try again later.
            RejectedDeliveryError: the platform refuses this record; do not retry it.
            DeliveryError: the sink cannot work as configured; stop.
        """
        ...

    def close(self) -> None:
        """Release connections or files."""
        ...


# --- HTTP -----------------------------------------------------------------------------------------

# Everything httpx raises on purpose. RuntimeError-based stream errors and InvalidURL are not
# HTTPError subclasses, so they are named here too.
_HTTPX_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError,
                                              httpx.CookieConflict)


def translate_http_error(exc: Exception) -> DeliveryError:
    """The one place where httpx exceptions become the library's delivery errors.

    Timeouts, network failures and a server dropping the connection may pass later (retryable); a
    bad URL, an unsupported scheme, redirects or a local protocol error will not (plain
    :class:`DeliveryError`: the run stops, records stay pending).
    """
    detail = mask_text(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return RetryableDeliveryError(f"timed out ({type(exc).__name__}): {detail}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return DeliveryError(f"unsupported URL scheme: {detail}")
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError | httpx.DecodingError):
        return RetryableDeliveryError(f"connection failed ({type(exc).__name__}): {detail}")
    if isinstance(exc, httpx.HTTPStatusError):
        return _status_error(exc.response)
    return DeliveryError(f"HTTP client error ({type(exc).__name__}): {detail}")


def _status_error(response: httpx.Response, body: bytes | None = None) -> DeliveryError:
    """The error for a status that is not a delivery (2xx and 409 are handled before).

    Args:
        response: the answer.
        body: the first bytes of its body as read by the sink; None = read it from ``response``
            (an already loaded response, as in an ``HTTPStatusError``).
    """
    code = response.status_code
    snippet = " ".join(_text(response, body).split())[:_SNIPPET]
    where = _public_url(response.request.url)
    message = f"HTTP {code} from {where}" + (f": {mask_text(snippet)}" if snippet else "")
    if code >= 500 or code in _RETRY_STATUSES:
        return RetryableDeliveryError(message)
    if code in _CREDENTIAL_STATUSES:
        return DeliveryError(f"{message} (check the token, signing key and certificates)")
    if 400 <= code < 500:
        return RejectedDeliveryError(message, code)
    return DeliveryError(f"{message} (unexpected status; check the URL)")


def _text(response: httpx.Response, body: bytes | None) -> str:
    """The body as text, in the answer's charset where it names a known one, else UTF-8."""
    if body is None:
        try:
            return response.text
        except (httpx.DecodingError, httpx.StreamError, UnicodeDecodeError):
            return ""
    try:
        return body.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _public_url(url: httpx.URL) -> str:
    """The URL without user info or query, fit for logs (either may carry a secret)."""
    if not url.scheme and not url.host:  # relative: what was typed had no scheme
        return url.path
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always the loopback
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_warning(url: str, *, signed: bool) -> str | None:
    """A one-line warning (English / Chinese) when ``url`` is plain ``http://`` to a host other than
    the loopback: records carry the subject's id unmasked, so anyone on the path reads them. None for
    https, loopback (a local relay) or a URL that does not parse."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    if parsed.scheme != "http" or not parsed.host or _is_loopback(parsed.host):
        return None
    unsigned_en = "" if signed else f", and no signing key is set ({UPLINK_KEY_ENV} or --sign-key-env)"
    unsigned_zh = "" if signed else "，且未设置签名密钥"
    return (f"uplink {_public_url(parsed)} is plain http:// to another host: the records carry unmasked "
            f"subject ids{unsigned_en}; use https:// / 反馈通道为明文 http://，记录含未脱敏的证件号码"
            f"{unsigned_zh}，请改用 https://")


def _tls(verify: bool | str | ssl.SSLContext, cert: str | tuple[str, str] | None) -> bool | ssl.SSLContext:
    """An SSL context from a CA bundle path and/or a client certificate (httpx wants a context)."""
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    elif cert is None:
        return verify
    elif verify:
        context = ssl.create_default_context()
    else:
        raise DeliveryError("a client certificate without server verification is refused: "
                            "pass verify=True or a CA bundle")
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


# The monotonic time by which the record in hand must be done, set by deliver() around a retry so
# that a send never outlives the record's budget; None = the sink's own deadline alone.
_RECORD_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("record_deadline",
                                                                                default=None)


class _Watchdog:
    """Ends one HTTP attempt at its wall-clock deadline, whatever phase it is in.

    httpx's timeouts bound each read and write, so a platform that sends a byte now and then is never
    timed out. At the deadline the connection is shut down under the client, which wakes a blocked
    read with end-of-file. The connection's socket is learnt from httpcore's ``trace`` extension when
    it is opened, which is why the sink opens one connection per attempt.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self._lock = threading.Lock()
        # A duplicate descriptor: it stays valid (and cannot be reused for another socket) until
        # finish(), while shutting it down still ends the one TCP connection both refer to.
        self._sock: socket.socket | None = None
        self._done = False
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: keep the socket of each connection this attempt opens."""
        if not event.endswith("connect_tcp.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        dup = sock.dup()
        with self._lock:
            old, self._sock = self._sock, dup
            if self.expired():
                _shutdown(dup)
        if old is not None:
            old.close()

    def _expire(self) -> None:
        with self._lock:
            if not self._done and self._sock is not None:
                _shutdown(self._sock)

    def finish(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer: nothing left to end
        sock.shutdown(socket.SHUT_RDWR)


class HttpSink:
    """POSTs each record to the provincial platform (docs/case-feedback-v1.md).

    Each attempt uses a connection of its own and ends by its deadline, however slowly the platform
    answers: a 2xx or 409 counts as soon as its status line arrives (the body is not waited for);
    of any other answer at most :data:`MAX_RESPONSE_BODY` bytes are read, for the reason kept with
    the case. An attempt abandoned at its deadline raises :class:`RetryableDeliveryError`.

    Args:
        url: the endpoint (https; plain http is for a relay on the loopback, else a warning is logged).
        timeout: seconds for connecting, and for each read and write.
        deadline: wall-clock seconds for a whole attempt, from connecting to the answer (default:
            ``timeout``). Within :func:`deliver`, a retry also ends when the record's budget is spent.
        token: sent as ``Authorization: Bearer <token>``.
        sign_key: when given, ``X-Signature-HMAC-SM3`` carries the HMAC-SM3 of the body
            (see :func:`uplink_key`).
        verify: ``True`` (system CAs), ``False`` (no verification: tests only), a CA bundle path,
            or an ``ssl.SSLContext``.
        cert: a client certificate file, or ``(certificate, key)`` files, for mutual TLS.
        headers: extra headers for every request.
        transport: an httpx transport (tests, proxies); the deadline then bounds reading the body
            only, as the connection cannot be reached.
        warn_plain_http: log :func:`plain_http_warning` (the CLI prints it its own way).

    Raises:
        DeliveryError: the URL is not http(s), or a certificate file cannot be loaded.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, deadline: float | None = None,
                 token: str | None = None, sign_key: bytes | None = None,
                 verify: bool | str | ssl.SSLContext = True, cert: str | tuple[str, str] | None = None,
                 headers: Mapping[str, str] | None = None, transport: httpx.BaseTransport | None = None,
                 warn_plain_http: bool = True) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise translate_http_error(exc) from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise DeliveryError(f"not an http(s) URL: {_public_url(parsed)!r} "
                                "(e.g. https://platform.example/api/feedback)")
        try:
            tls = _tls(verify, cert)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"cannot load TLS files: {exc}") from exc
        self.url = url
        self.deadline = timeout if deadline is None else deadline
        self._sign_key = sign_key
        # identity: the body is read raw, so that a compressed answer cannot expand past the cap.
        base = {"User-Agent": _USER_AGENT, "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json", "Accept-Encoding": "identity"}
        if token:
            base["Authorization"] = f"Bearer {token}"
        base.update(headers or {})
        # No keep-alive: each attempt opens its own connection, so its watchdog can end it.
        self._client = httpx.Client(timeout=timeout, verify=tls, headers=base, transport=transport,
                                    follow_redirects=False, limits=httpx.Limits(max_keepalive_connections=0))
        if warn_plain_http and (warning := plain_http_warning(url, signed=sign_key is not None)):
            _log.warning("uplink_plain_http", url=_public_url(parsed), signed=sign_key is not None,
                         message=warning)

    def send(self, case_id: str, body: bytes) -> int:
        """POST one record; see :meth:`FeedbackSink.send`.

        Returns:
            The status code: 2xx, or 409 when the platform already has this case.
        """
        # Content-Length follows from a bytes body; httpx never chunks it.
        headers = {"Idempotency-Key": case_id}
        if self._sign_key is not None:
            headers[SIGNATURE_HEADER] = sign_body(body, self._sign_key)
        seconds = self.deadline
        record_end = _RECORD_DEADLINE.get()
        if record_end is not None:
            seconds = max(0.0, min(seconds, record_end - time.monotonic()))
        watchdog = _Watchdog(seconds)
        try:
            return self._post(body, headers, watchdog)
        finally:
            watchdog.finish()

    def _post(self, body: bytes, headers: dict[str, str], watchdog: _Watchdog) -> int:
        try:
            with self._client.stream("POST", self.url, content=body, headers=headers,
                                     extensions={"trace": watchdog.trace}) as response:
                if 200 <= response.status_code < 300 or response.status_code == 409:
                    return response.status_code
                head = _read_head(response, watchdog)
        except _HTTPX_ERRORS as exc:
            if watchdog.expired():
                raise RetryableDeliveryError(
                    f"no answer from {_public_url(httpx.URL(self.url))} within the {watchdog.seconds:.3g} s "
                    "deadline: attempt abandoned") from exc
            raise translate_http_error(exc) from exc
        raise _status_error(response, head)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpSink({_public_url(httpx.URL(self.url))!r})"


def _read_head(response: httpx.Response, watchdog: _Watchdog) -> bytes:
    """The first bytes of an answer's body, reading at most :data:`MAX_RESPONSE_BODY` and stopping at
    the deadline; what is left is never read (the connection is closed with the response)."""
    kept = bytearray()
    read = 0
    try:
        for chunk in response.iter_raw():
            read += len(chunk)
            if len(kept) < _KEPT:
                kept += chunk[:_KEPT - len(kept)]
            if read >= MAX_RESPONSE_BODY or watchdog.expired():
                break
    except _HTTPX_ERRORS:
        pass  # the status already decides the outcome; the reason is what arrived before the break
    return bytes(kept)


# --- JSON Lines file ------------------------------------------------------------------------------


class JsonlFileSink:
    """Appends one JSON line per record to a file, for platforms that import files.

    Each line is written in one ``write`` under an exclusive ``flock`` (where the OS has it) and
    fsynced before :meth:`send` returns, so a delivered record is on disk. A crash between the write
    and the outbox update leaves a record that the next run appends again: importers dedupe on
    ``case_id``. A line torn by a crash is closed with a newline before the next record is written,
    so it spoils only itself.

    Args:
        path: the file; created (with its directory) when missing.

    Raises:
        DeliveryError: the file cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._file: IO[bytes] = open(self.path, "a+b")  # noqa: SIM115 - held open until close()
        except OSError as exc:
            raise DeliveryError(f"cannot open {self.path}: {exc}") from exc

    def send(self, case_id: str, body: bytes) -> None:
        """Append ``body`` as one line and fsync; see :meth:`FeedbackSink.send`.

        Raises:
            DeliveryError: the file cannot be written (full disk, permissions): the run stops.
        """
        if b"\n" in body:
            raise DeliveryError(f"case {case_id}: the record spans several lines")
        try:
            with self._lock, _file_lock(self._file):
                line = body + b"\n"
                size = self._file.seek(0, os.SEEK_END)
                if size:
                    self._file.seek(size - 1)
                    if self._file.read(1) != b"\n":
                        line = b"\n" + line
                self._file.write(line)
                self._file.flush()
                os.fsync(self._file.fileno())
        except OSError as exc:
            raise DeliveryError(f"cannot write {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@contextlib.contextmanager
def _file_lock(file: IO[bytes]) -> Iterator[None]:
    """An exclusive lock on the whole file against other processes appending at once."""
    if sys.platform == "win32":
        yield  # no flock; appends from one process are serialised by the sink's own lock
        return
    import fcntl

    fcntl.flock(file.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)


# --- the delivery loop ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of ``base·factorⁿ``
    (capped), so that senders that failed together do not retry together."""

    base: float
    cap: float
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempt``-th failure (0-based)."""
        ceiling = min(self.cap, self.base * self.factor ** min(attempt, 64))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


#: Between attempts within one run (the run gives a record about 10 s in all).
IN_RUN_BACKOFF = Backoff(base=0.2, cap=2.0)
#: The stored schedule a long-running sender follows after a run's attempts failed.
SCHEDULED_BACKOFF = Backoff(base=30.0, cap=3600.0)


@dataclass
class DeliveryReport:
    """What one :func:`deliver` call did.

    Attributes:
        delivered: case ids the platform now has.
        rejected: ``(case_id, reason)`` of records the platform refused in this run.
        left_pending: case ids still pending after this run's attempts.
        attempts: sends tried.
        taken_over: claims of dead processes freed by this run.
        pending_after: cases pending in the whole outbox when the run ended.
    """

    delivered: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    left_pending: list[str] = field(default_factory=list)
    attempts: int = 0
    taken_over: int = 0
    pending_after: int = 0

    @property
    def ok(self) -> bool:
        """Nothing was rejected in this run and nothing is left pending."""
        return not self.rejected and self.pending_after == 0


def deliver(book: CaseBook, sink: FeedbackSink, *, forever: bool = False, retry_for: float = 10.0,
            lease: float = DEFAULT_LEASE, workers: int = 1, poll_interval: float | None = None,
            stop: threading.Event | None = None, in_run_backoff: Backoff = IN_RUN_BACKOFF,
            scheduled_backoff: Backoff = SCHEDULED_BACKOFF, rng: random.Random | None = None) -> DeliveryReport:
    """Send pending feedback records through ``sink``.

    A one-off run (the default, ``cases feedback``) tries every pending record now, whatever its
    stored schedule, retrying 5xx and timeouts with backoff and jitter for about ``retry_for``
    seconds per record; it waits for records that other live runs hold, and takes over the claims
    of dead ones. A long-running sender (``forever=True``) sends records as they fall due and
    follows the stored schedule after failures, until ``stop`` is set.

    Args:
        book: the case book whose outbox is emptied.
        sink: where records go.
        forever: keep running until ``stop`` is set.
        retry_for: seconds of in-run retries per record before it is left for later.
        lease: seconds a claim holds; renewed at each retry.
        workers: records sent at once (threads).
        poll_interval: seconds between looks at the outbox when idle (default 1 s when running
            forever, 0.2 s while waiting for other runs).
        stop: set it to end the run after the records in flight.
        in_run_backoff, scheduled_backoff: the backoff within a run and the stored schedule.
        rng: the jitter's random source (seed it in tests).

    Returns:
        What was done; :attr:`DeliveryReport.ok` is False when something was rejected in this run
        or is left pending.

    Raises:
        DeliveryError: the sink cannot work as configured (bad URL, credentials refused, file not
            writable); the record in hand stays pending.
        StoreError: the database failed.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    run = _Run(book, sink, forever=forever, retry_for=retry_for, lease=lease,
               poll=poll_interval if poll_interval is not None else (1.0 if forever else 0.2),
               stop=stop or threading.Event(), in_run=in_run_backoff, scheduled=scheduled_backoff,
               rng=rng or random.Random())
    # Records a dead run of this host left claimed go out in their turn, not after everything else.
    run.report.taken_over += book.outbox.take_over_dead()
    if workers == 1:
        run.work()
    else:
        threads = [threading.Thread(target=run.work_guarded, name=f"deliver-{i}") for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if run.failure is not None:
            raise run.failure
    run.report.pending_after = book.pending_count()
    _log.info("feedback_run", delivered=len(run.report.delivered), rejected=len(run.report.rejected),
              left_pending=len(run.report.left_pending), pending_after=run.report.pending_after,
              attempts=run.report.attempts, taken_over=run.report.taken_over)
    return run.report


@dataclass
class _Run:
    """The state one :func:`deliver` call shares between its workers."""

    book: CaseBook
    sink: FeedbackSink
    forever: bool
    retry_for: float
    lease: float
    poll: float
    stop: threading.Event
    in_run: Backoff
    scheduled: Backoff
    rng: random.Random
    report: DeliveryReport = dataclasses.field(default_factory=DeliveryReport)
    failure: BaseException | None = None
    _halt: threading.Event = dataclasses.field(default_factory=threading.Event)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    started: float | None = dataclasses.field(init=False, default=None)

    def __post_init__(self) -> None:
        # A one-off run tries each record once: records attempted since it started are skipped.
        self.started = None if self.forever else self.book.outbox.now()

    def halted(self) -> bool:
        return self.stop.is_set() or self._halt.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep, waking early when the run is stopped."""
        deadline = time.monotonic() + seconds
        while not self.halted() and (left := deadline - time.monotonic()) > 0:
            self.stop.wait(min(left, 0.05))

    def work_guarded(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread by deliver()
            with self._lock:
                if self.failure is None:
                    self.failure = exc
            self._halt.set()

    def work(self) -> None:
        outbox = self.book.outbox
        while not self.halted():
            claim = outbox.claim(lease=self.lease, due_only=self.forever, tried_before=self.started)
            if claim is not None:
                self.send(claim)
                continue
            taken = outbox.take_over_dead()
            if taken:
                with self._lock:
                    self.report.taken_over += taken
                continue
            if not self.forever and outbox.waiting_on_others(self.started) == 0:
                return
            self.wait(self.poll)

    def send(self, claim: Claim) -> None:
        outbox = self.book.outbox
        began = time.monotonic()
        failures = 0
        while True:
            with self._lock:
                self.report.attempts += 1
            # The first attempt has the sink's own deadline; a retry ends with the record's budget.
            budget = _RECORD_DEADLINE.set(None if failures == 0 else began + self.retry_for)
            try:
                code = self.sink.send(claim.case_id, claim.body)
            except RetryableDeliveryError as exc:
                delay = self.in_run.delay(failures, self.rng)
                failures += 1
                give_up = self.halted() or time.monotonic() - began + delay > self.retry_for
                retry_at = outbox.now() + self.scheduled.delay(claim.attempts + failures - 1, self.rng)
                outbox.record_failure(claim, str(exc), retry_at=retry_at,
                                      keep_for=None if give_up else self.lease + delay)
                if give_up:
                    with self._lock:
                        self.report.left_pending.append(claim.case_id)
                    _log.warning("feedback_left_pending", case_id=claim.case_id, error=str(exc),
                                 attempts=claim.attempts + failures)
                    return
                _log.info("feedback_retry", case_id=claim.case_id, error=str(exc), delay=round(delay, 3))
                self.wait(delay)
                if self.halted():
                    outbox.release(claim)
                    with self._lock:
                        self.report.left_pending.append(claim.case_id)
                    return
                continue
            except RejectedDeliveryError as exc:
                outbox.mark_rejected(claim, str(exc), exc.status_code)
                with self._lock:
                    self.report.rejected.append((claim.case_id, str(exc)))
                _log.warning("feedback_rejected", case_id=claim.case_id, status_code=exc.status_code,
                             error=str(exc))
                return
            except DeliveryError as exc:
                outbox.record_failure(claim, str(exc), retry_at=outbox.now())
                self._halt.set()
                raise
            except BaseException:
                # Interrupted mid-send: whether the platform has it is unknown, so it stays pending.
                outbox.release(claim)
                raise
            finally:
                _RECORD_DEADLINE.reset(budget)
            outbox.mark_delivered(claim, code)
            with self._lock:
                self.report.delivered.append(claim.case_id)
            _log.info("feedback_delivered", case_id=claim.case_id, status_code=code,
                      attempts=claim.attempts + failures + 1)
            return
