"""The library's decision log: silent unless the application turns logging on, by structlog or stdlib.

Each test runs its program in a fresh interpreter, so the global logging and structlog configuration
starts pristine (the test process itself has structlog configured by conftest).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from joint_sanctions import mask_text
from joint_sanctions._logging import _mask_event

PERSON = "410105197805120313"
MASKED = "4101**********0313"

# A listed person (a check with a hit and a case), an unlisted company (the no-hit path), and a
# failed reload (a warning event): every kind of event the library writes on a check's way.
PRELUDE = f"""
import datetime as dt, logging, sys
import structlog
import joint_sanctions as js
from joint_sanctions.stores._sqlite import SqliteStore

def run_checks(path, refresh_interval=1.0):
    store = SqliteStore(path)
    store.upsert([js.CreditRecord(record_id="R-1", list_type="court_defaulter", subject_id="{PERSON}",
                                  authority="郑州市中级人民法院", document_no="(2024)豫01执1号",
                                  listed_on=dt.date(2024, 1, 1))])
    engine = js.Engine(store=store, refresh_interval=refresh_interval)
    engine.check("{PERSON}", "government_procurement")
    engine.check("91350100M000100Y43", "government_procurement")
    try:
        engine.reload(path + ".missing-measures")
    except js.JointSanctionsError:
        pass
    return engine
"""


def _run(program: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    code = PRELUDE + textwrap.dedent(program)
    return subprocess.run([sys.executable, "-c", code, str(tmp_path / "records.db")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)


def test_an_application_that_configures_nothing_sees_nothing(tmp_path: Path) -> None:
    """With no logging configured, checks and warnings print nothing on stdout or stderr, and the root
    logger gets no handler from the library."""
    done = _run("""
        run_checks(sys.argv[1])
        assert logging.getLogger().handlers == [], logging.getLogger().handlers
        assert not structlog.is_configured()
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


def test_stdlib_logging_receives_the_check_event_with_the_id_masked(tmp_path: Path) -> None:
    """``logging.basicConfig(level=INFO)`` is enough to receive the decision log, resident ids masked."""
    done = _run("""
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
        run_checks(sys.argv[1])
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    checks = [line for line in done.stderr.splitlines() if line.startswith("INFO joint_sanctions event=check ")]
    assert len(checks) == 2, done.stderr
    assert f"subject={MASKED}" in checks[0] and "decision=restricted" in checks[0]
    assert "WARNING joint_sanctions event=measures_reload_failed" in done.stderr
    assert PERSON not in done.stderr and done.stdout == ""


def test_stdlib_warning_level_keeps_the_check_events_out(tmp_path: Path) -> None:
    """An application logging at WARNING gets the library's warnings but not one line per check."""
    done = _run("""
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
        run_checks(sys.argv[1])
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "event=check " not in done.stderr
    assert "WARNING joint_sanctions event=measures_reload_failed" in done.stderr


def test_structlog_configured_by_the_application_receives_the_events(tmp_path: Path) -> None:
    """An application's ``structlog.configure`` (its processors, its logger factory) carries the events,
    resident ids masked before its own processors see them."""
    done = _run("""
        structlog.configure(processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
                            logger_factory=structlog.PrintLoggerFactory(file=sys.stdout))
        run_checks(sys.argv[1])
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    checks = [e for e in events if e["event"] == "check"]
    assert [(c["subject"], c["decision"], c["level"]) for c in checks] == [
        (MASKED, "restricted", "info"), ("91350100M000100Y43", "clear", "info")]
    assert any(e["event"] == "measures_reload_failed" and e["level"] == "warning" for e in events)
    assert PERSON not in done.stdout and done.stderr == ""


def test_structlog_filtering_level_is_honoured(tmp_path: Path) -> None:
    """An application filtering structlog at WARNING gets no check events."""
    done = _run("""
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                            processors=[structlog.processors.JSONRenderer()],
                            logger_factory=structlog.PrintLoggerFactory(file=sys.stdout))
        run_checks(sys.argv[1])
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line)["event"] for line in done.stdout.splitlines()]
    assert events == ["measures_reload_failed"]


def test_an_engine_follows_logging_configured_after_it_was_built(tmp_path: Path) -> None:
    """Logging turned on while an engine serves reaches that engine's next checks after a refresh."""
    done = _run("""
        engine = run_checks(sys.argv[1], refresh_interval=0)
        print("configured", file=sys.stderr)
        logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
        engine.check("{person}", "honors")
    """.replace("{person}", PERSON), tmp_path)
    assert done.returncode == 0, done.stderr
    before, after = done.stderr.split("configured\n")
    assert before == ""
    assert "joint_sanctions event=check " in after and "matter_type=honors" in after


def test_check_ids_of_the_hosts_own_making_are_masked_in_the_check_event(tmp_path: Path) -> None:
    """The check event skips the masking step its values do not need, but a check id from the host's
    ``new_id`` holding a resident id is still masked, through stdlib logging and through structlog."""
    done = _run(f"""
        import itertools
        logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
        store = SqliteStore(sys.argv[1])
        store.upsert([js.CreditRecord(record_id="R-1", list_type="court_defaulter", subject_id="{PERSON}",
                                      authority="郑州市中级人民法院", document_no="(2024)豫01执1号",
                                      listed_on=dt.date(2024, 1, 1))])
        numbers = itertools.count()
        engine = js.Engine(store=store, cases=False, new_id=lambda: f"{PERSON}-{{next(numbers)}}")
        engine.check("{PERSON}", "government_procurement")
        structlog.configure(processors=[structlog.processors.JSONRenderer()],
                            logger_factory=structlog.PrintLoggerFactory(file=sys.stdout))
        js.Engine(store=store, cases=False, new_id=lambda: "身份证{PERSON}").check("{PERSON}", "honors")
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"check_id={MASKED}-0 " in done.stderr and f"subject={MASKED}" in done.stderr
    event = json.loads(done.stdout)
    assert (event["check_id"], event["subject"]) == (f"身份证{MASKED}", MASKED)
    assert PERSON not in done.stderr + done.stdout


_TEXT = st.text(alphabet=st.sampled_from("0123456789Xx０１２９Ｘ -\u3000\t—abf_身份证"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["check_id", "revision", "subject", "note", "event"]),
                       st.one_of(_TEXT, st.sampled_from([PERSON, "4101051978051203", "410105780512031",
                                                         "4101 0519 7805 1203 13", "１" * 15, "x" * 15]),
                                 st.integers(), st.lists(_TEXT, max_size=2)), max_size=5))
def test_every_string_of_an_event_is_masked_as_mask_text_masks_it(event: dict[str, object]) -> None:
    """The masking step of the log path changes an event's strings exactly as ``mask_text`` would,
    whatever shortcut it takes for strings that cannot hold an id, and leaves other values alone."""
    expected = {k: mask_text(v) if isinstance(v, str) else v for k, v in event.items()}
    assert _mask_event(None, "info", dict(event)) == expected
