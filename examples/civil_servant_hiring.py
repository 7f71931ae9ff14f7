"""公务员录用信用核查示例 / Civil-servant hiring: batch-check candidates (natural persons), ids masked.

Run it with ``python examples/civil_servant_hiring.py``. It creates a SQLite database in a temporary
directory with sample credit records dated around today and checks the candidates of a sample
recruitment for the matter type ``civil_servant_hiring``. 《公务员法》第二十六条第（四）项: a person
listed as a joint-punishment target may not be recruited. Resident ids are masked in everything
printed, including the JSON an integrator would pass on. All names and ids are samples.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from pathlib import Path

import structlog

from joint_sanctions import CreditRecord, Engine
from joint_sanctions.adapters import reviews
from joint_sanctions.stores import SqliteStore

TODAY = dt.date.today()
CANDIDATES = [
    {"id": "410105199602140719", "name": "周一"},
    {"id": "410105199711050835", "name": "吴二"},
    {"id": "410105199806230951", "name": "郑三"},
    {"id": "410105199404181077", "name": "王四"},
    {"id": "410105200001011191", "name": "冯五"},
    {"id": "410105199912311210", "name": "陈六"},
]


def sample_records() -> list[CreditRecord]:
    """Records listed half a year ago and expiring in two years, so they are active whenever this runs."""
    listed, expires = TODAY - dt.timedelta(days=180), TODAY + dt.timedelta(days=730)
    rows = [
        ("SX-2025-3107", "court_defaulter", "410105199711050835", "吴二", "郑州市金水区人民法院",
         "（2025）豫0105执3107号", "有履行能力而拒不履行生效法律文书确定义务"),
        ("SS-2025-0318", "major_tax_violator", "410105199912311210", "陈六", "国家税务总局郑州市税务局",
         "郑税稽罚〔2025〕318号", "逃避缴纳税款"),
    ]
    return [CreditRecord.model_validate({
        "record_id": r, "list_type": t, "subject_id": s, "subject_name": n, "subject_type": "natural_person",
        "authority": a, "document_no": d, "listed_on": listed, "expires_on": expires, "reason": why})
        for r, t, s, n, a, d, why in rows]


def main() -> None:
    # The library logs every check at INFO; an application decides what it wants to see.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="hiring-demo-") as folder:
        store = SqliteStore(Path(folder) / "credit.db")
        store.upsert(sample_records())
        report = reviews.review(Engine(store=store), CANDIDATES, "civil_servant_hiring",
                                title=f"{TODAY.year}年度示例单位公务员录用考察")
        store.close()

    print(f"{report.title}（{report.matter_label} {report.matter_type}）：{len(report.candidates)} 人\n")
    for candidate in report.candidates:
        print(f"  {candidate.name}  {candidate.subject_id}  → {candidate.verdict_label} {candidate.verdict}")
        for reason in candidate.reasons:
            print(f"      {reason.measure}；依据 {'；'.join(reason.legal_basis)}；名单 {'；'.join(reason.records)}")
    counts = report.counts
    print(f"\n汇总 Summary: 通过 {counts['qualified']}，需人工复核 {counts['needs_review']}，"
          f"不予录用 {counts['disqualified']}")
    print("\n交给人事系统的 JSON（身份证号已脱敏）/ JSON for the HR system, ids masked:")
    print(json.dumps(report.flagged[0].to_dict(), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
