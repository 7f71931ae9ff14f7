"""政务诚信示例 / Government integrity: a complaint about a township government, from the clue to the monthly
district report.

Run it with ``python examples/government_integrity.py``. It creates a SQLite database in a temporary
directory and walks September 2025 as the credit office would: a complaint that a township government of
新郑市 owes a small company for works (received on the arrears platform), transferred at once to its
superior (即发现即转交), confirmed, so it becomes a government-dishonesty record that every check sees — the
district 新郑市 included; a part payment (清欠); a second complaint, about 上街区, transferred a day late and
found unfounded; the third party's scores for the month; and the monthly report of the 16 districts,
written to ``./demo_out/government/``. All names, ids and amounts are samples.

The same steps on the command line: ``joint-sanctions gov clues add|transfer|verify``, ``gov clearance
add``, ``check --subject 410184 --matter honors --organizer development_reform``, ``gov districts
import-scores FILE`` and ``gov districts report --month 2025-09 --out report.html``.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

import structlog

from joint_sanctions import Engine
from joint_sanctions._gov_clearance import add_payment
from joint_sanctions._gov_clues import add_clue, transfer_clue, verify_clue
from joint_sanctions._gov_district_data import Districts, import_scores, load_districts
from joint_sanctions._gov_report import district_report
from joint_sanctions._gov_report_render import render_html
from joint_sanctions.stores import RecordStore, open_store
from joint_sanctions.testing import Clock

TOWNSHIP = "11410184MB0000001X"   # 新郑市孟庄镇人民政府 (sample USCC of a 机关 registered in 410184)
SHANGJIE = "11410106MB00000035"   # 上街区某局 (sample)
DAY = dt.date
OUT = Path("demo_out") / "government"


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    districts = load_districts()  # the shipped Zhengzhou districts (measure_lists/districts/zhengzhou.yaml)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'credit.db'}", create=True)
        try:
            walk(store, districts, Path(folder))
        finally:
            store.close()


def walk(store: RecordStore, districts: Districts, folder: Path) -> None:
    # 1. 受理 a complaint on the arrears platform (违约拖欠中小企业款项登记平台).
    clue = add_clue(store, body=TOWNSHIP, channel="arrears_platform", summary="拖欠示例建材公司工程款",
                    amount=1_200_000, received=DAY(2025, 9, 1), body_name="新郑市孟庄镇人民政府")
    print(f"受理线索 Clue received: {clue.body_name} ({clue.channel}, region {clue.region_code}): {clue.clue_id}")

    # 2. 即发现即转交: to the body's superior, the next working day.
    clue = transfer_clue(store, clue.clue_id, to="新郑市人民政府", due=DAY(2025, 9, 19), on=DAY(2025, 9, 2))
    print(f"转交 Transferred to {clue.department} ({'late' if clue.transfer_late else 'in time'})")

    # 3. 核实认定: confirmed, to be rectified by 25 September → a government_dishonesty record.
    clue = verify_clue(store, clue.clue_id, confirmed=True, reason="经核实，拖欠款项属实",
                       on=DAY(2025, 9, 10), rectify_by=DAY(2025, 9, 25))
    record_id = str(clue.record_id)
    print(f"核实属实 Confirmed → government_dishonesty record {record_id}, rectify by 2025-09-25")

    # 4. Every check sees it at once: the body itself, and its district as a whole.
    engine = Engine(store=store, clock=Clock(dt.datetime(2025, 9, 15, 2, tzinfo=dt.UTC)), cases=False)
    body = engine.check(TOWNSHIP, "honors", organizer="development_reform")
    print(f"机构核查 Body check {TOWNSHIP} honors: {body.decision} ({', '.join(m.measure_id for m in body.measures)})")
    district = engine.check({"id": "410184", "name": "新郑市"}, "honors", organizer="development_reform")
    print(f"区县核查 District check 410184 新郑市 honors: {district.decision} "
          f"({', '.join(m.measure_id for m in district.measures)}; via {', '.join(h.record_id for h in district.hits)})")
    engine.close()

    # 5. 清欠: a part payment on 20 September.
    cleared = add_payment(store, record_id, paid=500_000, on=DAY(2025, 9, 20))
    print(f"清欠 Paid 500,000 of {cleared.owed:,.0f}; outstanding {cleared.outstanding:,.0f}"
          f"{' (rectified)' if cleared.rectified else ' (not yet rectified)'}")

    # 6. A second complaint, about 上街区: received Thursday, transferred Monday (late), unfounded.
    other = add_clue(store, body=SHANGJIE, channel="hotline_12345", summary="未按协议支付补贴",
                     received=DAY(2025, 9, 4), body_name="上街区某局")
    other = transfer_clue(store, other.clue_id, to="郑州市上街区人民政府", due=DAY(2025, 9, 30), on=DAY(2025, 9, 8))
    verify_clue(store, other.clue_id, confirmed=False, reason="经核实，补贴已按约支付", on=DAY(2025, 9, 10))
    print(f"第二条线索 Second clue: {other.body_name}, transferred {'late' if other.transfer_late else 'in time'}, "
          "found unfounded")

    # 7. The third party's scores for September (six dimensions).
    scores = folder / "scores-2025-09.csv"
    scores.write_text("行政区划代码,月份,依法行政,政务公开,勤政高效,政府信用管理,信用信息归集共享,“信易+”开展情况\n"
                      "410184,2025-09,90,85,80,88,92,75\n"
                      "410106,2025-09,95,95,95,95,95,95\n", encoding="utf-8")
    done = import_scores(store, scores, districts)
    print(f"第三方评分 Scores imported: {done.stored} districts, {len(done.errors)} rows refused")

    # 8. The monthly district report.
    report = district_report(store, districts, "2025-09", today=DAY(2025, 10, 8))
    print(f"区县政务诚信月度监测 District report 2025-09 ({len(report['districts'])} districts)")
    for row in report["districts"]:
        if row["dishonesty_bodies"] or row["clues"] or row["third_party"]:
            print(f"  {row['name']} {row['region_code']}: score {row['score']:g} (third party "
                  f"{row['third_party_score']:g}), bodies {row['dishonesty_bodies']}, overdue {row['overdue']}, "
                  f"clues {row['clues']}, owed {row['owed']:,.0f}, cleared {row['cleared']:,.0f}")
            for warning in row["warnings"]:
                print(f"    预警 Warning: {warning['message']}")
    OUT.mkdir(parents=True, exist_ok=True)
    page = OUT / "districts-2025-09.html"
    page.write_text(render_html(report), encoding="utf-8")
    print(f"wrote {page}")


if __name__ == "__main__":
    main()
