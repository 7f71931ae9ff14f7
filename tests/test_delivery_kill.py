"""Crash safety of delivery: SIGKILL the sending process at random points, then finish; nothing is lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from joint_sanctions.testing.simulator import PlatformSimulator

from .conftest import Database, Loop

CASES = 200
KILLS = 35


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_at_random_points_never_loses_a_case(database: Database) -> None:
    """35 SIGKILLs of ``cases feedback`` mid-run, then one full run: all 200 cases delivered, each
    duplicate at the platform a byte-identical resend under the same Idempotency-Key."""
    rng = random.Random(20250601)
    tmp_path = database.workdir
    loop = Loop(database)
    ids = set(loop.disposed(CASES))
    command = [sys.executable, "-m", "joint_sanctions", "cases", "feedback", "--retry-for", "1", "--db", loop.url]
    kills = mid_run = 0
    with PlatformSimulator(delay=0.02, hang=1.0) as platform:
        command += ["--to", platform.url]
        while kills < KILLS and len(platform.accepted) < CASES:
            seen = len(platform.requests)
            proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if rng.random() < 0.2:
                time.sleep(rng.uniform(0.0, 0.4))  # during start-up: opening, migrating, first claim
            else:
                deadline = time.monotonic() + 10
                while len(platform.requests) == seen and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(rng.uniform(0.0, 0.15))  # while sending: before, during or after a POST
            proc.send_signal(signal.SIGKILL)
            proc.wait()  # reaped, so its pid is gone and its claim can be taken over at once
            kills += proc.returncode == -signal.SIGKILL
            mid_run += len(platform.requests) > seen
        accepted_before_final = len(platform.accepted)
        final = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
        assert final.returncode == 0, final.stderr

        assert set(platform.accepted) == ids  # none lost
        assert {c.status for c in loop.book.list()} == {"fed_back"}
        assert platform.invalid == [] and platform.mismatched == [] and platform.overlapping == []
        duplicates = Counter(platform.duplicates)
        assert set(duplicates) <= ids and sum(duplicates.values()) <= kills
        assert len(platform.requests) == CASES + sum(duplicates.values())
        assert set(platform.truncated) <= ids
    if database.kind == "sqlite":
        assert database.rows("PRAGMA integrity_check") == [("ok",)]
    print(f"\nkill test: kills={kills} (after sending began: {mid_run}) cases={CASES} "
          f"delivered_before_final_run={accepted_before_final} lost=0 "
          f"duplicates_at_receiver={sum(duplicates.values())} (distinct keys {len(duplicates)}) "
          f"truncated_requests={len(platform.truncated)}")
    assert kills == KILLS and mid_run >= KILLS // 2  # most kills hit a run that was sending
