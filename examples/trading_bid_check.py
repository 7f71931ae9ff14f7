"""公共资源交易：投标人信用核查示例 / Public resource trading: check every bidder of a tender.

Run it with ``python examples/trading_bid_check.py``. It creates a SQLite database in a temporary
directory, stores a few sample credit records dated around today, checks the five bidders of a sample
tender (each company together with its legal representative), prints each bidder's verdict with the
measures and their legal basis, and shows the cases opened for the closed loop. All names, ids and
document numbers are samples.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

import structlog

from joint_sanctions import CreditRecord, Engine, case_book_for
from joint_sanctions.adapters import AdapterInputError, trading
from joint_sanctions.stores import SqliteStore
from joint_sanctions.vocabulary import EFFECTS

TODAY = dt.date.today()
TENDER = {"project_code": "ZZGG-2025-0317", "project_name": "郑州市金水区示例道路改造工程施工",
          "matter_type": "bidding", "department": "郑州市城乡建设局", "region_code": "410105"}
BIDDERS = [
    {"id": "91410100MA0000101K", "name": "郑州示例路桥建设有限公司",
     "legal_representative": {"id": "410105197805120110", "name": "张三"}},
    {"id": "91410105MA0000101U", "name": "河南示例市政工程有限公司",
     "legal_representative": {"id": "410105198209300232", "name": "李四"}},
    {"id": "91410184MA00001019", "name": "新郑示例建筑劳务有限公司",
     "legal_representative": {"id": "410105199001150356", "name": "王五"}},
    {"id": "91410102MA0000101G", "name": "中原示例工程集团有限公司",
     "legal_representative": {"id": "410105199507080471", "name": "赵六"}},
    {"id": "91410103MA0000101Y", "name": "二七示例园林绿化有限公司",
     "legal_representative": {"id": "410105199911200594", "name": "钱七"}},
]


def sample_records() -> list[CreditRecord]:
    """Records listed half a year ago and expiring in two years, so they are active whenever this runs."""
    listed, expires = TODAY - dt.timedelta(days=180), TODAY + dt.timedelta(days=730)

    def rec(record_id: str, list_type: str, subject_id: str, name: str, authority: str, document_no: str,
            reason: str = "", ban: tuple[str, ...] = ()) -> CreditRecord:
        # ``ban``: what the penalty decision itself barred, for as long as the record is listed.
        return CreditRecord.model_validate({
            "record_id": record_id, "list_type": list_type, "subject_id": subject_id, "subject_name": name,
            "authority": authority, "document_no": document_no, "listed_on": listed, "expires_on": expires,
            "reason": reason, "ban_matter_types": ban})

    return [
        rec("SX-2025-0815", "court_defaulter", "91410105MA0000101U", "河南示例市政工程有限公司",
            "郑州市金水区人民法院", "（2025）豫0105执1234号", "有履行能力而拒不履行生效法律文书确定义务"),
        # A person on the trading list (the legal representative of a penalised bidder): the memorandum's
        # measure reaches the company they now represent only for review, its basis being unconfirmed.
        rec("JY-2025-0042", "trading_serious_violator", "410105199001150356", "王五",
            "郑州市公共资源交易监督管理部门", "郑公管罚〔2025〕42号", "串通投标（时任法定代表人）"),
        rec("JY-2025-0007", "trading_serious_violator", "91410102MA0000101G", "中原示例工程集团有限公司",
            "郑州市公共资源交易监督管理部门", "郑公管罚〔2025〕7号", "串通投标", ban=("bidding",)),
        rec("CG-2025-0019", "procurement_violator", "91410103MA0000101Y", "二七示例园林绿化有限公司",
            "郑州市财政局", "郑财采处〔2025〕19号", "提供虚假材料谋取中标", ban=("government_procurement",)),
    ]


def show(verdict: trading.TenderVerdict) -> None:
    print(f"项目 Project: {verdict.project_name}（{verdict.project_code}）")
    print(f"措施清单版本 Revision: {verdict.revision}   共 {len(verdict.bidders)} 家投标人 bidders\n")
    for bidder in verdict.bidders:
        print(f"[{bidder.index + 1}] {bidder.name}  {bidder.subject_id}  法定代表人 {bidder.legal_representative}")
        print(f"    结论 Verdict: {bidder.verdict_label} {bidder.verdict}   （核查结论 decision: {bidder.decision}）"
              + (f"   案例 case: {bidder.case_id}" if bidder.case_id else ""))
        for reason in bidder.reasons:
            force = "强制 mandatory" if reason.mandatory else "可裁量 discretionary"
            effect = f"{EFFECTS[reason.effect]} {reason.effect}"
            print(f"    - 措施 {reason.measure_id} {reason.measure}（{effect}，{force}）")
            print(f"      依据 basis: {'；'.join(reason.legal_basis)}"
                  + ("" if reason.binding else "  [依据待核实 → 人工复核 unconfirmed → review by a person]"))
            print(f"      名单 record: {'；'.join(reason.records)}"
                  + (f"   经由 via: {reason.via}" if reason.via else ""))
        print()
    counts = verdict.counts
    print(f"汇总 Summary: 通过 qualified {counts['qualified']}，需人工复核 needs_review {counts['needs_review']}，"
          f"不予通过 disqualified {counts['disqualified']}")


def main() -> None:
    # The library logs every check at INFO; an application decides what it wants to see.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="trading-demo-") as folder:
        store = SqliteStore(Path(folder) / "credit.db")
        store.upsert(sample_records())
        engine = Engine(store=store)
        show(trading.check_bidders(engine, TENDER, BIDDERS))

        cases = case_book_for(engine.store).list()
        print(f"\n已发起案例 Cases opened for the closed loop (发起、响应): {len(cases)}")
        for case in cases:
            print(f"  {case.case_id}  {case.subject.name}  {case.decision}  措施 {', '.join(case.measure_ids)}")

        print("\n格式错误的投标人名单 A malformed bidder list is refused before any check:")
        try:
            trading.check_bidders(engine, TENDER, [BIDDERS[0], {"name": "缺少证件号码的投标人"}])
        except AdapterInputError as exc:
            print(f"  AdapterInputError [{exc.code}]: {exc}")
        store.close()


if __name__ == "__main__":
    main()
