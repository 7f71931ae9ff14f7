"""A throwaway PostgreSQL server for one test session, or the one ``JOINT_SANCTIONS_TEST_PG`` names.

The throwaway server lives in a temporary directory owned by an unprivileged user (initdb and the
server refuse to run as root), listens on 127.0.0.1 at a free port with its unix socket inside that
directory, runs with fsync off (its data is thrown away), and is removed by :meth:`PgServer.stop`.
Each test gets a database of its own from :meth:`PgServer.create_database`. A watchdog process
stops and removes the server when the test process dies without calling :meth:`PgServer.stop`
(killed by a timeout or a signal), so no server outlives its session.

A server named by ``JOINT_SANCTIONS_TEST_PG`` must be PostgreSQL 15 or later built with ICU (the
collation test creates an ICU database; dropping test databases uses ``WITH (FORCE)``), and the URL's
role must be allowed to create databases.

Anything that prevents the server from starting raises :class:`PgServerError` with what to do; the
fixtures turn it into a test failure, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

ENV_URL = "JOINT_SANCTIONS_TEST_PG"
#: The unprivileged account the server runs as when the tests run as root (created if missing).
SERVER_USER = "pgtest"
_SUPERUSER = "postgres"
_START_ATTEMPTS = 3  # a free port found by bind() may be taken by someone else before the server binds it


class PgServerError(RuntimeError):
    """The test PostgreSQL server cannot be started or reached."""


@dataclass
class PgServer:
    """A PostgreSQL server the tests may create databases on.

    Attributes:
        url: connects as a role that may create databases, to its maintenance database.
        data_dir: the throwaway server's directory, None for a server given by ``JOINT_SANCTIONS_TEST_PG``.
    """

    url: str
    data_dir: Path | None = None
    _pg_ctl: Path | None = None
    _run_as: tuple[str, ...] = ()
    _watchdog: subprocess.Popen[bytes] | None = None

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server."""
        return urlsplit(self.url)._replace(path=f"/{name}").geturl()

    def create_database(self) -> str:
        """Create an empty UTF-8 database with a unique name; returns its URL."""
        name = f"js_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'")
                         .format(sql.Identifier(name)))
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database`, even if a test left connections open."""
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop the throwaway server and delete its directory; a given server is left alone."""
        if self.data_dir is None or self._pg_ctl is None:
            return
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait()
        subprocess.run(self._stop_command(), capture_output=True, check=False)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _stop_command(self) -> list[str]:
        assert self.data_dir is not None and self._pg_ctl is not None  # only for a throwaway server
        return [*self._run_as, str(self._pg_ctl), "stop", "-D", str(self.data_dir / "data"), "-m",
                "immediate", "-w"]

    def _start_watchdog(self) -> None:
        assert self.data_dir is not None
        # Its own session, so that a signal to the test process's group leaves it to clean up.
        self._watchdog = subprocess.Popen(
            [sys.executable, __file__, "watch", str(os.getpid()), str(self.data_dir), *self._stop_command()],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)


def start() -> PgServer:
    """The server named by ``JOINT_SANCTIONS_TEST_PG``, else a new throwaway one.

    Raises:
        PgServerError: with what went wrong and what to do.
    """
    given = os.environ.get(ENV_URL)
    if given:
        server = PgServer(given)
        try:
            with psycopg.connect(given, autocommit=True, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise PgServerError(f"{ENV_URL} names a server that cannot be reached: "
                                f"{type(exc).__name__}: {exc}") from exc
        return server
    return _start_throwaway(find_bindir())


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: from PATH, else Debian's newest version.

    Raises:
        PgServerError: no PostgreSQL server binaries are installed.
    """
    on_path = shutil.which("initdb")
    if on_path:
        # Resolving the symlink keeps pg_ctl and postgres from the same installation as initdb.
        return Path(on_path).resolve().parent
    # Debian keeps each major version's server binaries off PATH.
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise PgServerError("PostgreSQL server binaries not found (initdb neither on PATH nor in "
                            "/usr/lib/postgresql/*/bin): install them (apt-get install postgresql; "
                            f".ci/run does) or set {ENV_URL}=postgresql://… to use an existing server")
    newest = max(found, key=lambda path: int(Path(path).parent.parent.name.split(".")[0]))
    return Path(newest).parent


def _start_throwaway(bindir: Path) -> PgServer:
    run_as = _unprivileged_prefix()
    base = Path(tempfile.mkdtemp(prefix="js-pg-"))
    server = PgServer("", base, bindir / "pg_ctl", run_as)
    try:
        if run_as:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(base, account.pw_uid, account.pw_gid)
        _run([*run_as, str(bindir / "initdb"), "-D", str(base / "data"), "-U", _SUPERUSER,
              "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"], base, "initdb")
        for _attempt in range(_START_ATTEMPTS):
            port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=200")
            started = subprocess.run([*run_as, str(bindir / "pg_ctl"), "start", "-D", str(base / "data"),
                                      "-l", str(base / "server.log"), "-w", "-t", "60", "-o", options],
                                     cwd=base, capture_output=True, text=True, check=False)
            if started.returncode == 0:
                server.url = f"postgresql://{_SUPERUSER}@127.0.0.1:{port}/postgres"
                server._start_watchdog()
                return server
        log = (base / "server.log").read_text(errors="replace")[-2000:]
        raise PgServerError(f"pg_ctl start failed ({started.returncode}): {started.stderr.strip()}\n"
                            f"server log:\n{log}")
    except BaseException:
        server.stop()
        raise


def _unprivileged_prefix() -> tuple[str, ...]:
    """The command prefix that runs the server as :data:`SERVER_USER` when we are root, else nothing."""
    if os.geteuid() != 0:
        return ()
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        created = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                  "/usr/sbin/nologin", SERVER_USER], capture_output=True, text=True,
                                 check=False)
        try:
            pwd.getpwnam(SERVER_USER)  # another test session may have created it at the same time
        except KeyError:
            raise PgServerError(f"initdb refuses to run as root and user {SERVER_USER!r} could not be "
                                f"created: {created.stderr.strip()}") from None
    return ("runuser", "-u", SERVER_USER, "--")


def _run(command: list[str], cwd: Path, what: str) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = done.stderr.strip() or done.stdout.strip()
        raise PgServerError(f"{what} failed ({done.returncode}): {output}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _watch(parent: int, data_dir: str, stop_command: list[str]) -> None:
    """Wait for the test process to end, then stop its server and delete the directory."""
    while os.getppid() == parent:  # the test process started us; once it is gone, init adopts us
        time.sleep(0.5)
    subprocess.run(stop_command, capture_output=True, check=False)
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__" and sys.argv[1:2] == ["watch"]:
    _watch(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
