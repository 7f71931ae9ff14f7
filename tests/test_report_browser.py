"""The HTML batch report in a real headless browser (Debian's chromium); opt in: ``pytest -m browser``
or ``JOINT_SANCTIONS_TEST_BROWSER=1``."""

from __future__ import annotations

import struct
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from joint_sanctions import Engine
from joint_sanctions._batch import BatchSummary, run_batch

from .conftest import USCCS, record, run_chromium, write_csv

pytestmark = pytest.mark.browser


class _Summary(HTMLParser):
    """Collects the text of the data-* elements inside the element with id="summary"."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # >0 while inside #summary
        self.current: str | None = None
        self.values: dict[str, str] = {}
        self.decision = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if self.depth:
            self.depth += 1
            if "data-count" in names:
                self.current = f"count:{self.decision}"
            for key in ("data-total", "data-flagged", "data-rejected"):
                if key in names:
                    self.current = key
            if "data-decision" in names:
                self.decision = names["data-decision"]
        elif names.get("id") == "summary":
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
        self.current = None

    def handle_data(self, data: str) -> None:
        if self.current and data.strip():
            self.values[self.current] = data.strip()


@pytest.fixture
def report(make_engine: Callable[..., Engine], tmp_path: Path) -> tuple[Path, BatchSummary]:
    """An HTML report of 60 subjects: 3 prohibited, 2 for review (their measures' bases are unconfirmed),
    55 clear, 1 bad row."""
    # Each penalty decision bans procurement (政府采购法第77条 bars through the decision's own ban).
    records = [record(f"GP-{i}", USCCS[i], "procurement_violator", authority="郑州市财政局",
                      document_no=f"郑财采处〔2025〕{i}号", ban_matter_types=["government_procurement"])
               for i in range(3)]
    records += [record(f"TRD-{i}", USCCS[i], "trading_serious_violator") for i in (3, 4)]
    engine = make_engine(records, cases=False)
    rows = [(USCCS[i], f"郑州测试企业{i}号有限公司") for i in range(60)]
    source = write_csv(tmp_path / "suppliers.csv", rows + [("not-an-id", "坏行")])
    out = tmp_path / "report.html"
    summary = run_batch(engine, source, "government_procurement", out)
    return out, summary


def test_report_renders_with_summary_numbers(chromium: str, report: tuple[Path, BatchSummary],
                                            tmp_path: Path) -> None:
    """Chromium renders the report and its #summary shows the total and flagged counts as integers."""
    out, summary = report
    dom = run_chromium(chromium, tmp_path, "--dump-dom", out.as_uri()).stdout
    assert "联合奖惩批量核查报告" in dom
    parser = _Summary()
    parser.feed(dom)
    assert parser.values["data-total"] == "60" == str(summary.total)
    assert parser.values["data-flagged"] == "5" == str(summary.flagged)
    assert parser.values["data-rejected"] == "1"
    assert {k: v for k, v in parser.values.items() if k.startswith("count:")} == {
        "count:prohibited": "3", "count:restricted": "0", "count:review": "2", "count:clear": "55"}


def test_report_screenshot_is_a_full_page_png(chromium: str, report: tuple[Path, BatchSummary],
                                             tmp_path: Path) -> None:
    """Chromium takes a 1280×900 PNG screenshot of the report."""
    out, _ = report
    png = tmp_path / "report.png"
    run_chromium(chromium, tmp_path, f"--screenshot={png}", "--window-size=1280,900", out.as_uri())
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 900)
    assert len(data) > 20_000  # a blank page compresses to a few KB; the report has text and charts
