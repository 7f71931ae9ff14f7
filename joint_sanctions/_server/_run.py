"""Running the service: one process, or ``--workers N`` uvicorn worker processes over PostgreSQL.

Graceful shutdown is uvicorn's: on SIGTERM (or SIGINT) a process stops accepting connections and
lets every request in flight finish before it exits; a check that opened a case has committed it
before its response is sent. With several workers the supervising process passes the signal on to
each worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import socket
import tempfile
import threading

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .._errors import JointSanctionsError
from ._app import CONFIG_ENV, create_app
from ._service import ServeConfig, Service

__all__ = ["NoDelayH11Protocol", "ServeError", "serve"]


class ServeError(JointSanctionsError):
    """The service cannot listen on the address it was given (a host that does not resolve, a port
    another process holds)."""


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol on a connection with TCP_NODELAY set.

    asyncio sets TCP_NODELAY only on sockets whose ``proto`` reads IPPROTO_TCP; the listening socket a
    uvicorn worker process receives from its supervisor reads 0, so its connections kept Nagle's
    algorithm, and a response written in two parts waited for the client's delayed ACK (~40 ms per
    request on keep-alive connections).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def serve(config: ServeConfig, *, host: str, port: int, workers: int, log_level: str = "warning") -> None:
    """Serve until stopped. The database and the measure lists are opened first, so that a missing
    database or a bad list is reported (and raised) before any port is bound.

    Raises:
        StoreError, MeasureListError, CheckError: as :class:`~joint_sanctions.Engine` raises them.
        ServeError: the address cannot be listened on.
    """
    service = Service(config)
    try:
        _check_address(host, port)
    except BaseException:
        service.close()
        raise
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the handler that
        # was there before it: with this one, a completed graceful shutdown exits 0 (a kill still shows).
        signal.signal(signal.SIGTERM, _stopped)
    if workers == 1:
        uvicorn.run(create_app(service=service), host=host, port=port, log_level=log_level,
                    server_header=False, timeout_graceful_shutdown=None, http=NoDelayH11Protocol)
        return
    service.close()  # each worker builds its own
    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
    # Every worker's counters in one /metrics (prometheus_client's multiprocess mode); set before
    # the workers start, which read it when they import the client.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="joint-sanctions-metrics-")
    uvicorn.run("joint_sanctions._server._app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, server_header=False, timeout_graceful_shutdown=None,
                http=NoDelayH11Protocol)


def _check_address(host: str, port: int) -> None:
    """Bind ``host:port`` once and let go, so that an address that cannot be listened on is one line
    of ours and exit 1, not uvicorn's own log line and exit 3. (Taken in between, uvicorn still says so.)"""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ServeError(f"cannot listen on {host}:{port}: {reason} / 无法在该地址上监听") from None


def _stopped(_signum: int, _frame: object) -> None:
    """SIGTERM after uvicorn's graceful shutdown: nothing more to do."""
