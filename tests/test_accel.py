"""The compiled helpers of the no-hit check (joint_sanctions/_speedups.c) equal their pure-Python twins
(joint_sanctions/_accel.py, ClearResults._build), are built here, and the package works without them."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joint_sanctions import CheckResult, Matter, _accel, _memo, _results
from joint_sanctions import _records as records
from joint_sanctions._check_chars import uscc_check_char
from joint_sanctions._compile import SELF, CompiledMeasures
from joint_sanctions._identifiers import kind_mismatch, parse_identifier
from joint_sanctions._models import CreditRecord, fields_set, model_py
from joint_sanctions._results import ClearResults
from joint_sanctions._serving import compile_paths
from joint_sanctions._tabular import FIELD_MAX
from joint_sanctions.stores._sql_store import FIELDS
from joint_sanctions.testing import SequentialIds
from joint_sanctions.vocabulary import LIST_TYPES, RECORD_STATUSES, SUBJECT_TYPES

from .conftest import PERSON, numbered_uscc, resident_id

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
NOW = dt.datetime(2025, 6, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _compiled_module() -> Any:
    """The compiled module, set up as the library sets it up when it serves (with
    JOINT_SANCTIONS_PURE_PYTHON=1 it is built but the library leaves it alone)."""
    from pydantic import BaseModel

    from joint_sanctions._masking import mask_parsed, mask_text
    from joint_sanctions._models import SubjectRef
    from joint_sanctions._results import _REF_FIELDS, _RESULT_FIELDS

    built = _accel.BUILT
    if built is None:
        pytest.fail("the compiled helpers are not built: their tests cannot run (see test_they_are_built_here)")
    if not _accel.COMPILED:
        built.setup_models(BaseModel, *(BaseModel.__dict__[name] for name in (
            "__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")))
        built.setup_clear(CheckResult, SubjectRef, _RESULT_FIELDS, _REF_FIELDS, mask_parsed, mask_text)
        built.setup_memo("record__list_type", "id", _memo._ABSENT, _memo._NONE)
        built.setup_csv_rows(records.COLUMNS, records._BY_NAME, records._SEEN_DATES,
                             (frozenset(LIST_TYPES), frozenset(SUBJECT_TYPES), frozenset(RECORD_STATUSES)),
                             parse_identifier, kind_mismatch, CreditRecord, tuple(CreditRecord.model_fields),
                             fields_set(CreditRecord), FIELD_MAX)
        built.setup_rows(CreditRecord, FIELDS, fields_set(CreditRecord), frozenset(LIST_TYPES),
                         frozenset(SUBJECT_TYPES), frozenset(RECORD_STATUSES))
        built.setup_hits(("id", "party__role", "record__list_type", "record__authority", "record__document_no",
                          "record__reason", _results._BANS_MATTER, _results._OVERDUE), SELF, _results._utf8)
    return built


def test_they_are_built_here() -> None:
    """The package installed for the tests was built with its C helpers (a compiler is at hand here), so
    the rest of this file compares them with their twins; they serve unless JOINT_SANCTIONS_PURE_PYTHON=1."""
    pure = bool(os.environ.get("JOINT_SANCTIONS_PURE_PYTHON"))
    assert _accel.BUILT is not None and _accel.COMPILED is not pure
    assert (_accel.uscc is _accel.uscc_py) is pure


@st.composite
def _usccs(draw: st.DrawFn) -> str:
    """Valid upper-case USCCs, then mutated at one place (any character, lower case, cut or lengthened)."""
    body = draw(st.sampled_from("123456789ANY")) + draw(st.text(ALPHABET, min_size=16, max_size=16))
    code = body + uscc_check_char(body)
    how = draw(st.sampled_from(["keep", "keep", "char", "lower", "cut", "longer", "digits"]))
    at = draw(st.integers(0, 17))
    if how == "char":
        code = code[:at] + draw(st.characters(max_codepoint=0x3000)) + code[at + 1:]
    elif how == "lower":
        code = code.lower()
    elif how == "cut":
        code = code[:at]
    elif how == "longer":
        code = code + draw(st.text(max_size=2))
    elif how == "digits":
        code = draw(st.text("0123456789", min_size=17, max_size=17)) + draw(st.sampled_from("0123456789X"))
    return code


@settings(max_examples=3000, deadline=None)
@given(text=st.one_of(_usccs(), st.text(max_size=20)))
def test_the_compiled_uscc_path_equals_its_twin(text: str) -> None:
    """On valid, mutated and random text, the compiled USCC path accepts exactly what its twin accepts, and
    what it accepts parse_identifier accepts as that USCC."""
    got = _compiled_module().uscc(text)
    assert got == _accel.uscc_py(text)
    if got is not None:
        assert got == (text, "uscc") and got[0] is text and parse_identifier(text) == got


def test_the_compiled_uscc_path_takes_every_department_and_check_character() -> None:
    """Every department code and all 31 check characters are accepted as their twin accepts them."""
    speedups = _compiled_module()
    seen = set()
    for n in range(400):
        for department in "123456789ANY":
            code = numbered_uscc(n, prefix=f"{department}1410100MA")
            assert speedups.uscc(code) == (code, "uscc") == _accel.uscc_py(code)
            seen.add(code[-1])
    assert seen == set(ALPHABET)


@pytest.fixture(scope="module")
def compiled() -> CompiledMeasures:
    return compile_paths(None)


_SUBJECTS = [(numbered_uscc(1), "uscc"), (numbered_uscc(2, prefix="11410100MA"), "uscc"),
             (numbered_uscc(3, prefix="92410100MA"), "uscc"), (PERSON, "resident_id"),
             (resident_id(7), "resident_id")]


@settings(max_examples=300, deadline=None)
@given(subject=st.sampled_from(_SUBJECTS),
       name=st.sampled_from(["", "张三", f"王某某（身份证{PERSON}）", "x"]),
       subject_type=st.sampled_from([None, "", "legal_person", "natural_person"]),
       amount=st.sampled_from([None, 0.0, 12.5]),
       stale=st.booleans())
def test_the_compiled_clear_result_equals_its_twin(compiled: CompiledMeasures, subject: tuple[str, str], name: str,
                                                   subject_type: str | None, amount: float | None,
                                                   stale: bool) -> None:
    """For every kind of subject, name and subject type, the compiled clear result equals the pure-Python
    one field by field (ids masked alike), in JSON, pickling and its pydantic bookkeeping, and owns its
    dicts; a new data_as_of (a stale template) is rebuilt alike."""
    speedups = _compiled_module()
    fast, slow = ClearResults(SequentialIds("c-")), ClearResults(SequentialIds("c-"))
    build = partial(speedups.clear, fast)
    as_of = {"court_defaulter": NOW}
    mat = Matter(matter_type="bidding", amount=amount)
    args = (compiled, as_of, subject[0], subject[1], name, subject_type, mat, NOW)
    if stale:
        build(compiled, {}, *args[2:])
        slow._build(compiled, {}, *args[2:])
    got, want = build(*args), slow._build(*args)
    assert type(got) is CheckResult and got == want and got.model_dump_json() == want.model_dump_json()
    assert got.model_fields_set == want.model_fields_set and got.subject.model_fields_set == want.subject.model_fields_set
    assert got.__pydantic_extra__ is None and got.__pydantic_private__ is None
    assert pickle.loads(pickle.dumps(got)) == got and got.model_copy(update={"decision": "review"}).decision == "review"
    assert PERSON not in got.model_dump_json()
    again = build(*args)
    assert again.__dict__ is not got.__dict__ and again.subject is not got.subject
    assert again.subject.__dict__ is not got.subject.__dict__ and again.check_id != got.check_id


def test_an_error_of_the_id_maker_reaches_the_caller(compiled: CompiledMeasures) -> None:
    """A host's id maker that fails makes the compiled build raise its error, as the twin does."""
    speedups = _compiled_module()

    def broken() -> str:
        raise RuntimeError("ids exhausted")

    mat = Matter(matter_type="bidding")
    for build in (partial(speedups.clear, ClearResults(broken)), ClearResults(broken)._build):
        with pytest.raises(RuntimeError, match="ids exhausted"):
            build(compiled, {}, numbered_uscc(1), "uscc", "", None, mat, NOW)


def test_a_compiled_model_equals_one_built_by_its_twin(compiled: CompiledMeasures) -> None:
    """A model built by the compiled helper equals the pure-Python twin's and the validated one, keeps the
    dict it was given as its own, and refuses what is not a model class, a dict and a set."""
    from joint_sanctions._models import Hit, SubjectRef

    speedups = _compiled_module()
    fields = {"record_id": "R1", "list_type": "court_defaulter", "authority": "法院", "document_no": "（2025）豫01执1号",
              "listed_on": dt.date(2025, 1, 2), "expires_on": None, "subject_id": numbered_uscc(1)}
    fields_set = set(Hit.model_fields)
    values = dict(fields)
    got, want = speedups.model(Hit, values, fields_set), model_py(Hit, dict(fields), fields_set)
    assert type(got) is Hit and got == want == Hit.model_validate(fields) and got.__dict__ is values
    assert got.model_fields_set == fields_set and pickle.loads(pickle.dumps(got)) == got
    assert got.__pydantic_fields_set__ is fields_set and got.__pydantic_extra__ is None and got.__pydantic_private__ is None
    held = sys.getrefcount(fields_set)
    for _ in range(100):  # each model holds its slots' values once, and gives them back when freed
        speedups.model(Hit, dict(fields), fields_set)
    assert sys.getrefcount(fields_set) == held
    for bad in ((dict, values, fields_set), (SubjectRef, list(values), fields_set), (Hit,)):
        with pytest.raises(TypeError):
            speedups.model(*bad)


def test_compiled_models_are_left_out_of_the_cyclic_collector_and_still_freed(compiled: CompiledMeasures) -> None:
    """What the compiled helper builds (every result part: frozen models of values) is not tracked by the
    cyclic collector, nor is its dict, so check_many's thousands of results are not scanned again and again;
    a dict given a container later is tracked again (CPython's own rule), and a dropped model is freed."""
    import gc

    from joint_sanctions._models import Hit

    speedups = _compiled_module()
    fields = {"record_id": "R1", "list_type": "court_defaulter", "authority": "法院", "document_no": "（2025）豫01执1号",
              "listed_on": dt.date(2025, 1, 2), "expires_on": None, "subject_id": numbered_uscc(1)}
    got = speedups.model(Hit, dict(fields), set(Hit.model_fields))
    assert not gc.is_tracked(got) and not gc.is_tracked(got.__dict__)
    gc.collect()
    assert got == Hit.model_validate(fields)
    got.__dict__["extra"] = [got]  # a cycle only a host's hack can make: the dict is tracked again
    assert gc.is_tracked(got.__dict__)
    del got.__dict__["extra"]
    mat = Matter(matter_type="bidding")
    result = speedups.clear(ClearResults(SequentialIds("c-")), compiled, {}, numbered_uscc(2), "uscc", "", None,
                            mat, NOW)
    assert not gc.is_tracked(result) and not gc.is_tracked(result.subject)
    before = sys.getrefcount(mat)
    del result
    assert sys.getrefcount(mat) == before - 1  # the result was freed by reference counting alone


@settings(max_examples=100, deadline=None)
@given(picks=st.lists(st.tuples(st.integers(0, 30), st.lists(st.sampled_from(["R1", "R2", "R3"]), min_size=1,
                                                                max_size=3, unique=True), st.booleans()),
                      max_size=12))
def test_compiled_applied_measures_equal_their_twins(compiled: CompiledMeasures,
                                                     picks: list[tuple[int, list[str], bool]]) -> None:
    """Assembly's last step, compiled, gives the measures its twin gives (each a dict of its own, a related
    party only where one is named), and refuses rows of another shape."""
    from joint_sanctions._models import AppliedMeasure, ViaRelatedParty
    from joint_sanctions._results import _APPLIED_FIELDS, Assembly, _applied_measures_py

    speedups = _compiled_module()
    assembly, mids = Assembly(compiled), sorted(compiled.measures)
    via = ViaRelatedParty(role="legal_representative", id=PERSON, name="张三")
    rows = [(assembly._part(mids[n % len(mids)])[0], (tuple(ids), via if named else None)) for n, ids, named in picks]
    got = speedups.applied(iter(rows), AppliedMeasure, _APPLIED_FIELDS)
    want = _applied_measures_py(rows, AppliedMeasure, _APPLIED_FIELDS)
    assert got == want and all(type(m) is AppliedMeasure for m in got)
    assert not {id(m.__dict__) for m in got} & {id(fields) for fields, _ in rows}
    assert [m.via_related_party for m in got] == [v for _, (_, v) in rows]
    for bad in ([({}, ("R1",))], [(rows[0][0] if rows else {}, ("R1", None), 3)], [None]):
        with pytest.raises(TypeError):
            speedups.applied(bad, AppliedMeasure, _APPLIED_FIELDS)


@settings(max_examples=300, deadline=None)
@given(subjects=st.lists(st.one_of(_usccs(), st.just(PERSON), st.integers(), st.just({"id": numbered_uscc(5)})),
                         max_size=12),
       listed=st.lists(st.booleans(), min_size=12, max_size=12))
def test_the_compiled_first_pass_of_check_many_equals_its_twin(subjects: list[Any], listed: list[bool]) -> None:
    """check_many's first pass, compiled, picks the same unlisted upper-case USCCs as its twin and leaves
    the same places (anything else, or a listed USCC) to the caller."""
    speedups = _compiled_module()
    hashes = {hash(s) for s, on in zip(subjects, listed, strict=False) if on and isinstance(s, str)}
    got = speedups.bare_usccs(subjects, hashes)
    assert got == _accel.bare_usccs_py(subjects, hashes)
    ids, kinds, others = got
    assert others == [i for i, known in enumerate(ids) if known is None]
    assert all(k == ("uscc" if i is not None else "") for i, k in zip(ids, kinds, strict=True))
    with pytest.raises(TypeError):
        speedups.bare_usccs(tuple(subjects), hashes)


def test_compiled_clear_results_of_many_bare_ids_equal_their_twins(compiled: CompiledMeasures) -> None:
    """Many bare ids' clear results, compiled, equal the twin's one by one, with check ids drawn in order;
    lists of other lengths or types are refused, an id maker's error reaches the caller."""
    speedups = _compiled_module()
    fast, slow = ClearResults(SequentialIds("c-")), ClearResults(SequentialIds("c-"))
    build_many = partial(speedups.clear_many, fast)
    ids = [numbered_uscc(1), PERSON, numbered_uscc(2, prefix="92410100MA"), resident_id(3)]
    kinds = ["uscc", "resident_id", "uscc", "resident_id"]
    mat, as_of = Matter(matter_type="honors"), {"court_defaulter": NOW}
    got = build_many(compiled, as_of, ids, kinds, mat, NOW)
    assert got == slow._build_many(compiled, as_of, ids, kinds, mat, NOW)
    assert [r.check_id for r in got] == ["c-0", "c-1", "c-2", "c-3"] and PERSON not in repr(got)
    assert build_many(compiled, as_of, [], [], mat, NOW) == []
    for build in (build_many, slow._build_many):
        with pytest.raises(ValueError):
            build(compiled, as_of, ids, kinds[:2], mat, NOW)
    for bad in ((tuple(ids), kinds), ([7], ["uscc"])):
        with pytest.raises(TypeError):
            build_many(compiled, as_of, *bad, mat, NOW)

    def broken() -> str:
        raise RuntimeError("ids exhausted")

    with pytest.raises(RuntimeError, match="ids exhausted"):
        speedups.clear_many(ClearResults(broken), compiled, as_of, ids, kinds, mat, NOW)


_SCRIPT = """
import datetime as dt, json, sys
from joint_sanctions import Engine, _accel
from joint_sanctions.testing import Clock, MemoryStore, SequentialIds
from tests.conftest import record, numbered_uscc, PERSON
store = MemoryStore()
store.upsert([record("R1", numbered_uscc(1))])
engine = Engine(store=store, cases=False, clock=Clock(dt.datetime(2025, 6, 1, tzinfo=dt.UTC)),
                new_id=SequentialIds("chk-"))
subjects = [numbered_uscc(1), numbered_uscc(2), PERSON, {"id": numbered_uscc(3), "name": "张三"}]
print(json.dumps({"compiled": _accel.COMPILED,
                  "results": [engine.check(s, "bidding", amount=5).model_dump(mode="json") for s in subjects]}))
"""


def test_the_package_answers_alike_without_the_compiled_helpers(tmp_path: Path) -> None:
    """With JOINT_SANCTIONS_PURE_PYTHON=1 the twins serve, and the same checks give the same results."""
    root = Path(__file__).resolve().parent.parent

    def run(pure: bool) -> Any:
        env = {k: v for k, v in os.environ.items() if k != "JOINT_SANCTIONS_PURE_PYTHON"}
        if pure:
            env["JOINT_SANCTIONS_PURE_PYTHON"] = "1"
        done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=root, env=env, capture_output=True, text=True,
                              check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    pure, compiled = run(True), run(False)
    assert pure["compiled"] is False and compiled["compiled"] is True
    for result in (*pure["results"], *compiled["results"]):
        result.pop("data_as_of")  # when each process wrote its record
    assert pure["results"] == compiled["results"]
    assert [r["decision"] for r in pure["results"]] == ["restricted", "clear", "clear", "clear"]


@settings(max_examples=300, deadline=None)
@given(prefix=st.text(st.characters(max_codepoint=127), min_size=16, max_size=16),
       start=st.one_of(st.integers(0, 1000), st.integers(0, 2**64 - 8)))
def test_compiled_check_ids_equal_their_twin(prefix: str, start: int) -> None:
    """An engine's default check ids, compiled, are its twin's: the prefix, then the counter in 16 hex
    digits, up to the last 64-bit number."""
    fast, slow = _compiled_module().CheckIds(prefix, start), _accel.check_ids_py(prefix, start)
    assert [fast() for _ in range(5)] == [slow() for _ in range(5)]


def test_compiled_check_ids_are_unique_across_threads_and_refuse_misuse() -> None:
    """Threads drawing from one maker never get the same id; a prefix of another length or not ASCII,
    and a call with arguments, are refused."""
    from concurrent.futures import ThreadPoolExecutor

    ids = _compiled_module().CheckIds("f" * 16)
    with ThreadPoolExecutor(4) as pool:
        drawn = [i for batch in pool.map(lambda _: [ids() for _ in range(20_000)], range(4)) for i in batch]
    assert len(set(drawn)) == len(drawn) == 80_000
    for bad in ("short", "é" * 16, "f" * 17):
        with pytest.raises(ValueError, match="16 ASCII"):
            _compiled_module().CheckIds(bad)
    with pytest.raises(TypeError):
        ids(1)
