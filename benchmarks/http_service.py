"""The HTTP service under load (issue 16 item 6): ``make bench-http``. (Not named http.py: run as a
script, this folder comes first on sys.path and would hide the standard library's ``http`` package.)

    .venv/bin/python benchmarks/http_service.py                          # default: ~2 minutes
    .venv/bin/python benchmarks/http_service.py --clients 32 --seconds 30 --workers 1 2 4

It starts a throwaway PostgreSQL server (tests/pgserver.py; or uses ``JOINT_SANCTIONS_TEST_PG``'s),
writes ``--listed`` listed companies into a fresh database, creates a key, and for each ``--workers``
count starts ``joint-sanctions serve --workers N`` and drives it for ``--seconds`` with ``--clients``
threads, each on one HTTP/1.1 keep-alive connection (the standard library's http.client): a mixed
stream of mostly no-hit checks and ``--hit-share`` checks of listed companies that open a case (a new
application number each). Then, on 4 workers, one worker is killed with SIGKILL mid-load; a client
whose request failed reconnects and sends the same request again (same application number), as a
host does. Afterwards every case whose 200 was received must be in the database, and no matter may
have two cases.

Prints a table and writes benchmarks/http-results.json. Exit status: 0 done; 1 errors under load, a
lost or duplicated case; 3 the PostgreSQL server could not be started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import log, machine_info, quiet_logging, report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))  # for tests.pgserver
quiet_logging()

import psycopg

from joint_sanctions import CreditRecord
from joint_sanctions.stores._key_tables import KeyBook
from joint_sanctions.stores._postgres import PostgresStore
from tests import pgserver

MATTER = "central_budget_funds"  # the shipped lists apply a measure to every punishment list for it
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc(n: int, prefix: str) -> str:
    body = f"{prefix}{n:07d}"
    total = sum(_ALPHABET.index(ch) * w for ch, w in zip(body, _WEIGHTS, strict=True))
    return body + _ALPHABET[(31 - total % 31) % 31]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    p.add_argument("--seconds", type=float, default=15.0, help="load per worker count (default 15)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 4], help="worker counts (default 1 4)")
    p.add_argument("--listed", type=int, default=20_000, help="listed companies in the database (default 20000)")
    p.add_argument("--hit-share", type=float, default=0.05, help="share of checks of listed companies (0.05)")
    p.add_argument("--kill-seconds", type=float, default=10.0, help="load of the SIGKILL phase (default 10)")
    p.add_argument("--out", type=Path, default=HERE / "http-results.json")
    return p.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``joint-sanctions serve --workers N`` over the database, until :meth:`stop`."""

    def __init__(self, url: str, workers: int) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "joint_sanctions", "serve", "--db", url, "--port", str(self.port),
             "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 120
        while not self._up():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.1)

    def _up(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def busiest_worker(self) -> tuple[int, int]:
        """(pid, connections) of the worker process holding the most client connections (from /proc)."""
        port = f"{self.port:04X}"
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(f":{port}") and fields[3] == "01":  # ESTABLISHED, on the server's side
                    inodes.add(fields[9])
        me = self.process.pid
        held = {}
        for child in Path(f"/proc/{me}/task/{me}/children").read_text().split():
            fds = Path(f"/proc/{child}/fd")
            links = []
            for fd in fds.iterdir():
                try:
                    links.append(os.readlink(fd))
                except OSError:
                    continue
            held[int(child)] = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)
        pid = max(held, key=lambda c: held[c])
        return pid, held[pid]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


class Load:
    """``clients`` threads on keep-alive connections sending the mixed stream until told to stop."""

    def __init__(self, port: int, key: str, listed: int, hit_share: float, clients: int, tag: str) -> None:
        self.port, self.key, self.listed, self.hit_share, self.tag = port, key, listed, hit_share, tag
        self.latencies: list[float] = []
        self.errors = 0
        self.retries = 0
        self.cases: dict[str, str] = {}  # application number → case id of its 200
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def _body(self, rng: random.Random, n: int, i: int) -> tuple[bytes, str | None]:
        if rng.random() < self.hit_share:
            application = f"{self.tag}-{n}-{i}"
            return json.dumps({"subject": uscc(rng.randrange(self.listed), "91410100MA"), "matter": MATTER,
                               "application_no": application}).encode(), application
        return json.dumps({"subject": uscc(rng.randrange(9_000_000), "91330100MA"), "matter": MATTER}).encode(), None

    def _run(self, n: int) -> None:
        rng = random.Random(n)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        i = 0
        while not self._stop.is_set():
            i += 1
            body, application = self._body(rng, n, i)
            while True:  # a failed request is sent again, as it was, on a new connection
                started = time.perf_counter()
                try:
                    conn.request("POST", "/v1/checks", body, headers)
                    response = conn.getresponse()
                    answer = response.read()
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    with self._lock:
                        self.retries += 1
                    if self._stop.wait(0.05):
                        return
            elapsed = time.perf_counter() - started
            with self._lock:
                self.latencies.append(elapsed)
                if response.status != 200:
                    self.errors += 1
                elif application is not None:
                    case_id = json.loads(answer)["case_id"]
                    if self.cases.setdefault(application, case_id) != case_id:
                        self.errors += 1  # the same matter answered with two cases
        conn.close()

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def listed_records(n: int) -> list[CreditRecord]:
    return [CreditRecord(record_id=f"B-{i}", list_type="court_defaulter", subject_id=uscc(i, "91410100MA"),
                         subject_name=f"被执行企业{i}", authority="郑州市中级人民法院", document_no=f"(2025)豫01执{i}号",
                         listed_on=dt.date(2025, 1, 1)) for i in range(n)]


def _round(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2) if ordered else 0.0


def run_load(url: str, key: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    log(f"serve --workers {workers}: {args.clients} clients for {args.seconds:.0f} s")
    served = Served(url, workers)
    load = Load(served.port, key, args.listed, args.hit_share, args.clients, f"W{workers}")
    started = time.perf_counter()
    load.start()
    time.sleep(args.seconds)  # the load runs for a fixed time: that is what is measured
    load.stop()
    wall = time.perf_counter() - started
    exit_code = served.stop()
    return {"workers": workers, "clients": args.clients, "requests": len(load.latencies),
            "p50_ms": _round(load.latencies, 0.50), "p99_ms": _round(load.latencies, 0.99),
            "mean_ms": round(statistics.fmean(load.latencies) * 1000, 2) if load.latencies else 0.0,
            "requests_per_s": round(len(load.latencies) / wall, 1), "errors": load.errors,
            "retries": load.retries, "cases_opened": len(load.cases), "exit_code": exit_code}


def kill_phase(url: str, key: str, args: argparse.Namespace) -> dict[str, Any]:
    log(f"serve --workers 4, one worker killed with SIGKILL mid-load ({args.kill_seconds:.0f} s)")
    served = Served(url, 4)
    # Mostly hits here: many cases in flight when the worker dies.
    load = Load(served.port, key, args.listed, 0.5, args.clients, "KILL")
    load.start()
    time.sleep(args.kill_seconds / 2)
    victim, connections = served.busiest_worker()
    os.kill(victim, signal.SIGKILL)
    time.sleep(args.kill_seconds / 2)
    load.stop()
    served.stop()
    with psycopg.connect(url) as conn:
        stored = dict(conn.execute("SELECT matter::json ->> 'application_no', case_id FROM cases "
                                   "WHERE matter::json ->> 'application_no' LIKE 'KILL-%'").fetchall())
        doubled = conn.execute("SELECT count(*) FROM (SELECT matter::json ->> 'application_no' FROM cases "
                               "GROUP BY 1 HAVING count(*) > 1) d").fetchone()
    lost = [a for a, case_id in load.cases.items() if stored.get(a) != case_id]
    return {"killed_pid": victim, "its_connections": connections, "requests": len(load.latencies), "retries": load.retries,
            "errors": load.errors, "cases_reported": len(load.cases), "cases_stored": len(stored),
            "lost": len(lost), "duplicated": int(doubled[0]) if doubled else 0}


def render(res: dict[str, Any]) -> str:
    lines = ["| workers | clients | requests | req/s | p50 ms | p99 ms | errors | cases opened |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in res["load"]:
        lines.append(f"| {r['workers']} | {r['clients']} | {r['requests']} | {r['requests_per_s']} | {r['p50_ms']} "
                     f"| {r['p99_ms']} | {r['errors']} | {r['cases_opened']} |")
    k = res["kill"]
    lines += ["", "SIGKILL of one of 4 workers mid-load:",
              (f"  the killed worker held {k['its_connections']} of {res['load'][0]['clients']} connections; "
              f"requests {k['requests']}, client retries {k['retries']}, errors {k['errors']}, "
              f"cases reported {k['cases_reported']}, stored {k['cases_stored']}, "
              f"lost {k['lost']}, matters with two cases {k['duplicated']}")]
    return "\n".join(lines)


def footer(res: dict[str, Any]) -> str:
    return (f"  * {res['listed']} listed companies; {res['hit_share']:.0%} of checks hit and open a case; "
            f"client and server share this machine ({res['machine']['cpus']} CPUs, load "
            f"{res['machine']['loadavg']}).")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        server = pgserver.start()
    except pgserver.PgServerError as exc:
        print(f"PostgreSQL could not be started: {exc}", file=sys.stderr)
        return 3
    try:
        url = server.create_database()
        log(f"writing {args.listed} listed companies")
        with PostgresStore(url) as store:
            store.upsert(listed_records(args.listed))
            key = KeyBook(store).create("bench")
        res: dict[str, Any] = {"machine": machine_info(), "listed": args.listed, "hit_share": args.hit_share,
                               "load": [run_load(url, key, w, args) for w in args.workers]}
        res["kill"] = kill_phase(url, key, args)
        report(res, render, footer, args.out, started)
        server.drop_database(url)
    finally:
        server.stop()
    bad = any(r["errors"] for r in res["load"]) or res["kill"]["lost"] or res["kill"]["duplicated"] \
        or res["kill"]["errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
