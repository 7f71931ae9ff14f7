"""The test kit (``joint_sanctions.testing``) as a user testing their own integration meets it: no database,
no network, reproducible results, a platform that is down, and the simulator's extra dependency."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from joint_sanctions import Engine, case_book_for, deliver
from joint_sanctions._errors import RejectedDeliveryError, RetryableDeliveryError
from joint_sanctions.testing import Clock, FailingSink, MemoryStore, RecordingSink, SequentialIds

from .conftest import CO, FAST, FIXED_NOW, FIXTURE, PERSON, loop_records, record


def kit_engine(**kw: object) -> Engine:
    """An engine over the fixture lists and an in-memory store, as a user's test would build one."""
    return Engine(measures=FIXTURE, store=MemoryStore(loop_records()), **kw)  # type: ignore[arg-type]


def test_clock_and_sequential_ids_make_checks_reproducible() -> None:
    """With a Clock and SequentialIds injected, two engines give the same ids and stamps."""
    results = [kit_engine(clock=Clock(FIXED_NOW), new_id=SequentialIds("chk-"), cases=False)
               .check(CO, "government_procurement") for _ in range(2)]
    assert [r.check_id for r in results] == ["chk-0", "chk-0"]
    assert results[0].checked_at == results[1].checked_at == FIXED_NOW
    assert [(r.decision, r.measures, r.revision) for r in results] == \
        [(results[0].decision, results[0].measures, results[0].revision)] * 2


def test_clock_moves_only_when_told_and_dates_checks_by_it() -> None:
    """A Clock stands still, moves by advance() or set(), and the engine dates its checks by it."""
    clock = Clock(dt.datetime(2025, 5, 31, 12, tzinfo=dt.UTC))
    store = MemoryStore([record("R1", CO, listed_on=dt.date(2025, 6, 2))])
    engine = Engine(measures=FIXTURE, store=store, clock=clock, cases=False)
    assert clock() == clock() == dt.datetime(2025, 5, 31, 12, tzinfo=dt.UTC)
    assert engine.check(CO, "government_procurement").decision == "clear"  # listed the day after tomorrow
    assert clock.advance(dt.timedelta(days=1)) == dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    assert clock.advance(4 * 3600) == dt.datetime(2025, 6, 1, 16, tzinfo=dt.UTC)  # 2 June 00:00 in China
    assert engine.check(CO, "government_procurement").decision == "prohibited"
    clock.set(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))  # set back
    assert engine.check(CO, "government_procurement").checked_at == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert clock.timestamp() == dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()


def test_clock_refuses_a_naive_time() -> None:
    """A time without a zone is refused: the day of a check depends on it."""
    with pytest.raises(ValueError, match="timezone-aware"):
        Clock(dt.datetime(2025, 6, 1))
    clock = Clock(FIXED_NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(dt.datetime(2025, 6, 1))
    assert clock() == FIXED_NOW


def test_sequential_ids_count_from_start_and_keep_what_they_issued() -> None:
    """Ids are prefix + start, start + 1, …; ``issued`` lists them in order, also for case ids."""
    ids = SequentialIds("case-", start=7)
    store = MemoryStore(loop_records())
    engine = Engine(measures=FIXTURE, store=store, clock=Clock(FIXED_NOW), cases=case_book_for(store, new_id=ids))
    opened = [engine.check(CO, "government_procurement").case_id,
              engine.check(PERSON, "civil_servant_hiring").case_id]
    assert opened == ["case-7", "case-8"] == ids.issued and ids() == "case-9"


def test_failing_sink_is_a_platform_that_is_down() -> None:
    """Every send to a FailingSink fails: retryable errors leave the cases pending, a refusal rejects them."""
    engine = kit_engine(clock=Clock(FIXED_NOW))
    book = case_book_for(engine.store)
    for subject, matter in ((CO, "government_procurement"), (PERSON, "civil_servant_hiring")):
        case_id = engine.check(subject, matter).case_id
        assert case_id is not None
        book.dispose(case_id, "applied")
    down = FailingSink(RetryableDeliveryError("platform down"))
    report = deliver(book, down, retry_for=0.05, in_run_backoff=FAST)
    assert not report.ok and report.delivered == [] and len(report.left_pending) == 2
    assert len(down.calls) >= 2 and {c.status for c in book.list()} == {"disposed"}
    refusing = FailingSink(RejectedDeliveryError("bad record", 400))
    report = deliver(book, refusing)
    assert [c for c, _ in report.rejected] == refusing.calls and len(refusing.calls) == 2
    assert {c.status for c in book.list()} == {"rejected"}


def test_recording_sink_delivers_after_its_scripted_failures() -> None:
    """A RecordingSink fails as scripted (a flaky platform), then records what it delivers."""
    engine = kit_engine(clock=Clock(FIXED_NOW))
    book = case_book_for(engine.store)
    case_id = engine.check(CO, "government_procurement").case_id
    assert case_id is not None
    book.dispose(case_id, "applied")
    sink = RecordingSink([RetryableDeliveryError("blip"), None])
    assert deliver(book, sink, in_run_backoff=FAST).delivered == [case_id]
    assert sink.calls == [case_id, case_id] and [p["case_id"] for p in sink.payloads] == [case_id]


def test_the_testing_extra_brings_the_simulator_s_dependency() -> None:
    """``pip install joint-sanctions[testing]`` installs jsonschema; the ``test`` extra includes ``testing``."""
    requires = importlib.metadata.requires("joint-sanctions") or []
    by_extra: dict[str, list[str]] = {}
    for line in requires:
        requirement, _, marker = line.partition(";")
        if "extra ==" in marker:
            extra = marker.split("extra ==")[1].strip().strip("'\"")
            by_extra.setdefault(extra, []).append(requirement.strip())
    for extra in ("testing", "test"):  # the build writes the test extra's [testing] out in full
        assert [r for r in by_extra[extra] if r.startswith("jsonschema")], extra
    assert not [r for r in requires if r.startswith("jsonschema") and "extra" not in r]  # never required


_WITHOUT_JSONSCHEMA = "import sys; sys.modules['jsonschema'] = None; "


def test_the_simulator_without_jsonschema_names_the_extra_to_install(tmp_path: Path) -> None:
    """Without jsonschema the simulator command says in one line what to install, exit 1, no traceback."""
    code = _WITHOUT_JSONSCHEMA + ("from joint_sanctions.testing.simulator import main; "
                                  "sys.exit(main(['--port', '0']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "pip install 'joint-sanctions[testing]'" in done.stderr
    code = _WITHOUT_JSONSCHEMA + ("from joint_sanctions.testing.simulator import PlatformSimulator\n"
                                  "try:\n    PlatformSimulator()\nexcept ImportError as exc:\n    print(exc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, check=True)
    assert "joint-sanctions[testing]" in done.stdout


def test_the_kit_docstring_names_every_export_and_the_simulator_command() -> None:
    """``help(joint_sanctions.testing)`` names each exported fake and how to run the simulator."""
    import joint_sanctions.testing as kit

    doc = kit.__doc__ or ""
    assert all(f":class:`{name}`" in doc for name in kit.__all__)
    assert "python -m joint_sanctions.testing.simulator" in doc
