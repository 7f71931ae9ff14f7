"""评优评先批量核查示例 / Awards: batch-check a list of organisations and write CSV, XLSX and HTML reports.

Run it with ``python examples/awards_batch.py``. It creates a SQLite database in a temporary directory
with sample credit records dated around today, writes the candidate list of a sample 市级文明单位复评
(civilised-unit re-assessment) as CSV, checks it for the matter type ``honors`` as the ``batch``
command does, and writes the reports to ``./demo_out/awards/``: open ``report.html`` in a browser.
One row is deliberately wrong, to show how a bad row is reported and skipped. All names, ids and
numbers are samples.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import tempfile
from pathlib import Path

import structlog

from joint_sanctions import CreditRecord, Engine
from joint_sanctions.adapters import reviews
from joint_sanctions.stores import SqliteStore
from joint_sanctions.vocabulary import DECISIONS

TODAY = dt.date.today()
OUT = Path("demo_out") / "awards"
CANDIDATES = [  # subject_id, subject_name, subject_type
    ("91410105MA0000501J", "金水示例软件科技有限公司", "legal_person"),
    ("91410105MA0000502M", "金水示例物业服务有限公司", "legal_person"),
    ("91410105MA0000503Q", "金水示例商贸有限公司", ""),
    ("12410100MB00000015", "郑州市示例职业技术学校", "government_body"),
    ("12410100MB00000028", "郑州市示例社区卫生服务中心", "government_body"),
    ("11410103MB0000001K", "郑州市二七区示例街道办事处", "government_body"),
    ("11410103MB0000002N", "郑州市二七区示例管理局", "government_body"),
    ("52410105MJ0000001P", "金水区示例志愿者协会", "legal_person"),
    ("91410105MA0000504U", "金水示例餐饮有限公司", ""),
    ("91410105MA0000505Y", "金水示例建筑装饰工程有限公司", ""),
    ("91410105MA000050X2", "号码有误的示例单位", ""),  # check character wrong: rejected with its line
    ("91410105MA00005075", "金水示例文化传媒有限公司", ""),
]


def sample_records() -> list[CreditRecord]:
    """Records listed half a year ago and expiring in two years, so they are active whenever this runs."""
    listed, expires = TODAY - dt.timedelta(days=180), TODAY + dt.timedelta(days=730)
    rows = [
        ("ZW-2025-0012", "government_dishonesty", "11410103MB0000002N", "郑州市二七区示例管理局",
         "郑州市发展和改革委员会（市信用办）", "郑信用办〔2025〕12号", "合同违约未整改"),
        ("SX-2025-2201", "court_defaulter", "91410105MA0000502M", "金水示例物业服务有限公司",
         "郑州市金水区人民法院", "（2025）豫0105执2201号", "有履行能力而拒不履行生效法律文书确定义务"),
        ("QX-2025-0108", "wage_arrears", "91410105MA0000505Y", "金水示例建筑装饰工程有限公司",
         "郑州市人力资源和社会保障局", "郑人社欠薪〔2025〕108号", "拖欠农民工工资"),
        ("A-2025-5001", "tax_credit_a", "91410105MA0000501J", "金水示例软件科技有限公司",
         "国家税务总局郑州市税务局", "2024年度纳税信用A级", ""),
    ]
    return [CreditRecord.model_validate({
        "record_id": r, "list_type": t, "subject_id": s, "subject_name": n, "authority": a, "document_no": d,
        "listed_on": listed, "expires_on": expires, "reason": why}) for r, t, s, n, a, d, why in rows]


def main() -> None:
    # The library logs every check at INFO; an application decides what it wants to see.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / "candidates.csv"
    with open(source, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(("subject_id", "subject_name", "subject_type"))
        writer.writerows(CANDIDATES)

    with tempfile.TemporaryDirectory(prefix="awards-demo-") as folder:
        store = SqliteStore(Path(folder) / "credit.db")
        store.upsert(sample_records())
        engine = Engine(store=store)
        print(f"{TODAY.year}年度市级文明单位复评 信用核查 / Civilised-unit re-assessment: credit checks (honors)\n")
        for name in ("report.csv", "report.xlsx", "report.html"):
            summary = reviews.review_file(engine, source, "honors", OUT / name)
        store.close()

    print(f"核查 Checked: {summary.total}，需关注 Flagged: {summary.flagged}，被拒绝的行 Rejected rows: "
          f"{len(summary.rejected)}")
    for decision, count in summary.counts.items():
        print(f"  {DECISIONS[decision]} {decision}: {count}")
    for rejected in summary.rejected:
        print(f"  ✗ {source}:{rejected.line}: {rejected.reason}")
    print("\n需关注的单位 Flagged candidates:")
    with open(OUT / "report.csv", encoding="utf-8-sig", newline="") as file:
        for row in csv.DictReader(file):
            if row["decision"] != "clear":
                print(f"  第{row['line']}行 {row['subject_name']}（{row['subject_id']}）: "
                      f"{DECISIONS[row['decision']]} {row['decision']}；"
                      f"措施 {row['measure_ids'].replace(';', ', ')}；记录 {row['record_ids']}"
                      + (f"；依据待核实 → 人工复核 {row['non_binding_measure_ids'].replace(';', ', ')}"
                         if row["non_binding_measure_ids"] else ""))
    print(f"\n报告 Reports: {OUT / 'report.html'} · {OUT / 'report.xlsx'} · {OUT / 'report.csv'}")


if __name__ == "__main__":
    main()
