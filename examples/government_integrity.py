"""政务诚信示例 / Government integrity: a complaint about a township government, from the clue to the monthly
district report.

Run it with ``python examples/government_integrity.py``. It creates a SQLite database in a temporary
directory and walks September 2025 as the credit office would, with the ``joint-sanctions`` commands an
operator types (each run here as ``python -m joint_sanctions … --json``): a complaint that a township
government of 新郑市 owes a small company for works, received on the arrears platform and transferred at
once to its superior (即发现即转交); confirmed, so it becomes a government-dishonesty record that every check
sees — the district 新郑市 as a whole included; a part payment (清欠); a second complaint, about 上街区,
transferred a day late and found unfounded; the third party's scores for the month; and the monthly report
of the districts, written to ``./demo_out/government/``. All names, ids and amounts are samples.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TOWNSHIP = "11410184MB0000001X"   # 新郑市孟庄镇人民政府 (sample USCC of a 机关 registered in 410184)
SHANGJIE = "11410106MB00000035"   # 上街区某局 (sample)
OUT = Path("demo_out") / "government"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        walk(f"sqlite:///{Path(folder) / 'credit.db'}", Path(folder))


def js(db: str, *args: str) -> Any:
    """Run one ``joint-sanctions`` command on ``db``; its JSON output (or its text) when it succeeds."""
    done = subprocess.run([sys.executable, "-m", "joint_sanctions", *args, "--db", db], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"joint-sanctions {' '.join(args[:3])} failed: {done.stderr.strip()}")
    return json.loads(done.stdout) if "--json" in args else done.stdout


def walk(db: str, folder: Path) -> None:
    js(db, "db", "init")

    # 1. 受理 a complaint on the arrears platform (违约拖欠中小企业款项登记平台).
    clue = js(db, "gov", "clues", "add", "--body", TOWNSHIP, "--channel", "arrears_platform", "--summary",
              "拖欠示例建材公司工程款", "--amount", "1200000", "--received", "2025-09-01", "--name", "新郑市孟庄镇人民政府",
              "--json")
    print(f"受理线索 Clue received: {clue['body_name']} ({clue['channel']}, region {clue['region_code']}): "
          f"{clue['clue_id']}")

    # 2. 即发现即转交: to the body's superior, the next working day.
    clue = js(db, "gov", "clues", "transfer", clue["clue_id"], "--to", "新郑市人民政府", "--due", "2025-09-19",
              "--on", "2025-09-02", "--json")
    print(f"转交 Transferred to {clue['department']} ({'late' if clue['transfer_late'] else 'in time'})")

    # 3. 核实认定: confirmed, to be rectified by 25 September → a government_dishonesty record.
    clue = js(db, "gov", "clues", "verify", clue["clue_id"], "--confirmed", "--reason", "经核实，拖欠款项属实",
              "--on", "2025-09-10", "--rectify-by", "2025-09-25", "--json")
    record_id = clue["record_id"]
    print(f"核实属实 Confirmed → government_dishonesty record {record_id}, rectify by 2025-09-25")

    # 4. Every check sees it at once: the body itself, and its district as a whole.
    for subject, label in ((TOWNSHIP, "机构核查 Body check"), ("410184", "区县核查 District check")):
        result = js(db, "check", "--subject", subject, "--matter", "honors", "--organizer", "development_reform",
                    "--at", "2025-09-15", "--json")
        print(f"{label} {subject} honors: {result['decision']} "
              f"({', '.join(m['measure_id'] for m in result['measures'])}; "
              f"via {', '.join(h['record_id'] for h in result['hits'])})")

    # 5. 清欠: a part payment on 20 September.
    cleared = js(db, "gov", "clearance", "add", record_id, "--paid", "500000", "--on", "2025-09-20", "--json")
    print(f"清欠 Paid 500,000 of {cleared['owed']:,.0f}; outstanding {cleared['outstanding']:,.0f} "
          f"({cleared['status']})")

    # 6. A second complaint, about 上街区: received Thursday, transferred Monday (late), unfounded.
    other = js(db, "gov", "clues", "add", "--body", SHANGJIE, "--channel", "hotline_12345", "--summary",
               "未按协议支付补贴", "--received", "2025-09-04", "--name", "上街区某局", "--json")
    other = js(db, "gov", "clues", "transfer", other["clue_id"], "--to", "郑州市上街区人民政府", "--due", "2025-09-30",
               "--on", "2025-09-08", "--json")
    js(db, "gov", "clues", "verify", other["clue_id"], "--unfounded", "--reason", "经核实，补贴已按约支付",
       "--on", "2025-09-10", "--json")
    print(f"第二条线索 Second clue: {other['body_name']}, transferred "
          f"{'late' if other['transfer_late'] else 'in time'}, found unfounded")

    # 7. The third party's scores for September (six dimensions).
    scores = folder / "scores-2025-09.csv"
    scores.write_text("行政区划代码,月份,依法行政,政务公开,勤政高效,政府信用管理,信用信息归集共享,“信易+”开展情况\n"
                      "410184,2025-09,90,85,80,88,92,75\n"
                      "410106,2025-09,95,95,95,95,95,95\n", encoding="utf-8")
    done = js(db, "gov", "districts", "import-scores", str(scores), "--json")
    print(f"第三方评分 Scores imported: {done['stored']} districts, {len(done['errors'])} rows refused")

    # 8. The monthly district report: printed, and written as an HTML page with charts.
    report = js(db, "gov", "districts", "report", "--month", "2025-09", "--json")
    print(f"区县政务诚信月度监测 District report 2025-09 ({len(report['districts'])} districts)")
    for row in report["districts"]:
        if row["dishonesty_bodies"] or row["clues"] or row["third_party"]:
            print(f"  {row['name']} {row['region_code']}: score {row['score']:g} (third party "
                  f"{row['third_party_score']:g}), bodies {row['dishonesty_bodies']}, overdue {row['overdue']}, "
                  f"clues {row['clues']}, owed {row['owed']:,.0f}, cleared {row['cleared']:,.0f}")
            for warning in row["warnings"]:
                print(f"    预警 Warning: {warning['message']}")
    OUT.mkdir(parents=True, exist_ok=True)
    print(js(db, "gov", "districts", "report", "--month", "2025-09", "--out", str(OUT / "districts-2025-09.html"))
          .splitlines()[0].split(" / ")[0])


if __name__ == "__main__":
    main()
