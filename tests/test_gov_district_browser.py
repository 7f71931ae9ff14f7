"""The HTML district report in a real headless browser (Debian's chromium); opt in: ``pytest -m browser``
or ``JOINT_SANCTIONS_TEST_BROWSER=1``."""

from __future__ import annotations

import datetime as dt
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest

from joint_sanctions._gov_district_data import load_districts
from joint_sanctions._gov_report import district_report
from joint_sanctions._gov_report_render import render_html
from joint_sanctions.testing import MemoryStore

from .conftest import record, run_chromium

pytestmark = pytest.mark.browser


class _Page(HTMLParser):
    """The summary's data-* numbers, each district row's data-score, and the SVG shapes drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.summary: dict[str, str] = {}
        self.scores: dict[str, str] = {}
        self.rects = 0
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self._current = next((k for k in ("data-districts", "data-warnings", "data-bodies", "data-overdue")
                              if k in names), None)
        if tag == "tr" and "data-region" in names:
            self.scores[str(names["data-region"])] = str(names["data-score"])
        self.rects += tag == "rect"

    def handle_data(self, data: str) -> None:
        if self._current and data.strip():
            self.summary[self._current] = data.strip()
            self._current = None


@pytest.fixture
def page(tmp_path: Path) -> Path:
    """June 2025: two bodies of 新郑市 on the list, one overdue since June 1; the rest of the districts clean."""
    store = MemoryStore()
    store.upsert([
        record("G1", "11410184MB0000001X", "government_dishonesty", region_code="410184",
               rectify_by=dt.date(2025, 5, 31), listed_on=dt.date(2025, 1, 10)),
        record("G2", "11410184MB00000021", "government_dishonesty", region_code="410184",
               listed_on=dt.date(2025, 6, 15)),
    ])
    report = district_report(store, load_districts(), "2025-06", today=dt.date(2025, 7, 1))
    out = tmp_path / "districts.html"
    out.write_text(render_html(report), encoding="utf-8")
    return out


def test_district_report_renders_its_numbers_and_charts(chromium: str, page: Path, tmp_path: Path) -> None:
    """Chromium renders the page: the summary shows 14 districts, 2 warnings, 2 bodies, 1 overdue; 新郑市's
    row carries its score 70; the charts are drawn (a bar per district and the dishonesty bars)."""
    dom = run_chromium(chromium, tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "区县政务诚信月度监测报告 2025-06" in dom
    parsed = _Page()
    parsed.feed(dom)
    assert parsed.summary == {"data-districts": "14", "data-warnings": "2", "data-bodies": "2", "data-overdue": "1"}
    assert parsed.scores["410184"] == "70" and parsed.scores["410106"] == "100"
    assert parsed.rects >= 2 * 14 + 2


def test_district_report_screenshot(chromium: str, page: Path, tmp_path: Path) -> None:
    """Chromium takes a 1280×900 PNG screenshot of the page, with text and charts on it."""
    png = tmp_path / "districts.png"
    run_chromium(chromium, tmp_path, f"--screenshot={png}", "--window-size=1280,900", page.as_uri())
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 900)
    assert len(data) > 20_000
