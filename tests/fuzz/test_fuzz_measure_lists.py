"""Fuzzing the YAML measure-list loader and lint: located problems with stable codes, or lists that
compile and answer checks alike under both rule back ends.

Inputs are the shipped lists (measure_lists/*.yaml) with lines and characters mutated, and random YAML
documents. Lint must return problems at ``file:line:col`` with a code of :data:`ERROR_CODES`, the
same each time; a list it finds clean must load, compile, and give the same check results with
durable_rules and with the reference evaluator. Issue 11's inputs are kept as explicit cases.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from joint_sanctions import Engine
from joint_sanctions._check import compile_paths
from joint_sanctions._errors import JointSanctionsError
from joint_sanctions._load import ERROR_CODES, MAX_LIST_ITEMS, lint, load_measure_lists, shipped_measures_dir
from joint_sanctions.stores import RecordStore
from joint_sanctions.stores._sqlite import SqliteStore
from joint_sanctions.vocabulary import LIST_TYPES, MATTER_TYPES

from ..conftest import FIXED_NOW, numbered_uscc, record
from ._fuzz import RESIDENT_IDS, assert_safe, budget, count

AREA = "measure lists"
YAML_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
SHIPPED = {path.name: path.read_text(encoding="utf-8") for path in sorted(shipped_measures_dir().glob("*.yaml"))}
REASONS = ["隐瞒有关情况或者提供虚假材料申请行政许可", "以欺骗、贿赂等不正当手段取得行政许可", "r5", "其他"]
SUBJECTS = [numbered_uscc(n) for n in range(1, len(LIST_TYPES) + 1)] + [RESIDENT_IDS[0]]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordStore]:
    """Records of every list type, with reasons shipped conditions name, for subjects one to eleven,
    and a resident id on two lists."""
    store = SqliteStore(tmp_path_factory.mktemp("fuzz-lists") / "records.db")
    records = [record(f"L{i}-{j}", subject, list_type, reason=REASONS[(i + j) % len(REASONS)],
                      listed_on=dt.date(2023, 1, 1))
               for i, (subject, list_type) in enumerate(zip(SUBJECTS, LIST_TYPES, strict=False))
               for j in range(2)]
    records += [record("P1", RESIDENT_IDS[0], "court_defaulter"), record("P2", RESIDENT_IDS[0], "tax_credit_a")]
    store.upsert(records)
    yield store
    store.close()


# --- mutations -------------------------------------------------------------------------------------

VALUES = ["", "yes", "no", "012345", "~", "[]", "{}", "*x", "&x a", "!!python/object/apply:os.system ['id']",
          '"\\ud800"', "2024-02-30", "2024-01-01", "1e16", "'", '"', "|", ">", "- a", "x" * 3000, "\t1", "0x1F",
          "[court_defaulter, court_defaulter]", "[nope]", "[bidding]", "incentive", "confirmed", "true",
          '"matter.amount > 0.00001"', '"record.reason in [\'r5\']"', '"matter.amount >= 1000000"',
          f'"{RESIDENT_IDS[1]}"', '"\\e[2J"', "{document: x}", "[{document: 依据, article: 第一条}]"]
LINES = ["  - id: NAT-LIC-001", "    extra_field: 1", '    condition: "matter.amount > 0.00001"',
         '    condition: "record.reason in [' + ", ".join(f"'r{i}'" for i in range(600)) + ']"',
         "    <<: *a", "measures: []", "    valid_to: 2000-01-01", "    subject_types: [natural_person]",
         '    condition: "not (record.reason == \'r5\')"', "    related_party_roles: [legal_representative]",
         "    tags: [Bad-Tag]", "  -", "\t", "%YAML 1.1", "--- !!set", "...", "    mandatory: false",
         "    requires_ban: true", "    requires_overdue: true", "    requires_ban: 1"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(SHIPPED)))
    lines = SHIPPED[name].split("\n")
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "value", "value", "insert",
                                     "char"]))
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        elif edit == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == "indent":
            lines[i] = "  " + lines[i]
        elif edit == "dedent":
            lines[i] = lines[i].removeprefix("  ")
        elif edit == "value":
            key, sep, _ = lines[i].partition(": ")
            value = draw(st.one_of(st.sampled_from(VALUES), st.text(max_size=12)))
            lines[i] = f"{key}{sep or ': '}{value}"
        elif edit == "insert":
            lines.insert(i, draw(st.sampled_from(LINES)))
        else:
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(list(":-[]{}&*!|>'\"#%@`,? \t\\") + ["\x00", "\x85"])) \
                + lines[i][at + 1:]
        if not lines:
            break
    return name, "\n".join(lines)


scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=10),
                   st.dates(), st.sampled_from([*LIST_TYPES, *MATTER_TYPES, "punishment", "restrict", "incentive"]))
keys = st.sampled_from(["id", "name", "kind", "effect", "mandatory", "list_types", "matter_types", "legal_basis",
                        "basis_status", "implementing_departments", "condition", "valid_from", "valid_to",
                        "edition", "issuer", "region_code", "measures", "document", "article", "x"])
document = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.one_of(keys, scalar), inner, max_size=5)),
                        max_leaves=20)


def _random_yaml(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


# --- the property ----------------------------------------------------------------------------------


def _assert_lint_or_agree(paths: list[Path], store: RecordStore, seed: int) -> None:
    problems = lint(paths)
    assert lint(paths) == problems  # stable: the same problems, in the same order, every time
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    # Lines as YAML counts them (NEL and the Unicode separators break lines too), plus one past the end.
    lines = {str(f): len(YAML_BREAK.findall(f.read_text(encoding="utf-8", errors="replace"))) + 2 for f in files}
    for problem in problems:
        assert problem.code in ERROR_CODES, problem
        assert problem.path in lines and 1 <= problem.line <= lines[problem.path] and problem.col >= 1, problem
        assert str(problem).startswith(f"{problem.path}:{problem.line}:{problem.col}: {problem.code}: ")
        assert " / " in problem.message, problem
        assert_safe(str(problem))
    if problems:
        count(AREA, "lists with problems")
        count(AREA, "problems", len(problems))
        return
    count(AREA, "clean lists compared")
    load_measure_lists(paths)  # lint clean means it loads
    engines = [Engine(measures=paths, store=store, rules=kind, cases=False, clock=lambda: FIXED_NOW)
               for kind in ("durable", "reference")]
    try:
        matters = sorted(MATTER_TYPES)
        for k, subject in enumerate(SUBJECTS):
            matter = matters[(seed + k) % len(matters)]
            results = []
            for engine in engines:
                try:
                    result = engine.check({"id": subject, "related_parties": []}, matter,
                                          amount=float((seed * 7919 + k) % 2_000_000), item_code="A1")
                    results.append((result.decision, [(m.measure_id, m.record_ids) for m in result.measures],
                                    [h.record_id for h in result.hits]))
                except JointSanctionsError as exc:
                    assert_safe(str(exc))
                    results.append(("error", type(exc).__name__, getattr(exc, "code", "")))
            assert results[0] == results[1], (subject, matter)
            count(AREA, "checks compared")
            count(AREA, "checks with measures", results[0][0] not in ("clear", "error"))
    finally:
        for engine in engines:
            engine.close()


@given(case=mutated(), seed=st.integers(0, 10**6), with_others=st.booleans())
@budget(120)
def test_mutated_shipped_lists_lint_located_or_agree(case: tuple[str, str], seed: int, with_others: bool,
                                                     store: RecordStore) -> None:
    """A shipped list with lines or characters changed: located problems with stable codes, or lists
    that compile and check alike under durable_rules and the reference evaluator."""
    name, text = case
    count(AREA, "mutated files")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        paths = [path]
        if with_others:  # beside another shipped file: measure ids must stay unique across files
            other = sorted(SHIPPED)[seed % len(SHIPPED)]
            if other != name:
                (Path(tmp) / other).write_text(SHIPPED[other], encoding="utf-8")
                paths.append(Path(tmp) / other)
        _assert_lint_or_agree(paths, store, seed)


@example(value={"edition": None, "issuer": "\x85", "region_code": "410100",
                "measures": [{"id": [["\x85", "\x85"]]}, {}]}, raw=None)
@given(value=st.one_of(document, st.fixed_dictionaries({
    "edition": scalar, "issuer": scalar, "region_code": st.sampled_from(["410100", "000000", "41010", 410100]),
    "measures": st.lists(st.dictionaries(keys, document, max_size=12), max_size=3)})),
    raw=st.one_of(st.none(), st.text(max_size=80)))
@budget(150)
def test_random_yaml_lints_located(value: Any, raw: str | None, store: RecordStore) -> None:
    """Random YAML documents (or random text): lint answers with located problems, never an exception."""
    count(AREA, "random documents")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.yaml"
        path.write_text(_random_yaml(value) if raw is None else raw, encoding="utf-8", errors="surrogatepass")
        _assert_lint_or_agree([path], store, 0)


# --- issue 11's inputs -----------------------------------------------------------------------------

HEAD = 'edition: "2024"\nissuer: 测试信用办\nregion_code: "410100"\nmeasures:\n'


def _measure(n: int, departments: str = " [测试部门]", condition: str | None = None) -> str:
    return (f"  - id: FZ-{n:03d}\n    name: 测试措施\n    kind: punishment\n    effect: restrict\n"
            "    mandatory: false\n    list_types: [court_defaulter]\n    matter_types: [bidding]\n"
            "    legal_basis:\n      - {document: 测试文件, number: \"\", article: 第一条}\n"
            f"    basis_status: unconfirmed\n    implementing_departments:{departments}\n"
            + (f"    condition: {json.dumps(condition, ensure_ascii=False)}\n" if condition else ""))


def _aliased(items: int, measures: int) -> str:
    block = " &D\n" + "".join(f"      - 部门{i}\n" for i in range(items))
    return HEAD + _measure(0, block.rstrip("\n")) + "".join(_measure(n, " *D") for n in range(1, measures))


LAUGHS = HEAD + "  - &l0 [a, a, a, a, a, a, a, a, a, a]\n" + "".join(
    f"  - &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9)) + _measure(0, " *l8")

ISSUE_11 = {
    "20,000-item list aliased 10×": (_aliased(20_000, 10), {"list_too_long"}),
    "record.reason in [600 values]": (
        HEAD + _measure(0, condition="record.reason in [" + ", ".join(f"'r{i}'" for i in range(600)) + "]"), set()),
    "0.00001": (HEAD + _measure(0, condition="matter.amount > 0.00001"), {"condition_number"}),
    "1e16": (HEAD + _measure(0, condition="matter.amount < 10000000000000000"), {"condition_number"}),
    "unpaired surrogate": (HEAD + _measure(0, departments=' ["\\ud800"]'), {"bad_text"}),
    "ESC in a department": (HEAD + _measure(0, departments=' ["\\e[4A结论 Decision: 无限制"]'), set()),
    "billion laughs by alias": (LAUGHS, None),
    "deep nesting": (HEAD + "[" * 20_000 + "]" * 20_000, {"yaml_syntax"}),
    "python object tag": (HEAD + "  - !!python/object/apply:os.system ['id']\n", None),
}


@pytest.mark.parametrize(("text", "codes"), ISSUE_11.values(), ids=ISSUE_11.keys())
def test_issue_11_measure_lists(tmp_path: Path, store: RecordStore, text: str, codes: set[str] | None) -> None:
    """Each measure-list input of issue 11 lints to the expected stable codes (or clean, then both back
    ends agree); the big aliased list and alias bombs are answered without expanding them."""
    path = tmp_path / "issue11.yaml"
    path.write_text(text, encoding="utf-8")
    found = {p.code for p in lint([path])}
    if codes is not None:
        assert found == codes, found
    else:
        assert found
    _assert_lint_or_agree([path], store, 3)


def test_the_shipped_lists_agree_under_both_back_ends(store: RecordStore) -> None:
    """The unmutated shipped lists are clean and check alike under both back ends (the fuzzing's base)."""
    assert compile_paths(None).measures
    _assert_lint_or_agree([shipped_measures_dir()], store, 0)
    assert MAX_LIST_ITEMS < 20_000


@pytest.mark.parametrize("line", [f"    list_types: [{RESIDENT_IDS[0]}]", f'    condition: "matter.amount == \'{RESIDENT_IDS[1]}\'"',
                                  f"    kind: {RESIDENT_IDS[2]}", f"    {RESIDENT_IDS[3]}: 1"])
def test_lint_problems_mask_resident_ids(tmp_path: Path, line: str) -> None:
    """A measure list that puts a resident id where lint quotes the value: the problem is located,
    and its message (what lint() returns and MeasureListError carries) shows the id masked."""
    path = tmp_path / "pii.yaml"
    path.write_text(HEAD + _measure(0) + line + "\n", encoding="utf-8")
    problems = lint([path])
    assert problems
    for problem in problems:
        assert_safe(str(problem))
