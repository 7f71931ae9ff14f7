"""Where case feedback goes: the :class:`FeedbackSink` interface, the JSON Lines file sink, and
the HMAC-SM3 signature of a record's body (the HTTP sink is in :mod:`~joint_sanctions._http_sink`).

Each sink maps its library's exceptions to :class:`~joint_sanctions._errors.DeliveryError`
subclasses in one place; :func:`~joint_sanctions._delivery.deliver` drives them.
"""

from __future__ import annotations

import contextlib
import hmac as std_hmac
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import IO, Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes, hmac

from ._base import Closing
from ._errors import DeliveryError

__all__ = [
    "SIGNATURE_HEADER",
    "UPLINK_KEY_ENV",
    "FeedbackSink",
    "JsonlFileSink",
    "sign_body",
    "uplink_key",
    "verify_signature",
]

#: Header carrying the lowercase hex HMAC-SM3 of the exact body bytes, when a shared key is set.
SIGNATURE_HEADER = "X-Signature-HMAC-SM3"
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


# --- JSON Lines file ------------------------------------------------------------------------------


class JsonlFileSink(Closing):
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
