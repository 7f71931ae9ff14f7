"""`joint-sanctions test PATH…`: policy cases run outside pytest — failures located and bilingual, coverage,
malformed case files located, exit codes, JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from joint_sanctions._cli import main
from joint_sanctions._load import lint, shipped_measures_dir
from joint_sanctions._policy_cases import BACK_ENDS, Outcome, failure_of, read_case_files

from .conftest import assert_masked, cli, resident_id

ROOT = Path(__file__).parent.parent
CO = "91410100MA0000015B"
RECORD = (f'{{record_id: R1, list_type: court_defaulter, subject_id: "{CO}", listed_on: 2024-01-01, '
          "expires_on: 2027-01-01}")
PASSING = f"""\
# a court defaulter bidding: restricted by NAT-CD-001 (only the required record columns)
- name: "court defaulter bids: restricted"
  subject: "{CO}"
  records:
    - {RECORD}
  matter: bidding
  at: 2025-06-01
  expect: {{decision: restricted, measures: [NAT-CD-001], binding: [NAT-CD-001]}}

- name: "unknown matter type is refused"
  subject: "{CO}"
  matter: moon_landing
  expect: {{error: unknown_matter_type}}
"""


def _write(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_passing_cases_exit_0_with_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Cases whose checks give what they expect (results and error codes) pass: exit 0, a bilingual summary."""
    path = _write(tmp_path, PASSING)
    assert main(["test", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 case(s), 2 passed, 0 failed, 0 malformed / 共 2 个用例，通过 2 个，失败 0 个" in out
    assert ": expected " not in out


def test_a_failing_case_is_one_located_bilingual_line_and_exit_1(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A case whose check differs prints `file:line: name: expected …, got …` in English and Chinese, the line
    being the case's own, and the command exits 1."""
    path = _write(tmp_path, PASSING.replace("decision: restricted", "decision: prohibited"))
    assert main(["test", str(path)]) == 1
    lines = [x for x in capsys.readouterr().out.splitlines() if ": expected " in x]
    assert lines == [(f"{path}:2: court defaulter bids: restricted: expected decision prohibited, "
                      "got decision restricted / 预期 决定 prohibited，实际 决定 restricted")]


def test_every_part_of_the_expectation_is_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Measures, binding measures, an expected error that did not happen and a result that was an error all
    fail, each naming what was expected and what came."""
    text = PASSING.replace("measures: [NAT-CD-001], binding: [NAT-CD-001]", "measures: [NAT-CD-001, X-1], binding: []")
    text = text.replace("matter: moon_landing", "matter: bidding")
    text += """
- name: "expects a result, gets an error"
  subject: "91410100MA0000015C"
  matter: bidding
  expect: {decision: clear}
"""
    path = _write(tmp_path, text)
    assert main(["test", str(path)]) == 1
    out = capsys.readouterr().out
    assert (f"{path}:2: court defaulter bids: restricted: expected measures [NAT-CD-001, X-1]; binding [], "
            "got measures [NAT-CD-001]; binding [NAT-CD-001] / 预期 措施 [NAT-CD-001, X-1]；有约束力的措施 []，"
            "实际 措施 [NAT-CD-001]；有约束力的措施 [NAT-CD-001]") in out
    assert f"{path}:10: unknown matter type is refused: expected error unknown_matter_type, got decision " in out
    assert (f"{path}:15: expects a result, gets an error: expected a result, got error invalid_subject / "
            "预期 核查结果，实际 错误 invalid_subject") in out
    assert "3 case(s), 0 passed, 3 failed" in out


def test_a_case_failing_on_one_back_end_only_names_it(tmp_path: Path) -> None:
    """When the two rule back ends disagree, the failure line says on which one the case failed."""
    (case,), _ = read_case_files([_write(tmp_path, PASSING.split("\n\n")[0] + "\n")])
    right = Outcome(decision="restricted", measures=("NAT-CD-001",), binding=("NAT-CD-001",))
    wrong = Outcome(decision="clear")
    assert failure_of(case, dict.fromkeys(BACK_ENDS, right)) is None
    failure = failure_of(case, {"reference": right, "durable": wrong})
    assert failure is not None
    assert failure.line().endswith("(on durable_rules only) / 预期 决定 restricted；措施 [NAT-CD-001]；"
                                   "有约束力的措施 [NAT-CD-001]，实际 决定 clear；措施 []；有约束力的措施 []（仅 durable_rules）")


def test_coverage_lists_the_measures_no_case_exercised_with_their_place(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """After the failures come the measures of the lists no case's check applied, each located in its list;
    they do not fail the run."""
    path = _write(tmp_path, PASSING)
    assert main(["test", str(path), "--measures", str(shipped_measures_dir())]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"NAT-CD-001: no case", out)
    assert re.search(r"national\.yaml:\d+: NAT-GP-001: no case exercises this measure / 没有用例覆盖该措施", out)
    assert re.search(r"coverage: 1 of \d+ measures exercised / 覆盖：\d+ 项措施中 1 项有用例", out)


@pytest.mark.parametrize(("text", "where", "message"), [
    ("- name: x\n  subject: [unclosed\n", ":3:1: yaml_syntax: YAML syntax error", "YAML 语法错误"),
    ("name: not a list\n", ":1:1: invalid_case: a case file is a YAML list", "用例文件应为"),
    (PASSING.replace("  at: 2025-06-01", "  at: 2025-06-01\n  want_decision: clear"),
     ":8:18: invalid_case: unknown key 'want_decision'", "未知字段"),
    (PASSING.replace("listed_on: 2024-01-01, ", ""), ":5:7: invalid_case: records[0].listed_on: Field required",
     "第 1 条记录的 listed_on"),
    (PASSING.replace("listed_on: 2024-01-01", "subject_type: natural_person, listed_on: 2024-01-01"),
     ":5:7: invalid_case: records[0]: a USCC cannot identify a natural_person", "统一社会信用代码不能标识自然人"),
    (PASSING.replace("{error: unknown_matter_type}", "{error: x, decision: clear}"),
     ":13:11: invalid_case: expect.error stands alone", "expect.error 不能"),
    (PASSING.replace("decision: restricted", "decision: forbidden"), ":8:22: invalid_case: unknown decision",
     "未知决定"),
    (PASSING.replace('  subject: "91410100MA0000015B"\n  matter: moon_landing\n', "  matter: moon_landing\n"),
     ":10:3: invalid_case: the case has no subject", "用例缺少 subject"),
])
def test_a_malformed_case_file_is_a_located_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  text: str, where: str, message: str) -> None:
    """A malformed case file or case is reported as file:line:col with a bilingual reason, and exits 1."""
    path = _write(tmp_path, text)
    assert main(["test", str(path)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(str(path) + where))
    assert message in line and " / " in line


def test_the_well_formed_cases_of_a_file_still_run_beside_a_malformed_one(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed case is left out and reported; the file's other cases still run."""
    path = _write(tmp_path, PASSING.replace("matter: moon_landing", "matter: moon_landing\n  colour: red"))
    assert main(["test", str(path)]) == 1
    assert "1 case(s), 1 passed, 0 failed, 1 malformed" in capsys.readouterr().out


def test_missing_path_and_empty_directory_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A case file that does not exist, or a directory without case files, is a located error (exit 1)."""
    (tmp_path / "empty").mkdir()
    assert main(["test", str(tmp_path / "nope.yaml"), str(tmp_path / "empty")]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'nope.yaml'}:1:1: file_not_found: cannot read the case file" in out
    assert f"{tmp_path / 'empty'}:1:1: no_cases:" in out
    assert "no case exercises" not in out and "coverage:" not in out  # no case ran: no coverage noise


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` prints only the JSON report: counts, failures with file and line, problems, uncovered measures."""
    path = _write(tmp_path, PASSING.replace("decision: restricted", "decision: clear"))
    assert main(["test", str(path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["cases"], doc["passed"], doc["problems"]) == (2, 1, [])
    (failed,) = doc["failed"]
    assert (failed["file"], failed["line"], failed["back_ends"]) == (str(path), 2, ["reference", "durable_rules"])
    assert failed["mismatches"] == [{"what": "decision", "expected": "clear", "got": "restricted"}]
    assert {"measure_id", "source"} == set(doc["uncovered"][0])


def test_resident_ids_in_case_names_are_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A resident id a case's name quotes is masked in the failure line and in the JSON report."""
    person = resident_id(7)
    path = _write(tmp_path, PASSING.replace("court defaulter bids: restricted", f"{person} bids")
                  .replace("decision: restricted", "decision: clear"))
    assert main(["test", str(path)]) == 1
    assert main(["test", str(path), "--json"]) == 1
    assert_masked(capsys.readouterr().out, person)


def test_the_shipped_cases_pass_as_a_user_runs_them() -> None:
    """`joint-sanctions test measure_lists/cases/` (what make test runs) passes and exercises every shipped
    measure."""
    p = cli("test", "measure_lists/cases/", cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no case exercises" not in p.stdout and ", 0 failed, 0 malformed" in p.stdout


def test_the_cases_folder_is_not_read_as_measure_lists() -> None:
    """The shipped cases live beside the lists, and neither lint nor the loader takes them for measure lists."""
    assert (shipped_measures_dir() / "cases" / "national.yaml").is_file()
    assert lint([shipped_measures_dir()]) == []
    # make test runs the shipped cases through the command as well as under pytest
    assert "joint-sanctions test measure_lists/cases/" in (ROOT / "Makefile").read_text(encoding="utf-8")
