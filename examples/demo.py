"""`make demo`: the main job end to end on the embedded default (a SQLite file).

1. import a sample of realistic credit-list records (CSV) into ./demo_out/joint_sanctions.db;
2. check a handful of subjects for several matter types and print a readable table;
3. run the closed loop once: the handling department disposes a case (处置) and the case
   feedback goes up (反馈) to a local provincial-platform simulator.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import structlog

import joint_sanctions as js
from joint_sanctions import HttpSink, case_book_for, deliver
from joint_sanctions.testing.simulator import PlatformSimulator
from joint_sanctions.vocabulary import CASE_STATUSES, DECISIONS, MATTER_TYPES

HERE = Path(__file__).parent
OUT = Path("demo_out")

SUBJECTS = [
    ({"id": "91410100MAAY4CL12L", "name": "郑州恒通建设工程有限公司"}, ["government_procurement", "central_budget_funds"]),
    ({"id": "91410105MATH3BJ1XP", "name": "郑州明远商贸有限公司"}, ["special_bond", "administrative_licensing"]),
    ({"id": "91410184MA9HTM53JC", "name": "新郑市顺安劳务有限公司",
      "related_parties": [{"role": "legal_representative", "id": "410102198509230441", "name": "李某某"}]},
     ["bidding"]),
    ({"id": "114101060824628195", "name": "上街区某街道办事处"}, ["honors", "pilot_demonstration"]),
    ({"id": "410105197805120313", "name": "王某某"}, ["civil_servant_hiring"]),
    ({"id": "91410181MAHDQAEJXX", "name": "巩义市鑫源建材有限公司"}, ["bidding"]),
    ({"id": "52410105MA2J1K6FMJ", "name": "金水区诚信公益服务中心"}, ["qualification_review"]),
    ({"id": "91350100M000100Y43", "name": "福州某科技有限公司"}, ["financing_recommendation"]),
]

#: Who organises the matters of a subject, where the host knows it (here: the district's DRC awards and pilots).
ORGANIZERS = {"114101060824628195": "development_reform"}


def width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def pad(text: str, cols: int) -> str:
    return text + " " * max(0, cols - width(text))


def main() -> int:
    # The application (not the library) decides where logs go: here, warnings only, on stderr.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    store = js.open_store(f"sqlite:///{OUT / 'joint_sanctions.db'}", create=True)
    report = js.import_records(store, HERE / "data" / "sample_records.csv")
    print(f"导入信用记录 Imported {report.stored} records "
          f"({len(report.errors)} rejected) into {OUT / 'joint_sanctions.db'}\n")

    engine = js.Engine(store=store)
    print(f"措施清单版本 Measure-list revision {engine.revision}, rule engine: {engine.rules_backend}\n")
    header = f"{pad('主体 Subject', 30)} {pad('事项 Matter', 24)} {pad('结论 Decision', 16)} 措施与依据 Measures and legal basis"
    print(header)
    print("-" * (width(header) + 20))
    results = []
    for subject, matters in SUBJECTS:
        for matter in matters:
            # The district measures of the seed cover development-and-reform-system awards and pilots only.
            result = engine.check(subject, matter, organizer=ORGANIZERS.get(subject["id"]))
            results.append(result)
            decision = f"{DECISIONS[result.decision]} {result.decision}"
            first = True
            lines = [(m.measure_id, m.name, "；".join(f"{b.number or b.document}{b.article}" for b in m.legal_basis),
                      m.basis_status + ("" if m.binding else
                                        " → 人工复核 review" if m.kind == "punishment" else " → 因惩戒措施暂停 suspended"))
                     for m in result.measures] or [("", "—", "", "")]
            for mid, name, basis, status in lines:
                left = (f"{pad(subject['name'], 30)} {pad(MATTER_TYPES[matter], 24)} {pad(decision, 16)}" if first
                        else " " * 72)
                extra = f"  [{basis}; {status}]" if basis else ""
                print(f"{left} {mid} {name}{extra}")
                first = False
    opened = [r for r in results if r.case_id]
    print(f"\n{len(results)} checks, {sum(r.decision != 'clear' for r in results)} flagged, "
          f"{len(opened)} cases opened (发起/响应).")
    closed_loop(engine.store, opened[0])
    return 0


def closed_loop(store: js.RecordStore, result: js.CheckResult) -> None:
    """处置 and 反馈 for one case: the department records what it did, the feedback goes up."""
    assert result.case_id is not None
    book = case_book_for(store)
    book.dispose(result.case_id, "applied", text="已取消其本次政府采购投标资格",
                 department="郑州市财政局", department_code="410100000000-CZ")
    print(f"\n处置 Disposed case {result.case_id}: applied by 郑州市财政局")

    def show(payload: dict[str, Any]) -> None:
        print(f"反馈 Provincial platform received case {payload['case_id']} (feedback v{payload['schema_version']}): "
              f"{payload['subject']['name']}, {payload['matter']['matter_type']}, result {payload['result']}, "
              f"measures {', '.join(m['measure_id'] for m in payload['measures'])}")

    with PlatformSimulator(on_accept=show) as platform, HttpSink(platform.url) as sink:
        report = deliver(book, sink)
    case = book.get(result.case_id)
    print(f"闭环 Loop closed: {len(report.delivered)} delivered, case status {case.status} "
          f"({CASE_STATUSES[case.status]}); {book.pending_count()} feedback record(s) pending.")


if __name__ == "__main__":
    sys.exit(main())
