"""The policy staff's reference tools (issue 14 points 1, 6, 8, 9): ``measures``, ``schema``, ``vocab``
and the public check-character helpers for integrators."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import joint_sanctions as js
from joint_sanctions import vocabulary
from joint_sanctions._cli import main
from joint_sanctions._conditions import CONDITION_FIELDS
from joint_sanctions._load import load_measure_lists, shipped_measures_dir
from joint_sanctions._records import BAN_COLUMNS, COLUMNS
from joint_sanctions._workbench_schema import SCHEMAS, schema_text, shipped_schema_path
from joint_sanctions._workbench_vocab import vocabulary_tables

USCC = "91410100MA0000015B"
RESIDENT_ID = "11010519491231002X"

ONE_MEASURE = """\
edition: "1"
issuer: 测试信用办
region_code: "410100"
measures:
  - id: T-001
    name: 测试措施
    kind: punishment
    effect: restrict
    mandatory: false
    list_types: [court_defaulter]
    matter_types: [bidding]
    legal_basis: [{document: 测试文件, number: "", article: ""}]
    basis_status: unconfirmed
    implementing_departments: [测试部门]
    condition: matter.amount >= 1000000
"""


# --- check characters (point 9) -------------------------------------------------------------------

def test_uscc_check_char_completes_a_code() -> None:
    """``uscc_check_char`` returns the 18th character of a USCC from its first 17."""
    assert js.uscc_check_char(USCC[:17]) == USCC[17]


def test_resident_id_check_char_completes_an_id() -> None:
    """``resident_id_check_char`` returns the 18th character (a digit or X) from the first 17 digits."""
    assert js.resident_id_check_char(RESIDENT_ID[:17]) == "X"


@pytest.mark.parametrize("sequence", ["001", "002", "137", "998"])
def test_only_the_computed_check_char_makes_a_valid_id(sequence: str) -> None:
    """The computed character is the one the checker accepts; every other digit or X is refused."""
    body = RESIDENT_ID[:14] + sequence
    right = js.resident_id_check_char(body)
    assert js.parse_identifier(body + right)[1] == "resident_id"
    for other in set("0123456789X") - {right}:
        assert not js.is_valid_identifier(body + other, kind="resident_id")


def test_check_chars_accept_what_the_checker_accepts() -> None:
    """Full-width and lower-case input is normalised as everywhere else."""
    assert js.uscc_check_char("９１４１０１００ma０００００１５") == "B"


@pytest.mark.parametrize("body", ["9141010", "91410100MA0000015B", "91410100MA00000I5", ""])
def test_uscc_check_char_refuses_a_bad_body(body: str) -> None:
    """A body that is not 17 USCC characters is an IdentifierError, not a wrong answer."""
    with pytest.raises(js.IdentifierError):
        js.uscc_check_char(body)


@pytest.mark.parametrize("body", ["1101051949123100", "1101051949123100A", "110105194912310012"])
def test_resident_id_check_char_refuses_a_bad_body_without_echoing_it(body: str) -> None:
    """A body that is not 17 digits is refused, and the message never shows the digits given."""
    with pytest.raises(js.IdentifierError) as caught:
        js.resident_id_check_char(body)
    assert body not in str(caught.value) and "/" in str(caught.value)


@pytest.mark.parametrize(("text", "valid"), [
    (USCC, True), (RESIDENT_ID, True), (USCC[:17] + "C", False), (RESIDENT_ID[:17] + "1", False),
    ("", False), ("not an id", False), ("11010519491231002x", True),
])
def test_is_valid_identifier_answers_without_raising(text: str, valid: bool) -> None:
    """``is_valid_identifier`` is True exactly when the checker would accept the id."""
    assert js.is_valid_identifier(text) is valid


def test_is_valid_identifier_can_insist_on_a_kind() -> None:
    """With ``kind``, an id valid as the other kind is not accepted."""
    assert js.is_valid_identifier(USCC, kind="uscc")
    assert not js.is_valid_identifier(USCC, kind="resident_id")
    assert js.is_valid_identifier(RESIDENT_ID, kind="resident_id")
    with pytest.raises(ValueError):
        js.is_valid_identifier(USCC, kind="passport")


# --- vocab (point 8) ------------------------------------------------------------------------------

def test_vocab_json_lists_every_section_with_chinese_names(capsys: pytest.CaptureFixture[str]) -> None:
    """``vocab --json`` gives each section of the vocabulary, every id with its Chinese name."""
    assert main(["vocab", "--json"]) == 0
    tables = json.loads(capsys.readouterr().out)
    assert set(tables) >= {"list_types", "matter_types", "subject_types", "effects", "organizers",
                           "condition_fields", "import_columns"}
    assert [e["id"] for e in tables["list_types"]] == list(vocabulary.LIST_TYPES)
    assert [e["id"] for e in tables["matter_types"]] == list(vocabulary.MATTER_TYPES)
    assert [e["id"] for e in tables["organizers"]] == list(vocabulary.ORGANIZERS)
    assert [e["id"] for e in tables["clue_channels"]] == list(vocabulary.CLUE_CHANNELS)
    assert [e["id"] for e in tables["condition_fields"]] == list(CONDITION_FIELDS)
    for section in tables.values():
        for entry in section:
            assert re.search("[\u4e00-\u9fff]", entry["name"]), entry


def test_vocab_import_columns_carry_the_chinese_headers_the_import_takes(capsys: pytest.CaptureFixture[str]) -> None:
    """Every import column is listed with the Chinese header the import accepts for it, required ones marked."""
    assert main(["vocab", "--json"]) == 0
    columns = {e["id"]: e for e in json.loads(capsys.readouterr().out)["import_columns"]}
    assert set(columns) == set(COLUMNS) | set(BAN_COLUMNS)
    assert columns["listed_on"] == {"id": "listed_on", "name": "列入日期", "required": True}
    assert columns["reason"]["required"] is False
    list_types = {e["id"]: e for e in vocabulary_tables()["list_types"]}
    assert list_types["tax_credit_a"]["kind"] == "incentive"
    assert list_types["wage_arrears"]["carries_ban"] and not list_types["court_defaulter"]["carries_ban"]


def test_vocab_prints_a_readable_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json each section has a bilingual heading and one line per id with its Chinese name."""
    assert main(["vocab"]) == 0
    out = capsys.readouterr().out
    assert "事项类型 / Matter types" in out and "条件字段 / Condition fields" in out
    assert re.search(r"^  government_procurement +政府采购$", out, re.MULTILINE)
    assert re.search(r"^  matter\.amount +事项金额（元）  \(number\)$", out, re.MULTILINE)


# --- measures (point 1) ---------------------------------------------------------------------------

def _measures(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["measures", "--json", *args]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["measures"]
    return rows


def test_measures_of_a_matter_are_those_the_lists_index_for_it(capsys: pytest.CaptureFixture[str]) -> None:
    """``measures --matter M`` lists exactly the shipped measures naming M, in the lists' order."""
    files = load_measure_lists(shipped_measures_dir())
    want = [m.id for f in files for m in f.measures if "government_procurement" in m.matter_types]
    assert [r["measure_id"] for r in _measures(capsys, "--matter", "government_procurement")] == want


def test_measures_say_binding_from_the_basis_and_carry_ban_and_dates(capsys: pytest.CaptureFixture[str]) -> None:
    """A punishment binds exactly when its basis is confirmed; requires_ban, condition and dates are shown."""
    rows = {r["measure_id"]: r for r in _measures(capsys)}
    for row in rows.values():
        assert row["binding"] is (row["kind"] == "incentive" or row["basis_status"] == "confirmed")
    assert rows["NAT-GP-001"]["requires_ban"] is True and rows["NAT-GP-001"]["binding"] is True
    assert rows["NAT-GP-003"]["binding"] is False
    assert rows["CSH-001"]["valid_from"] == "2019-06-01" and rows["CSH-001"]["subject_types"] == ["natural_person"]
    assert {"effect", "legal_basis", "condition", "requires_overdue", "valid_to"} <= set(rows["CSH-001"])


def test_measures_filter_by_list_and_subject_type(capsys: pytest.CaptureFixture[str]) -> None:
    """--list keeps measures triggered by that list; --subject-type drops measures scoped to other types."""
    by_list = _measures(capsys, "--list", "tax_credit_a")
    assert by_list and all(r["kind"] == "incentive" and "tax_credit_a" in r["list_types"] for r in by_list)
    people = {r["measure_id"] for r in _measures(capsys, "--subject-type", "natural_person")}
    bodies = {r["measure_id"] for r in _measures(capsys, "--subject-type", "government_body")}
    assert "CSH-001" in people and "CSH-001" not in bodies
    assert not _measures(capsys, "--matter", "civil_servant_hiring", "--subject-type", "legal_person")


def test_measures_reads_the_lists_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--measures DIR replaces the shipped lists, as everywhere."""
    (tmp_path / "one.yaml").write_text(ONE_MEASURE, encoding="utf-8")
    rows = _measures(capsys, "--measures", str(tmp_path))
    assert [r["measure_id"] for r in rows] == ["T-001"]
    assert rows[0]["condition"] == "matter.amount >= 1000000" and rows[0]["binding"] is False


def test_measures_prints_a_readable_block_per_measure(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json each measure shows its effect, binding, basis and scope in Chinese and English."""
    assert main(["measures", "--matter", "government_procurement", "--list", "procurement_violator"]) == 0
    out = capsys.readouterr().out
    assert "NAT-GP-001  禁止参加政府采购活动" in out
    assert "有约束力（依据已核实） / binding (basis confirmed)" in out
    assert "requires_ban" in out and "中华人民共和国政府采购法" in out
    assert re.search(r"^\d+ measure\(s\) / 共 \d+ 条措施$", out, re.MULTILINE)


@pytest.mark.parametrize(("option", "typo", "hint"), [
    ("--matter", "goverment_procurement", "government_procurement"),
    ("--list", "court_defaulters", "court_defaulter"),
    ("--subject-type", "natural", "natural_person"),
])
def test_measures_refuses_an_unknown_id_with_a_hint(option: str, typo: str, hint: str) -> None:
    """An unknown id is a wrong command line: exit 2, one bilingual line with a did-you-mean."""
    done = subprocess.run([sys.executable, "-m", "joint_sanctions", "measures", option, typo],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"did you mean '{hint}'" in lines[0] and "是否应为" in lines[0]


def test_measures_refuses_lists_with_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Lists that do not lint are refused in one line pointing at lint (exit 1)."""
    (tmp_path / "bad.yaml").write_text(ONE_MEASURE.replace("effect: restrict", "effect: forbid"), encoding="utf-8")
    assert main(["measures", "--measures", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lint" in err[0] and "1 个问题" in err[0]


# --- schema (point 6) -----------------------------------------------------------------------------

class _Yaml12(yaml.SafeLoader):
    """Reads YAML as an editor's language server does: dates stay text (YAML 1.2 has no timestamps)."""


_Yaml12.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

SHIPPED = sorted(shipped_measures_dir().glob("*.yaml"))


def _schema_of(path: Path) -> str:
    return "list-types" if path.name == "list_types.yaml" else "measures"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_shipped_schema_is_the_generated_one(name: str) -> None:
    """The schema file shipped beside the lists is exactly what the field tables and vocabulary generate."""
    assert shipped_schema_path(name).read_text(encoding="utf-8") == schema_text(name)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_command_prints_the_shipped_schema(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``schema measures`` / ``schema list-types`` print the shipped draft 2020-12 schema."""
    assert main(["schema", name]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(shipped_schema_path(name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_command_refuses_an_unknown_schema() -> None:
    """An unknown schema name is a wrong command line (exit 2)."""
    with pytest.raises(SystemExit) as done:
        main(["schema", "measure"])
    assert done.value.code == 2


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_yaml_names_its_schema_and_validates(path: Path) -> None:
    """Each shipped YAML's first line names its schema by a relative path, and the file validates against it."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=schemas/{SCHEMAS[_schema_of(path)][0]}"
    schema_file = path.parent / first.split("$schema=", 1)[1]
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in validator.iter_errors(yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12))]
    assert not errors


def test_measure_schema_takes_its_enums_from_the_vocabulary_with_bilingual_descriptions() -> None:
    """Enums are the vocabulary's ids; every field has a description in Chinese and English."""
    schema = json.loads(schema_text("measures"))
    measure = schema["properties"]["measures"]["items"]
    assert measure["properties"]["list_types"]["items"]["enum"] == list(vocabulary.LIST_TYPES)
    assert measure["properties"]["effect"]["enum"] == list(vocabulary.EFFECTS)
    assert set(measure["required"]) == {"id", "name", "kind", "effect", "mandatory", "list_types", "matter_types",
                                        "legal_basis", "basis_status", "implementing_departments"}
    for field in [*schema["properties"].values(), *measure["properties"].values()]:
        assert re.search("[\u4e00-\u9fff].* / [0-9A-Za-z]", field["description"]), field


@pytest.mark.parametrize(("change", "valid"), [
    ((), True),
    (("effect: restrict", "effect: forbid"), False),
    (("matter_types: [bidding]", "matter_types: [biding]"), False),
    (("    condition:", "    conditon:"), False),
    (('region_code: "410100"', "region_code: 410100"), True),
    (('region_code: "410100"', "region_code: 012345"), False),
    (('edition: "1"', "edition: 1"), False),
])
def test_schema_agrees_with_lint_on_single_fields(change: tuple[str, str], valid: bool) -> None:
    """Where a mistake lies in one field, the schema and lint agree on it (lint stays the authority)."""
    text = ONE_MEASURE.replace(*change) if change else ONE_MEASURE
    validator = jsonschema.Draft202012Validator(json.loads(schema_text("measures")))
    assert validator.is_valid(yaml.load(text, Loader=_Yaml12)) is valid
    assert (lint_text(text) == []) is valid


def lint_text(text: str) -> list[Any]:
    """The problems lint finds in ``text`` written as a measure-list file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "one.yaml"
        path.write_text(text, encoding="utf-8")
        return js.lint([path])


# --- lint's Chinese half (point 8) ----------------------------------------------------------------

BROKEN_YAML = [
    'edition: "1"\nissuer: x\n  region_code: "410100"\n',          # mapping value indented wrongly
    'edition: "1\nissuer: x\n',                                      # unclosed quote
    'edition: "1"\nmeasures: [a, b\n',                               # unclosed bracket
    'edition: "1"\n\tissuer: x\n',                                   # a tab
    'edition: *nowhere\n',                                           # undefined alias
    'edition: "1"\n- item\n',                                        # a list item inside a mapping
    'a: {b: 1\nc: 2\n',                                              # unclosed brace
    'edition: "\\q"\n',                                              # unknown escape
    'key: value\n--- \nother: 1\n',                                  # two documents
    'a: [1, 2]]\n',
]


@pytest.mark.parametrize("text", BROKEN_YAML)
def test_a_yaml_syntax_error_s_chinese_half_is_chinese(text: str, tmp_path: Path) -> None:
    """The Chinese half of a yaml_syntax problem carries no English word (only quoted characters)."""
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    problems = [p for p in js.lint([path]) if p.code == "yaml_syntax"]
    assert len(problems) == 1
    english, chinese = problems[0].message.split(" / ", 1)
    assert english.startswith("YAML syntax error: ")
    assert chinese.startswith("YAML 语法错误：")
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"|YAML", "", chinese)
    assert not re.search("[A-Za-z]{2,}", unquoted), chinese


def test_the_readme_header_example_lints_as_the_readme_says(tmp_path: Path) -> None:
    """The measure_lists README's file header lints clean; an unquoted leading-zero code is refused, as it warns."""
    readme = (shipped_measures_dir() / "README.md").read_text(encoding="utf-8")
    header = re.search(r"```yaml\n(edition:.*?)measures: \[\.\.\.\]\n```", readme, re.DOTALL)
    assert header is not None
    measures = ONE_MEASURE.split("measures:\n", 1)[1]
    text = header.group(1) + "measures:\n" + measures
    assert lint_text(text) == []
    quoted = re.search(r'region_code: "(\d{6})"', text)
    assert quoted is not None
    zero = text.replace(quoted.group(0), "region_code: 012345")
    assert [p.code for p in lint_text(zero)] == ["bad_region_code"]
