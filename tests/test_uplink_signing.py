"""The signed uplink by default: any sender takes its HMAC-SM3 key from JOINT_SANCTIONS_UPLINK_KEY when set.

The key is decided in one place (``uplink_key``): an explicit key (``sign_key=…``, or ``cases feedback
--sign-key-env VAR``) wins, else the environment variable, and an empty variable means no key. The
precedence on the command line is pinned in test_uplink_bounds.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import structlog

from joint_sanctions import DeliveryError, HttpSink, RejectedDeliveryError, deliver
from joint_sanctions._delivery import UPLINK_KEY_ENV
from joint_sanctions.testing.simulator import PlatformSimulator

from .conftest import FAST, Loop, wait_until


def test_a_long_running_sender_signs_with_the_key_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``deliver(…, forever=True)`` through an ``HttpSink`` built without a key signs every record with
    JOINT_SANCTIONS_UPLINK_KEY; the simulator, which requires that key, accepts them all."""
    monkeypatch.setenv(UPLINK_KEY_ENV, "shared-env-key")
    loop = Loop(tmp_path / "loop.db")
    cases = set(loop.disposed(3))
    stop = threading.Event()
    with PlatformSimulator(sign_key=b"shared-env-key") as platform, HttpSink(platform.url, timeout=5) as sink:
        sender = threading.Thread(target=deliver, args=(loop.book, sink),
                                  kwargs={"forever": True, "stop": stop, "poll_interval": 0.02,
                                          "in_run_backoff": FAST})
        sender.start()
        try:
            wait_until(lambda: set(platform.accepted) == cases)
        finally:
            stop.set()
            sender.join()
        assert {r.status for r in platform.requests} == {201}


def test_an_explicit_key_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HttpSink(sign_key=…)`` signs with that key whatever the environment holds."""
    monkeypatch.setenv(UPLINK_KEY_ENV, "env-key")
    with PlatformSimulator(sign_key=b"explicit-key") as platform:
        with HttpSink(platform.url, sign_key=b"explicit-key") as sink:
            _past_the_signature(sink)
        with HttpSink(platform.url) as sink, pytest.raises(DeliveryError, match="401"):
            sink.send("case-2", _body("case-2"))


@pytest.mark.parametrize("value", [None, ""])
def test_no_key_or_an_empty_variable_sends_unsigned(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    """An unset or empty JOINT_SANCTIONS_UPLINK_KEY means no key: a platform that requires signatures says 401."""
    if value is None:
        monkeypatch.delenv(UPLINK_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(UPLINK_KEY_ENV, value)
    with PlatformSimulator(sign_key=b"k") as platform, HttpSink(platform.url) as sink, \
            pytest.raises(DeliveryError, match="401"):
        sink.send("case-1", _body("case-1"))


@pytest.mark.parametrize("key, warned, unsigned", [
    (None, True, True), ("env-key", True, False),
])
def test_plain_http_to_another_host_warns_naming_a_missing_key(monkeypatch: pytest.MonkeyPatch, key: str | None,
                                                                warned: bool, unsigned: bool) -> None:
    """Plain http:// to a non-loopback host logs one warning, which says no key is set unless the
    environment gives one."""
    monkeypatch.delenv(UPLINK_KEY_ENV, raising=False)
    if key is not None:
        monkeypatch.setenv(UPLINK_KEY_ENV, key)
    with structlog.testing.capture_logs() as logs:
        HttpSink("http://platform.example/feedback").close()
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == int(warned) and warnings[0]["event"] == "uplink_plain_http"
    assert warnings[0]["signed"] is not unsigned
    assert ("no signing key" in warnings[0]["message"]) is unsigned


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/feedback", "http://localhost/feedback"])
def test_plain_http_to_the_loopback_does_not_warn(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """A relay on the loopback is not a network path: no warning, key or not."""
    monkeypatch.delenv(UPLINK_KEY_ENV, raising=False)
    with structlog.testing.capture_logs() as logs:
        HttpSink(url).close()
    assert [e for e in logs if e["log_level"] == "warning"] == []


def test_the_simulator_command_requires_the_environment_key(tmp_path: Path) -> None:
    """``python -m joint_sanctions.testing.simulator`` with JOINT_SANCTIONS_UPLINK_KEY set verifies
    every signature with it: the right key is accepted, a wrong one refused with 401."""
    env = {**os.environ, UPLINK_KEY_ENV: "sim-key"}
    proc = subprocess.Popen([sys.executable, "-m", "joint_sanctions.testing.simulator", "--port", "0"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, proc.stderr.read() if proc.stderr else ""
        url = line.split("listening on", 1)[1].strip()
        with HttpSink(url, sign_key=b"wrong") as sink, pytest.raises(DeliveryError, match="401"):
            sink.send("case-1", _body("case-1"))
        with HttpSink(url, sign_key=b"sim-key") as sink:
            _past_the_signature(sink)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _body(case_id: str) -> bytes:
    """A body the simulator's schema refuses (400), after it has checked the signature (401)."""
    return ('{"schema_version": "1", "case_id": "' + case_id + '"}').encode()


def _past_the_signature(sink: HttpSink) -> None:
    """Send :func:`_body`: a 400 rather than a 401 proves the platform accepted the signature."""
    with pytest.raises(RejectedDeliveryError) as refused:
        sink.send("case-1", _body("case-1"))
    assert refused.value.status_code == 400
