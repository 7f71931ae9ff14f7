"""The compiled helpers of a hit and of reading records (``_hit.c``, ``_rows.c``, ``_csv_row.c``) against
their pure-Python twins: the facts of a hit, the memo's known answers, stored rows and CSV import rows."""

from __future__ import annotations

import datetime as dt
import math
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joint_sanctions import _memo, _results
from joint_sanctions import _records as records
from joint_sanctions._compile import CompiledMeasures
from joint_sanctions._models import CreditRecord, RelatedParty, model_py
from joint_sanctions._serving import compile_paths
from joint_sanctions._tabular import FIELD_MAX
from joint_sanctions.stores import SqliteStore
from joint_sanctions.stores._base import UnreadableRecordError
from joint_sanctions.stores._sql_store import FIELDS

from .conftest import numbered_uscc
from .test_accel import _compiled_module


@pytest.fixture(scope="module")
def compiled() -> CompiledMeasures:
    return compile_paths(None)


# --- a hit's facts and the memo's known answers (_hit.c) ----------------------------------------------------


def _odd_values(spec: Any) -> list[Any]:
    """Values a fact field may hold against ``spec``: every constant, its neighbours as int and float, and
    what the memo cannot class (NaN, a bool, a list, another type equal to a constant)."""
    values: list[Any] = [None, True, False, math.nan, [1], "x", 0, 0.0, -1, 10**20]
    for _, order, classes, constants in spec:
        for c in order or ():
            values += [c, c - 1, c + 1, float(c), c - 0.01, c + 0.01]
        values += [v for _, v in classes] + [str(v) for v in constants] + [1.0, 1]
    return values


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_the_compiled_known_answers_equal_their_twin(compiled: CompiledMeasures, data: st.DataObject) -> None:
    """On facts holding each constant, its neighbours, absent fields, None and values the memo cannot class,
    with some classes in the table and some not, the compiled known_answers returns what its twin returns:
    the same answers in the same order, or None."""
    speedups = _compiled_module()
    specs = dict(compiled.abstractions)
    rkeys = sorted(specs)
    matter = data.draw(st.sampled_from(sorted({m for _, m in rkeys})))
    lists = sorted({lt for lt, m in rkeys if m == matter}) + ["no_such_list"]
    facts, table = [], {}
    for i in range(data.draw(st.integers(0, 4))):
        list_type = data.draw(st.sampled_from(lists))
        fact: dict[str, Any] = {"id": f"f{i}", "record__list_type": list_type}
        spec = specs.get((list_type, matter), ())
        for key, *_ in spec:
            if data.draw(st.booleans()):
                fact[key] = data.draw(st.sampled_from(_odd_values(spec)))
        facts.append(fact)
        cls = _memo.abstract(spec, fact) if spec else None
        if cls is not None and data.draw(st.booleans()):
            table[((list_type, matter), cls)] = (f"M{i}",)
    assert speedups.known_answers(table, specs, matter, facts) == _memo.known_answers_py(table, specs, matter, facts)


def test_the_compiled_known_answers_bypass_a_value_equal_to_a_constant_of_another_type() -> None:
    """1 where a rule compares with true is not classed as an int, though an int unequal to every constant
    (0 here) is: the memo asks the back end, as the twin does, even when the table knows int's class."""
    speedups = _compiled_module()
    spec = ((_results._OVERDUE, None, {(bool, True): 0}, frozenset({True})),)
    specs = {("court_defaulter", "bidding"): spec}
    zero = {"id": "f0", "record__list_type": "court_defaulter", _results._OVERDUE: 0}
    table = {(("court_defaulter", "bidding"), _memo.abstract(spec, zero)): ("M1",)}
    assert speedups.known_answers(table, specs, "bidding", [zero]) == [("f0", ("M1",), "court_defaulter")]
    one = {**zero, _results._OVERDUE: 1}
    assert speedups.known_answers(table, specs, "bidding", [one]) is None
    assert _memo.known_answers_py(table, specs, "bidding", [one]) is None


def test_the_compiled_known_answers_refuse_what_is_not_a_memo() -> None:
    """A table or abstractions that are not dicts, a fact that is not one, or an abstraction of another
    shape, raise TypeError."""
    speedups = _compiled_module()
    bad_spec = {("court_defaulter", "bidding"): (("record__overdue", [1], {}, frozenset()),)}
    fact = [{"id": "f0", "record__list_type": "court_defaulter", "record__overdue": 1}]
    for args in (([], {}, "bidding", []), ({}, {}, "bidding", [1]), ({}, {}, "bidding", 3),
                 ({}, bad_spec, "bidding", fact)):
        with pytest.raises(TypeError):
            speedups.known_answers(*args)


_SURROGATE_TEXT = "法院\ud800"


@st.composite
def _records(draw: st.DrawFn, subjects: list[str]) -> CreditRecord:
    days = st.sampled_from([None, dt.date(2025, 5, 31), dt.date(2025, 6, 1), dt.date(2025, 6, 2)])
    texts = st.sampled_from(["", "郑州市中级人民法院", "court", _SURROGATE_TEXT])
    fields = {name: None for name in CreditRecord.model_fields}
    fields.update(record_id=f"R{draw(st.integers(0, 99))}", list_type=draw(st.sampled_from(["court_defaulter",
                                                                                             "tax_credit_a"])),
                  subject_id=draw(st.sampled_from(subjects)), subject_name="", status="active",
                  authority=draw(texts), document_no=draw(texts), reason=draw(texts), listed_on=dt.date(2020, 1, 1),
                  ban_matter_types=tuple(draw(st.lists(st.sampled_from(["bidding", "fiscal_funds"]), max_size=2))),
                  ban_item_codes=tuple(draw(st.lists(st.sampled_from(["ZB-01", "ZB-02"]), max_size=2))),
                  ban_until=draw(days), rectify_by=draw(days))
    return model_py(CreditRecord, fields, set(fields))


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_the_compiled_hit_facts_equal_their_twin(data: st.DataObject) -> None:
    """For records of the subject, of its related parties (one named twice over: both roles) and of others,
    bans by matter type and by item code before, on and after their end, rectification deadlines, and texts
    with a lone surrogate, the compiled facts and by_fact equal the twin's."""
    speedups = _compiled_module()
    subject, party, both = numbered_uscc(1), numbered_uscc(2), numbered_uscc(3)
    parties = {party: RelatedParty(role="legal_representative", id=party),
               both: RelatedParty(role="principal", id=both)}
    subject_id = data.draw(st.sampled_from([subject, both]))
    records = data.draw(st.lists(_records([subject, party, both, numbered_uscc(4)]), max_size=4))
    base = {"matter__matter_type": "bidding", "check__day": 20250601}
    args = (base, subject_id, parties, records, data.draw(st.sampled_from(["bidding", "fiscal_funds"])),
            data.draw(st.sampled_from([None, "ZB-01"])), dt.date(2025, 6, 1))
    got, want = speedups.hit_facts(*args), _results.record_facts_py(*args)
    assert got == want and [list(f) for f in got[0]] == [list(f) for f in want[0]]  # keys in the same order too
    assert all(f is not base for f in got[0]) and base == {"matter__matter_type": "bidding", "check__day": 20250601}


# --- stored rows as records (_rows.c) ------------------------------------------------------------------------


_GOOD_ROW = {"record_id": "R1", "list_type": "court_defaulter", "subject_id": "91350100M000100Y43",
             "subject_name": "某公司", "subject_type": "legal_person", "authority": "郑州市中级人民法院",
             "document_no": "（2024）豫01执1号", "listed_on": "2024-01-10", "expires_on": "2027-01-10",
             "status": "active", "reason": "失信", "region_code": None, "rectify_by": None,
             "ban_matter_types": "", "ban_item_codes": "", "ban_until": None, "ended_on": None}
_ODD = {
    "record_id": ["", 7, None, "长-ID-9"],
    "list_type": ["foo", "", None, "tax_credit_a"],
    "subject_id": ["", None, 5, "410102199003071230"],
    "subject_name": [None, 3, ""],
    "subject_type": [None, "", "alien", "natural_person"],
    "authority": [None, "", "法院\ud800"],
    "document_no": [None, ""],
    "listed_on": ["2024-02-30", "", None, "20240110", dt.date(2024, 1, 10), dt.datetime(2024, 1, 10), 20240110,
                  "2027-01-10"],
    "expires_on": [None, "2024-01-10", "2024-01-09", "bad", dt.date(2030, 1, 1), "2024-01-11"],
    "status": ["repaired", "removed", "gone", None],
    "reason": [None, ""],
    "region_code": ["410100", "41", None],
    "rectify_by": [None, "2025-01-01", "x", dt.date(2025, 1, 1)],
    "ban_matter_types": ["bidding", "bidding;fiscal_funds", "nope", None, ""],
    "ban_item_codes": ["ZB-01", ";", None, ""],
    "ban_until": [None, "2026-01-01", "never"],
    "ended_on": [None, "2025-05-05", "later", dt.date(2025, 5, 5)],
}


@settings(max_examples=1500, deadline=None)
@given(data=st.data(), text_days=st.booleans())
def test_a_compiled_stored_row_equals_the_twins_record_or_is_left_to_it(tmp_path_factory: Any, data: st.DataObject,
                                                                        text_days: bool) -> None:
    """On rows with every field good, odd or of the wrong type (days as text for SQLite, as dates for
    PostgreSQL), the compiled reader builds exactly the record the twin builds, and leaves to the twin (None)
    every row the twin refuses: it never reads a row the engine does not know."""
    speedups = _compiled_module()
    values = dict(_GOOD_ROW)
    for name in data.draw(st.lists(st.sampled_from(sorted(_ODD)), max_size=3, unique=True)):
        values[name] = data.draw(st.sampled_from(_ODD[name]))
    if not text_days and data.draw(st.booleans()):  # PostgreSQL hands days over as dates (text would be refused)
        values = {k: dt.date.fromisoformat(v) if k in _DAYS and type(v) is str and _is_day(v) else v
                  for k, v in values.items()}
    row = tuple(values[name] for name in FIELDS)
    got = speedups.stored_row(row, text_days)
    store = _STORES.get("sqlite") or _STORES.setdefault("sqlite", SqliteStore(":memory:"))
    twin = store._record_py if text_days else partial(_postgres_twin, store)
    try:
        want = twin(row)
    except UnreadableRecordError:
        assert got is None
        return
    assert got is None or (type(got) is CreditRecord and got == want and got.__dict__ == want.__dict__
                           and list(got.__dict__) == list(want.__dict__)
                           and got.model_fields_set == want.model_fields_set)


_DAYS = ("listed_on", "expires_on", "rectify_by", "ban_until", "ended_on")
_STORES: dict[str, Any] = {}


def _is_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _postgres_twin(store: Any, row: tuple[Any, ...]) -> CreditRecord:
    """The twin as PostgreSQL's dialect reads a row: days are taken as they come."""
    from joint_sanctions.stores._sql import POSTGRESQL

    dialect, store.dialect = store.dialect, POSTGRESQL
    try:
        return store._record_py(row)  # type: ignore[no-any-return]
    finally:
        store.dialect = dialect


def test_the_compiled_stored_row_reads_the_usual_row_itself() -> None:
    """The usual row (no ban, no region, days as text) is read in C where compiled, not left to the twin."""
    speedups = _compiled_module()
    row = tuple(_GOOD_ROW[name] for name in FIELDS)
    got = speedups.stored_row(row, True)
    assert got == SqliteStore(":memory:")._record_py(row) and got.listed_on == dt.date(2024, 1, 10)
    assert speedups.stored_row(row[:-1], True) is None and speedups.stored_row(list(row), True) is None
    undated = tuple(None if name in ("listed_on", "expires_on") else _GOOD_ROW[name] for name in FIELDS)
    assert speedups.stored_row(undated, True) is None and speedups.stored_row(undated, False) is None


# --- CSV import rows as records (_csv_row.c) -----------------------------------------------------------------


_CSV_CELLS = {
    "record_id": ["R1", "", " R2 ", "长-ID-9", "\u3000R3"],
    "list_type": ["court_defaulter", "tax_credit_a", "失信被执行人", "", "foo", " court_defaulter"],
    "subject_id": ["91410100MA0000015B", "410102199003071230", "41010219900307123x", "91410100MA0000015C", "",
                   "123", "91410100ma0000015b", " 91410100MA0000015B"],
    "subject_name": ["", "某公司", " 某公司 "],
    "subject_type": ["", "legal_person", "natural_person", "alien", "region", "法人"],
    "authority": ["", "法院"],
    "document_no": ["", "(2024)豫01执1号"],
    "listed_on": ["2024-01-10", "2024/1/10", "", "2024-02-30", "never", "20240110", "２０２４-01-10"],
    "expires_on": ["", "2027-01-10", "2024-01-10", "2023-01-01", "soon", "2024-01-11"],
    "status": ["", "active", "repaired", "removed", "gone", "有效"],
    "reason": ["", "未履行", "x" * (FIELD_MAX + 1)],
    "region_code": ["", "410100"],
    "rectify_by": ["", "2025-01-01"],
    "ban_matter_types": ["", "bidding"],
    "ban_item_codes": [""],
    "ban_until": ["", "2026-01-01"],
}


def _csv_twin(cells: list[str], columns: list[str]) -> Any:
    """What _read_csv makes of one row, as written: None for a row it skips (blank), else _row's answer."""
    cells = [cell.strip() for cell in cells]
    if not any(cells):
        return None
    if len(cells) < len(columns) or max(map(len, cells)) > FIELD_MAX:
        return "refused"
    return records._row(7, columns, cells)


@settings(max_examples=2000, deadline=None)
@given(data=st.data())
def test_a_compiled_csv_row_equals_the_twins_record_or_is_left_to_it(data: st.DataObject) -> None:
    """On rows of every column order (the optional ban, region and deadline columns too), with values good,
    padded, named in Chinese, malformed, too long or empty, and rows shorter or longer than the header, the
    compiled reader builds exactly the record the twin builds and leaves every other row to it (None)."""
    speedups = _compiled_module()
    optional = data.draw(st.lists(st.sampled_from([c for c in _CSV_CELLS if c not in records._REQUIRED]),
                                  unique=True))
    columns = data.draw(st.permutations(sorted(records._REQUIRED | set(optional))))
    cells = [data.draw(st.sampled_from(_CSV_CELLS[c])) for c in columns]
    cells += data.draw(st.sampled_from([[], [""], ["x"]])) if data.draw(st.booleans()) else []
    if data.draw(st.booleans()) and len(cells) > 1:
        cells = cells[:-1]
    got, want = speedups.plain_csv_row(cells, list(columns)), _csv_twin(cells, list(columns))
    assert got is None or (type(got) is CreditRecord and got == want and list(got.__dict__) == list(want.__dict__)
                           and got.model_fields_set == want.model_fields_set)


def test_the_compiled_csv_row_reads_the_usual_row_itself() -> None:
    """A usual row of the usual header is read in C where compiled, not left to the twin."""
    speedups = _compiled_module()
    cells = ["R1", "court_defaulter", "91410100MA0000015B", "某公司", "legal_person", "法院", "(2024)豫01执1号",
             "2024-01-10", "2027-01-10", "active", "未履行"]
    got = speedups.plain_csv_row(cells, list(records.COLUMNS))
    assert got is not None and got == _csv_twin(cells, list(records.COLUMNS))
    assert speedups.plain_csv_row(cells, list(records.COLUMNS)[:-1]) is None
