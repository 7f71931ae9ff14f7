"""Loading and linting measure lists (design.md §4): exact positions, stable codes, never a traceback."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joint_sanctions._errors import MeasureListError, Problem
from joint_sanctions._load import ERROR_CODES, lint, load_measure_lists, shipped_measures_dir
from joint_sanctions._models import LegalBasis, Measure, MeasureListFile

CASES_DIR = Path(__file__).parent / "lint_cases"
REPO = Path(__file__).resolve().parent.parent
_EXPECT = re.compile(r"# expect: (\d+):(\d+) (\w+) ?(.*)")
# Codes that need something other than a YAML file; each has its own test below.
# The policy file's own codes are exercised in tests/test_list_types.py.
_CODES_WITHOUT_CASE = {"file_not_found", "no_measure_files", "bad_encoding",
                       "bad_period", "period_order", "duplicate_list_type"}

VALID = """\
edition: "2024"
issuer: 郑州市发展和改革委员会
region_code: 410100
measures:
  - id: NAT-GP-001
    name: 限制参加政府采购活动
    kind: punishment
    effect: prohibit
    mandatory: true
    list_types: [court_defaulter, procurement_violator]
    matter_types: [government_procurement]
    legal_basis:
      - {document: 中华人民共和国政府采购法, number: "", article: 第七十七条}
    basis_status: confirmed
    implementing_departments: [财政部门]
    subject_types: [legal_person]
    related_party_roles: [legal_representative]
    condition: "matter.amount >= 1000000"
    valid_from: 2020-01-01
    valid_to: '2030-01-01'
    description: 依法限制
    tags: [no_notify_commit]
  - id: INC-01
    name: 绿色通道
    kind: incentive
    effect: incentive
    mandatory: false
    list_types: [tax_credit_a]
    matter_types: [administrative_licensing]
    legal_basis: [{document: 国务院关于建立完善守信联合激励和失信联合惩戒制度的指导意见}]
    basis_status: unconfirmed
    implementing_departments: [行政审批部门]
    valid_to:
"""


HEADER = 'edition: "2024"\nissuer: 测试信用办\nregion_code: "410100"\nmeasures:\n'


def _measure(text: str, measure_id: str = "ZZ-01") -> str:
    """A one-measure file (measure on lines 5-14) with every required field, plus the lines in ``text``."""
    return HEADER + f"""\
  - id: {measure_id}
    name: 测试措施
    kind: punishment
    effect: restrict
    mandatory: false
    list_types: [court_defaulter]
    matter_types: [honors]
    legal_basis: [{{document: 测试文件}}]
    basis_status: unconfirmed
    implementing_departments: [发展改革部门]
{text}"""


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _prefixes(problems: list[Problem]) -> list[str]:
    return [f"{p.path}:{p.line}:{p.col}: {p.code}" for p in problems]


def _expectations(path: Path) -> list[tuple[str, str]]:
    found = (_EXPECT.match(line) for line in path.read_text(encoding="utf-8").splitlines())
    return [(f"{path}:{m[1]}:{m[2]}: {m[3]}", m[4]) for m in found if m]


# --- one case per code -------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_lint_case(case: Path) -> None:
    """Each lint case reports exactly its `# expect:` problems, in order, with bilingual messages."""
    want = _expectations(case)
    problems = lint([str(case)])
    assert _prefixes(problems) == [prefix for prefix, _ in want]
    for problem, (_, fragment) in zip(problems, want, strict=True):
        assert fragment in problem.message
        english, chinese = problem.message.split(" / ", 1)
        assert english and re.search(r"[\u4e00-\u9fff]", chinese), problem.message


def test_every_code_has_a_case() -> None:
    """Every code in ERROR_CODES is exercised by a lint case or a dedicated test, and none is listed twice."""
    covered = {prefix.rsplit(": ", 1)[1]
               for case in CASES_DIR.glob("*.yaml") for prefix, _ in _expectations(case)}
    assert len(set(ERROR_CODES)) == len(ERROR_CODES)
    assert covered | _CODES_WITHOUT_CASE == set(ERROR_CODES)


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    """A path that does not exist is reported as file_not_found at 1:1, not raised."""
    missing = str(tmp_path / "nope.yaml")
    assert _prefixes(lint([missing])) == [f"{missing}:1:1: file_not_found"]


def test_directory_without_lists_is_a_problem(tmp_path: Path) -> None:
    """A directory with no .yaml or .yml file is reported as no_measure_files."""
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert _prefixes(lint([tmp_path])) == [f"{tmp_path}:1:1: no_measure_files"]


def test_non_utf8_file_is_a_problem(tmp_path: Path) -> None:
    """A GBK-encoded file is reported as bad_encoding at its first undecodable character."""
    path = tmp_path / "gbk.yaml"
    path.write_bytes('edition: "2024"\nissuer: 测试\n'.encode("gbk"))
    assert _prefixes(lint([path])) == [f"{path}:2:9: bad_encoding"]


# --- positions in hostile YAML -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "want"), [
    ("", "1:1: not_a_mapping"),
    ("# only a comment\n", "1:1: not_a_mapping"),
    ('edition: "20\x0724"\n', "1:13: yaml_syntax"),
    ("a: 1\n---\nb: 2\n", "2:1: yaml_syntax"),
    ("measures: " + "[" * 5000, "1:1: yaml_syntax"),
    ("!!python/object/apply:os.system ['echo unsafe']\n", "1:1: not_a_mapping"),
], ids=["empty", "comment-only", "control-character", "two-documents", "deep-nesting", "python-tag"])
def test_hostile_yaml_is_reported(tmp_path: Path, text: str, want: str) -> None:
    """Empty, unreadable, multi-document, absurdly nested or code-carrying YAML gives one located problem."""
    path = _write(tmp_path / "x.yaml", text)
    assert _prefixes(lint([path])) == [f"{path}:{want}"]


def test_recursive_aliases_do_not_hang(tmp_path: Path) -> None:
    """A measure list that contains itself through an alias is reported, not walked forever."""
    path = _write(tmp_path / "x.yaml", 'edition: "1"\nissuer: x\nregion_code: "410100"\nmeasures: &m [*m]\n')
    assert _prefixes(lint([path])) == [f"{path}:4:11: not_a_mapping"]


@pytest.mark.parametrize(("condition", "col"), [("matter.amount >= " + "9" * 5000, 33),
                                              ("(" * 3000 + "matter.amount > 1", 48)],
                         ids=["huge-number", "deep-brackets"])
def test_absurd_condition_is_a_problem(tmp_path: Path, condition: str, col: int) -> None:
    """An absurdly long number or deep nesting is a located condition_syntax problem, not a crash."""
    path = _write(tmp_path / "x.yaml", _measure(f"    condition: {condition}\n"))
    assert _prefixes(lint([path])) == [f"{path}:15:{col}: condition_syntax"]


# --- loading -----------------------------------------------------------------------------------

def test_valid_file_loads_into_models(tmp_path: Path) -> None:
    """A valid file loads as models: dates parsed, lists as tuples, region code as text, source path:line."""
    path = _write(tmp_path / "valid.yaml", VALID)
    (loaded,) = load_measure_lists([path])
    assert loaded == MeasureListFile(
        path=path, edition="2024", issuer="郑州市发展和改革委员会", region_code="410100",
        measures=(
            Measure(id="NAT-GP-001", name="限制参加政府采购活动", kind="punishment", effect="prohibit",
                    mandatory=True, list_types=("court_defaulter", "procurement_violator"),
                    matter_types=("government_procurement",),
                    legal_basis=(LegalBasis(document="中华人民共和国政府采购法", article="第七十七条"),),
                    basis_status="confirmed", implementing_departments=("财政部门",),
                    subject_types=("legal_person",), related_party_roles=("legal_representative",),
                    condition="matter.amount >= 1000000", valid_from=dt.date(2020, 1, 1),
                    valid_to=dt.date(2030, 1, 1), description="依法限制", tags=("no_notify_commit",),
                    source=f"{path}:5"),
            Measure(id="INC-01", name="绿色通道", kind="incentive", effect="incentive", mandatory=False,
                    list_types=("tax_credit_a",), matter_types=("administrative_licensing",),
                    legal_basis=(LegalBasis(document="国务院关于建立完善守信联合激励和失信联合惩戒制度的指导意见"),),
                    basis_status="unconfirmed", implementing_departments=("行政审批部门",),
                    source=f"{path}:23"),
        ),
    )


def test_directory_loads_its_yaml_files_sorted(tmp_path: Path) -> None:
    """A directory gives its *.yaml and *.yml files sorted by name, ignoring other files and subfolders."""
    _write(tmp_path / "b.yaml", _measure("", "B-1"))
    _write(tmp_path / "a.yml", _measure("", "A-1"))
    _write(tmp_path / "notes.txt", "not yaml")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "c.yaml", _measure("", "C-1"))
    loaded = load_measure_lists([tmp_path])
    assert [(f.path, f.measures[0].id) for f in loaded] == [
        (os.path.join(tmp_path, "a.yml"), "A-1"), (os.path.join(tmp_path, "b.yaml"), "B-1")]


def test_single_path_is_accepted(tmp_path: Path) -> None:
    """A lone path (not wrapped in a list) is read as one path, not as a string of one-letter paths."""
    path = _write(tmp_path / "x.yaml", _measure(""))
    assert [f.path for f in load_measure_lists(path)] == [path]


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    """An id used in two files is reported at the second use, naming where the first one is."""
    first = _write(tmp_path / "a.yaml", _measure(""))
    second = _write(tmp_path / "b.yaml", _measure(""))
    (problem,) = lint([first, second])
    assert str(problem).startswith(f"{second}:5:9: duplicate_measure_id: measure id ZZ-01 is already used "
                                   f"at {first}:5:9 / ")


def test_load_raises_with_every_problem_of_every_file(tmp_path: Path) -> None:
    """load_measure_lists raises one MeasureListError carrying all problems of all files, sorted."""
    good = _write(tmp_path / "a.yaml", _measure(""))
    bad_one = _write(tmp_path / "b.yaml", _measure("    matters: [honors]\n", "B-1"))
    bad_two = _write(tmp_path / "c.yaml", _measure("    valid_from: someday\n", "C-1"))
    with pytest.raises(MeasureListError) as info:
        load_measure_lists([bad_two, good, bad_one])
    assert _prefixes(info.value.problems) == [f"{bad_one}:15:5: unknown_field", f"{bad_two}:15:17: bad_date"]
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]


def test_relative_paths_stay_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Problems and sources name files the way the caller did, relative paths included."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lists").mkdir()
    _write(tmp_path / "lists" / "x.yaml", _measure(""))
    assert load_measure_lists(["lists"])[0].measures[0].source == os.path.join("lists", "x.yaml") + ":5"
    _write(tmp_path / "lists" / "y.yaml", _measure("", "zz"))
    assert _prefixes(lint(["lists"])) == [f"{os.path.join('lists', 'y.yaml')}:5:9: bad_id"]


def test_unquoted_region_code_is_normalised(tmp_path: Path) -> None:
    """An unquoted region code without a leading zero is read as its 6-digit text."""
    path = _write(tmp_path / "x.yaml", _measure("").replace('"410100"', "410100"))
    assert load_measure_lists([path])[0].region_code == "410100"


# --- the shipped lists -------------------------------------------------------------------------

def test_shipped_lists_dir_is_the_repository_copy() -> None:
    """In an editable install the shipped lists are the repository's measure_lists/ folder."""
    assert shipped_measures_dir().resolve() == REPO / "measure_lists"


def test_shipped_lists_lint_clean() -> None:
    """The measure lists shipped with the package have no lint problem."""
    shipped = shipped_measures_dir()
    if not any(shipped.glob("*.y*ml")):
        pytest.skip("no shipped measure lists yet")
    assert [str(p) for p in lint([shipped])] == []


# --- never a traceback -------------------------------------------------------------------------

def _assert_only_problems(path: str) -> None:
    """lint returns sorted, located, known problems; load agrees with it and raises nothing else."""
    problems = lint([path])
    assert problems == sorted(problems)
    assert all(p.code in ERROR_CODES and p.line >= 1 and p.col >= 1 and " / " in p.message for p in problems)
    try:
        load_measure_lists([path])
    except MeasureListError as error:
        assert error.problems == problems
    else:
        assert problems == []


_YAMLISH = st.lists(st.sampled_from([
    "\n", "  ", "- ", ": ", "[", "]", "{", "}", ", ", "'", '"', "&a ", "*a", "!!str ", "|\n", "# c", "---",
    "edition", "issuer", "region_code", "measures", "id", "name", "kind", "list_types", "legal_basis",
    "document", "condition", "valid_from", "NAT-1", "410100", "012345", "2020-02-30", "yes", "true",
    "punishment", "incentive", "court_defaulter", "tax_credit_a", "matter.amount >= (", "郑州", "\t", "\x00",
]), max_size=60).map("".join)

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(content=st.one_of(st.binary(max_size=200), _YAMLISH.map(str.encode),
                         st.text(st.characters(exclude_categories=("Cs",)), max_size=200).map(str.encode)))
def test_random_content_never_raises(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    """Random bytes, text or YAML-ish fragments yield only problems (or a clean load), never an exception."""
    path = tmp_path_factory.getbasetemp() / "random.yaml"
    path.write_bytes(content)
    _assert_only_problems(str(path))


_LINE_EDITS = st.sampled_from(["delete", "duplicate", "replace", "insert", "indent", "dedent"])


@_SETTINGS
@given(data=st.data(), edit=_LINE_EDITS,
       fragment=st.one_of(_YAMLISH, st.text(st.characters(exclude_categories=("Cs",)), max_size=30)))
def test_single_line_mutations_never_raise(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject,
                                           edit: str, fragment: str) -> None:
    """Any one-line edit of a valid file yields only problems (or a clean load), never an exception."""
    lines = VALID.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    cut = data.draw(st.integers(0, len(lines[i])))
    lines[i:i + 1] = {
        "delete": [],
        "duplicate": [lines[i], lines[i]],
        "replace": [fragment],
        "insert": [lines[i][:cut] + fragment + lines[i][cut:]],
        "indent": ["  " + lines[i]],
        "dedent": [lines[i][2:]],
    }[edit]
    path = tmp_path_factory.getbasetemp() / "mutated.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _assert_only_problems(str(path))
