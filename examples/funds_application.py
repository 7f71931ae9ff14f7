"""资金申报信用核查示例 / Funds, bonds and financing: check the applicant and every participating unit.

Run it with ``python examples/funds_application.py``. It creates a SQLite database in a temporary
directory with sample credit records dated around today, then checks two applications: a local
government special bond (地方政府专项债券) for a district project with three participating units, and a
fiscal subsidy (财政奖补资金) for a company. Each unit gets a verdict with the measures and legal basis;
the application's overall verdict is the most severe one. All names, ids and numbers are samples.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

import structlog

from joint_sanctions import CreditRecord, Engine
from joint_sanctions.adapters import funds
from joint_sanctions.stores import SqliteStore
from joint_sanctions.vocabulary import EFFECTS

TODAY = dt.date.today()

BOND = {"matter_type": "special_bond", "project_name": "金水区示例老旧小区改造及配套基础设施项目",
        "project_code": "ZXZ-410105-2025-012", "amount": 180_000_000, "department": "郑州市发展和改革委员会",
        "region_code": "410105"}
BOND_APPLICANT = {"id": "11410105MB0000001G", "name": "郑州市金水区示例城市更新服务中心",
                  "subject_type": "government_body"}
BOND_PARTICIPANTS = [
    {"id": "91410105MA0000303D", "name": "金水示例城建投资有限公司", "role": "项目业主 owner"},
    {"id": "91410100MA00003035", "name": "郑州示例建工集团有限公司", "role": "施工单位 contractor",
     "legal_representative": {"id": "410105199507080471", "name": "赵六"}},
    {"id": "91410122MA0000101F", "name": "中牟示例工程监理有限公司", "role": "监理单位 supervisor"},
]
SUBSIDY = {"matter_type": "fiscal_funds", "project_name": "2025年度中小企业发展专项资金（技术改造奖补）",
           "project_code": "ZXQY-2025-0456", "amount": 2_000_000, "department": "郑州市工业和信息化局"}
SUBSIDY_APPLICANT = {"id": "91410184MA0000303T", "name": "新郑示例机械制造有限公司"}


def sample_records() -> list[CreditRecord]:
    """Records listed half a year ago and expiring in two years, so they are active whenever this runs."""
    listed, expires = TODAY - dt.timedelta(days=180), TODAY + dt.timedelta(days=730)
    rows = [
        ("ZW-2025-0005", "government_dishonesty", "11410105MB0000001G", "郑州市金水区示例城市更新服务中心",
         "郑州市发展和改革委员会（市信用办）", "郑信用办〔2025〕5号", "拖欠中小企业账款未整改"),
        ("SX-2025-1203", "court_defaulter", "91410100MA00003035", "郑州示例建工集团有限公司",
         "郑州市中级人民法院", "（2025）豫01执888号", "有履行能力而拒不履行生效法律文书确定义务"),
        ("SX-2025-0431", "court_defaulter", "91410184MA0000303T", "新郑示例机械制造有限公司",
         "新郑市人民法院", "（2025）豫0184执431号", "违反财产报告制度"),
    ]
    return [CreditRecord.model_validate({
        "record_id": r, "list_type": t, "subject_id": s, "subject_name": n, "authority": a, "document_no": d,
        "listed_on": listed, "expires_on": expires, "reason": why}) for r, t, s, n, a, d, why in rows]


def show(verdict: funds.FundsVerdict) -> None:
    amount = f"{verdict.amount / 10_000:,.0f} 万元" if verdict.amount is not None else "—"
    print(f"【{verdict.matter_label} {verdict.matter_type}】{verdict.project_name}"
          f"（{verdict.project_code}，{amount}）")
    print(f"  总体结论 Overall verdict: {verdict.verdict_label} {verdict.verdict}")
    for unit in verdict.units:
        role = "申报单位 applicant" if unit.role == "applicant" else unit.role
        print(f"  · {role}: {unit.name}（{unit.subject_id}）→ {unit.verdict_label} {unit.verdict}"
              f"（decision: {unit.decision}）" + (f" 案例 case {unit.case_id[:8]}…" if unit.case_id else ""))
        for reason in unit.reasons:
            print(f"      - {reason.measure_id} {reason.measure}（{EFFECTS[reason.effect]}，"
                  f"{'应当 mandatory' if reason.mandatory else '可以 discretionary'}）")
            print(f"        依据 basis: {'；'.join(reason.legal_basis)}"
                  + ("" if reason.binding else "（依据待核实 → 人工复核 unconfirmed → review by a person）"))
            print(f"        名单 record: {'；'.join(reason.records)}")
    print()


def main() -> None:
    # The library logs every check at INFO; an application decides what it wants to see.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="funds-demo-") as folder:
        store = SqliteStore(Path(folder) / "credit.db")
        store.upsert(sample_records())
        engine = Engine(store=store)
        show(funds.check_application(engine, BOND, BOND_APPLICANT, BOND_PARTICIPANTS))
        show(funds.check_application(engine, SUBSIDY, SUBSIDY_APPLICANT))
        store.close()


if __name__ == "__main__":
    main()
