"""Every script in examples/ runs on its own (its own SQLite file and sample data) and says what matters."""

from __future__ import annotations

import csv
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"

# What a user must see in each script's output; resident ids of the sample data must never show in clear.
EXPECTED: dict[str, tuple[str, ...]] = {
    "trading_bid_check.py": (
        "郑州市金水区示例道路改造工程施工", "通过 qualified", "不予通过 disqualified", "需人工复核 needs_review",
        "《中华人民共和国招标投标法》第五十三条", "经由 via: 法定代表人 王五 4101**********0356",
        "已发起案例 Cases opened for the closed loop (发起、响应): 4", "AdapterInputError [missing_field]: bidders[1]"),
    "service_window.py": (
        "食品经营许可（新办）", "可按告知承诺制办理", "开通绿色通道", "告知承诺制：依据待核实 → 人工复核后决定",
        "从严审核 / Strict review required", "不予受理", "《中华人民共和国行政许可法》第七十八条、第七十九条",
        "UnknownServiceItemError"),
    "funds_application.py": (
        "地方政府专项债券申请 special_bond", "总体结论 Overall verdict: 需人工复核 needs_review",
        "施工单位 contractor: 郑州示例建工集团有限公司", "DRC-SB-001 限制地方政府专项债券申请",
        "总体结论 Overall verdict: 不予通过 disqualified", "法释〔2013〕17号（法释〔2017〕7号修正）第八条"),
    "awards_batch.py": (
        "核查 Checked: 11，需关注 Flagged: 3，被拒绝的行 Rejected rows: 1", "candidates.csv:12: subject_id:",
        "郑州市二七区示例管理局（11410103MB0000002N）: 审慎核查 review", "依据待核实 → 人工复核 DEP-HON-001",
        "demo_out/awards/report.html"),
    "demo.py": (
        "导入信用记录 Imported 14 records (0 rejected)", "郑州恒通建设工程有限公司", "法释〔2013〕17号（法释〔2017〕7号修正）第八条; confirmed",
        "11 checks, 8 flagged, 9 cases opened", "(feedback v1): 郑州恒通建设工程有限公司, government_procurement",
        "闭环 Loop closed: 1 delivered, case status fed_back (已反馈); 0 feedback record(s) pending."),
    "government_integrity.py": (
        "受理线索 Clue received: 新郑市孟庄镇人民政府 (arrears_platform, region 410184)",
        "转交 Transferred to 新郑市人民政府 (in time)", "核实属实 Confirmed → government_dishonesty record GD-",
        "区县核查 District check 410184 honors: review (GOV-HON-001; via GD-",
        "清欠 Paid 500,000 of 1,200,000; outstanding 700,000 (outstanding)",
        "第二条线索 Second clue: 上街区某局, transferred late, found unfounded",
        # by hand: 85 (mean of 90 85 80 88 92 75) − 10 (a body on the list) − 10 (overdue since the 25th) = 65;
        # 95 − 2 (a late transfer) = 93
        "新郑市 410184: score 65 (third party 85), bodies 1, overdue 1, clues 1, owed 700,000, cleared 500,000",
        "上街区 410106: score 93 (third party 95)", "预警 Warning: 逾期未整改 / rectification overdue",
        "wrote demo_out/government/districts-2025-09.html"),
    "civil_servant_hiring.py": (
        "吴二  4101**********0835  → 不予通过 disqualified", "《中华人民共和国公务员法》第二十六条第（四）项",
        "汇总 Summary: 通过 4，需人工复核 0，不予录用 2", '"subject_id": "4101**********0835"'),
}
CLEAR_IDS = ("410105197805120110", "410105199001150356", "410105198703030610", "410105199711050835",
             "410105199912311210", "410105199507080471")


def _run(script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_prints_what_a_user_needs(name: str, tmp_path: Path) -> None:
    """The example exits 0 from a fresh directory and prints its key lines, with no resident id in clear."""
    done = _run(EXAMPLES / name, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for expected in EXPECTED[name]:
        assert expected in done.stdout, f"{expected!r} missing from:\n{done.stdout}"
    assert not any(i in done.stdout + done.stderr for i in CLEAR_IDS)


def test_awards_example_leaves_its_reports_under_demo_out(tmp_path: Path) -> None:
    """The awards example writes CSV, XLSX and HTML reports under ./demo_out/awards/."""
    assert _run(EXAMPLES / "awards_batch.py", tmp_path).returncode == 0
    reports = tmp_path / "demo_out" / "awards"
    assert sorted(p.name for p in reports.iterdir()) == [
        "candidates.csv", "report.csv", "report.html", "report.xlsx"]
    assert "data-flagged>3<" in (reports / "report.html").read_text(encoding="utf-8")


def test_every_example_is_run_and_checked() -> None:
    """Each script in examples/ has the lines its output must show, so none goes unchecked in CI."""
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


def _readme_commands(marker: str) -> list[list[str]]:
    """The commands of the examples/README.md ``sh`` block that mentions ``marker``, continuations joined."""
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    (block,) = [b.split("\n", 1)[1] for b in text.split("```sh")[1:] if marker in b.split("```")[0]]
    lines = block.split("```")[0].replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.strip()]


def test_readme_cli_commands_flag_what_the_awards_script_flags(tmp_path: Path) -> None:
    """The examples/README.md commands (import, then batch) report the same decisions, line by line, as
    awards_batch.py; the deliberate bad row makes batch exit 1."""
    assert _run(EXAMPLES / "awards_batch.py", tmp_path).returncode == 0
    (tmp_path / "examples").symlink_to(EXAMPLES)  # the commands are written for the repository root
    codes = []
    for argv in _readme_commands("award_records.csv"):
        if argv[0] == "joint-sanctions":
            argv = [sys.executable, "-m", "joint_sanctions", *argv[1:]]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
        codes.append((argv[-1] if argv[0] == "mkdir" else argv[3], done.returncode))
    assert codes == [("demo_out/awards-cli", 0), ("records", 0), ("batch", 1)]

    def rows(path: Path) -> list[dict[str, str]]:
        with open(path, encoding="utf-8-sig", newline="") as file:
            return list(csv.DictReader(file))
    script = rows(tmp_path / "demo_out" / "awards" / "report.csv")
    assert rows(tmp_path / "demo_out" / "awards-cli" / "report.csv") == script
    assert sum(r["decision"] != "clear" for r in script) == 3
