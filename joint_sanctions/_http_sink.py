"""The HTTP sink: one POST per feedback record to the provincial platform, bounded in time and size.

HTTP answers: 2xx and 409 = delivered; 5xx, timeouts, refused or broken connections, 408, 425 and
429 = retryable; 401, 403 and 407 = the sink's credentials are wrong, which is no fault of the record:
the run stops and every record stays pending; any other 4xx = the platform refuses the record.
httpx's exceptions become the library's in one place, :func:`translate_http_error`.

Bounds: an HTTP attempt ends at a wall-clock deadline whatever the platform does (a peer sending a byte
now and then defeats per-read timeouts), a retry within a run never outlives the record's budget
(:data:`_RECORD_DEADLINE`, set by :func:`~joint_sanctions._delivery.deliver`), and at most
:data:`MAX_RESPONSE_BODY` bytes of an answer are read. An attempt abandoned at its deadline is
retryable: the case stays pending.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ._base import Closing
from ._errors import DeliveryError, RejectedDeliveryError, RetryableDeliveryError
from ._identifiers import mask_text
from ._logging import get_logger
from ._sinks import SIGNATURE_HEADER, UPLINK_KEY_ENV, sign_body, uplink_key

__all__ = ["MAX_RESPONSE_BODY", "HttpSink", "plain_http_warning", "translate_http_error"]

_log = get_logger()


_USER_AGENT = "joint-sanctions"
_RETRY_STATUSES = frozenset({408, 425, 429})
_CREDENTIAL_STATUSES = frozenset({401, 403, 407})
_SNIPPET = 200  # characters of a refusal's body kept in the error: enough for a reason, not a page
_KEPT = 4096  # bytes of an answer's body kept to make that snippet; the rest is read and dropped
#: Bytes of an HTTP answer's body read at most; past it the connection is closed unread.
MAX_RESPONSE_BODY = 1 << 20


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


class HttpSink(Closing):
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
        sign_key: the shared key: ``X-Signature-HMAC-SM3`` carries the HMAC-SM3 of each body. When
            None (the default), the key is ``JOINT_SANCTIONS_UPLINK_KEY`` when that is set and not
            empty (:func:`uplink_key`, read once here), so every sender signs in production without
            being told; else bodies go unsigned.
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
        # One place decides the key (uplink_key): an explicit key wins, else the environment's.
        if sign_key is None:
            sign_key = uplink_key()
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
