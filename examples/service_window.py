"""政务服务窗口：逢办必查示例 / Government-service window: what may the clerk do for this applicant?

Run it with ``python examples/service_window.py``. It creates a SQLite database in a temporary
directory with sample credit records dated around today, then asks, for applicants of the service
item 食品经营许可（新办）, the window's four questions: is the application barred, may the 告知承诺
(notify-and-commit) route be used, may 容缺受理 be used, is strict review required. The item codes come
from the editable mapping ``adapters/service_items.yaml``. All names, ids and numbers are samples.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

import structlog

from joint_sanctions import CreditRecord, Engine
from joint_sanctions.adapters import UnknownServiceItemError
from joint_sanctions.adapters.government_services import ServiceWindow, WindowAdvice
from joint_sanctions.stores import SqliteStore
from joint_sanctions.vocabulary import DECISIONS

TODAY = dt.date.today()
FOOD_LICENCE = "000117001000-410100000000-000-11410100MB00000018-1-00"  # 食品经营许可（新办）
APPLICANTS = [
    ({"id": "91410100MA0000202C", "name": "郑州示例餐饮管理有限公司"}, "ZW-2025-000101"),
    ({"id": "91410105MA0000202L", "name": "金水示例食品有限公司"}, "ZW-2025-000102"),
    ({"id": "91410184MA00002022", "name": "新郑示例商贸有限公司",
      "legal_representative": {"id": "410105198703030610", "name": "孙八"}}, "ZW-2025-000103"),
    ({"id": "91410102MA00002029", "name": "中原示例超市有限公司"}, "ZW-2025-000104"),
]


def sample_records() -> list[CreditRecord]:
    """Records listed half a year ago and expiring in two years, so they are active whenever this runs."""
    listed, expires = TODAY - dt.timedelta(days=180), TODAY + dt.timedelta(days=730)
    rows = [
        ("A-2025-3301", "tax_credit_a", "91410105MA0000202L", "金水示例食品有限公司",
         "国家税务总局郑州市税务局", "2024年度纳税信用A级", ""),
        ("SX-2025-0901", "court_defaulter", "91410184MA00002022", "新郑示例商贸有限公司",
         "新郑市人民法院", "（2025）豫0184执567号", "有履行能力而拒不履行生效法律文书确定义务"),
        ("SC-2025-0077", "market_serious_violator", "91410102MA00002029", "中原示例超市有限公司",
         "郑州市市场监督管理局", "郑市监严〔2025〕77号", "隐瞒有关情况或者提供虚假材料申请行政许可"),
    ]
    # The market-supervision decision barred the supermarket from re-applying for this one licence
    # (行政许可法第七十八条): the record carries that ban, by the licence's item code, for one year.
    bans = {"SC-2025-0077": {"ban_item_codes": [FOOD_LICENCE], "ban_until": listed + dt.timedelta(days=365)}}
    return [CreditRecord.model_validate({
        "record_id": r, "list_type": t, "subject_id": s, "subject_name": n, "authority": a, "document_no": d,
        "listed_on": listed, "expires_on": expires, "reason": why, **bans.get(r, {})})
        for r, t, s, n, a, d, why in rows]


def yes(flag: bool) -> str:
    return "是 yes" if flag else "否 no"


def show(advice: WindowAdvice) -> None:
    print(f"申请人 Applicant: {advice.applicant_name}（{advice.applicant_id}）")
    print(f"  核查结论 Decision: {DECISIONS[advice.decision]} {advice.decision}")
    notify = "待人工复核 review" if advice.notify_commit_review else yes(advice.notify_commit_allowed)
    print(f"  禁止申请 Barred: {yes(advice.barred)} | 告知承诺 Notify-and-commit: {notify}"
          f" | 容缺受理 Missing documents: {yes(advice.fault_tolerant_allowed)}"
          f" | 从严审核 Strict review: {yes(advice.strict_review)}")
    for line in advice.guidance:
        print(f"  ▶ {line}")
    for reason in advice.reasons:
        print(f"  - {reason.measure_id} {reason.measure}；依据 {'；'.join(reason.legal_basis)}"
              + ("" if reason.binding else "（依据待核实 → 人工复核 unconfirmed → review by a person）"))
    if advice.incentives:
        print(f"  + 守信激励 Incentives: {'、'.join(advice.incentives)}")
    print()


def main() -> None:
    # The library logs every check at INFO; an application decides what it wants to see.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="window-demo-") as folder:
        store = SqliteStore(Path(folder) / "credit.db")
        store.upsert(sample_records())
        window = ServiceWindow(Engine(store=store))
        item = window.catalog.get(FOOD_LICENCE)
        print(f"事项 Service item: {item.name}（{item.department}）\n编码 Code: {item.code}")
        print(f"核查事项类型 Matter types: {', '.join(item.matter_types)}；本事项实行告知承诺制: {yes(item.notify_commit)}；"
              f"容缺受理: {yes(item.fault_tolerant)}\n")
        for applicant, application_no in APPLICANTS:
            show(window.advise(applicant, FOOD_LICENCE, application_no=application_no))

        print("未知的事项编码 An unknown item code is refused:")
        try:
            window.advise(APPLICANTS[0][0], FOOD_LICENCE.replace("000117001000", "000117001001"))
        except UnknownServiceItemError as exc:
            print(f"  UnknownServiceItemError: {exc}")
        store.close()


if __name__ == "__main__":
    main()
