"""The monthly district report for people: a terminal table, an HTML page with charts (inline SVG, no
external asset, the style of :mod:`~joint_sanctions._html`), and an XLSX workbook.

Each renders the JSON object :func:`~joint_sanctions._gov_report.district_report` returns, so every
format shows the same numbers. The HTML element ``id="summary"`` carries the month, the number of
districts and of warnings as plain integers (``data-*`` attributes), and each district row its
``data-region`` and ``data-score``, for tests and for scripts that read the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from ._html import esc, head, table
from ._text import escape_controls

__all__ = ["render_html", "render_table", "write_xlsx"]

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("region_code", "行政区划代码"), ("name", "区县(市)"), ("score", "评分 score"),
    ("score_change", "环比 change"), ("dishonesty_bodies", "失信机构 bodies"), ("overdue", "逾期未整改 overdue"),
    ("clues", "线索 clues"), ("clues_transferred_late", "逾期转交 late"), ("owed", "欠款余额 owed"),
    ("cleared", "本月清偿 cleared"), ("clearance_stalled", "清欠停滞 stalled"), ("third_party_score", "第三方 3rd party"),
)
_TREND = {"up": "↑", "down": "↓", "flat": "→"}


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return escape_controls(str(value))


def _change(row: Mapping[str, Any]) -> str:
    change = row.get("score_change")
    if change is None:
        return "-"
    return f"{_TREND[row['trend']]} {change:+.1f}"


def render_table(report: Mapping[str, Any]) -> str:
    """The report as a plain-text table for a terminal, then its warnings, one line each."""
    rows = [[_change(r) if key == "score_change" else _shown(r.get(key)) for key, _ in _COLUMNS]
            for r in report["districts"]]
    headings = [title for _, title in _COLUMNS]
    widths = [max(_width(h), *(_width(r[i]) for r in rows)) for i, h in enumerate(headings)]
    lines = [(f"区县政务诚信月度监测 / District report {report['month']} "
              f"({report['deployment']['name']} {report['deployment']['region_code']}, as of {report['as_of']})"),
             "  ".join(_pad(h, w) for h, w in zip(headings, widths, strict=True))]
    lines += ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)) for r in rows]
    warnings = [(r["name"], w["message"]) for r in report["districts"] for w in r["warnings"]]
    lines.append(f"预警 warnings: {len(warnings)}")
    lines += [f"  {escape_controls(name)}: {escape_controls(message)}" for name, message in warnings]
    if not report["activity_tracked"]:
        lines.append("线索与清欠数据未记录 / clue and clearance figures are not tracked here (shown as -)")
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters take two columns


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


# --- HTML -------------------------------------------------------------------------------------------

_CSS = """
.score-bar { font-size:12.5px; }
.warn { color:#c0392b; }
.up { color:#2e8b57; } .down { color:#c0392b; } .flat { color:var(--muted); }
.wide { overflow-x:auto; } .wide th, .wide td { padding:6px 7px; white-space:nowrap; }
"""


def _score_colour(score: float) -> str:
    return "#2e8b57" if score >= 90 else "#d4a017" if score >= 70 else "#e67e22" if score >= 50 else "#c0392b"


def _score_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    """This month's score of each district (a bar) beside last month's (a thin mark)."""
    label_w, bar_w, row_h = 190, 420, 26
    parts = [(f'<svg role="img" aria-label="score per district" width="{label_w + bar_w + 80}" '
              f'height="{row_h * len(rows) + 8}" xmlns="http://www.w3.org/2000/svg" font-size="13">')]
    for i, r in enumerate(rows):
        y = i * row_h + 4
        width = round(bar_w * r["score"] / 100)
        parts.append(f'<text x="0" y="{y + 15}" fill="#1d2733">{esc(r["name"])}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="18" rx="3" fill="#eef2f7"/>'
                     f'<rect x="{label_w}" y="{y}" width="{width}" height="18" rx="3" '
                     f'fill="{_score_colour(r["score"])}"/>'
                     f'<text x="{label_w + bar_w + 8}" y="{y + 15}" font-weight="600">{_shown(r["score"])}</text>')
        if r["previous_score"] is not None:
            x = label_w + round(bar_w * r["previous_score"] / 100)
            parts.append(f'<rect x="{x - 1}" y="{y - 2}" width="3" height="22" fill="#1d2733">'
                         f'<title>{esc(r["name"])} previous {_shown(r["previous_score"])}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _dishonesty_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    """Bodies on the government-dishonesty list and overdue rectifications per district (only those with any)."""
    shown = [r for r in rows if r["dishonesty_bodies"] or r["overdue"]]
    if not shown:
        return '<p class="empty">本月无政务失信机构 / no government body on the list this month</p>'
    top = max(max(r["dishonesty_bodies"], r["overdue"]) for r in shown) or 1
    label_w, bar_w, row_h = 190, 300, 40
    parts = [(f'<svg role="img" aria-label="government dishonesty per district" width="{label_w + bar_w + 60}" '
              f'height="{row_h * len(shown) + 8}" xmlns="http://www.w3.org/2000/svg" font-size="13">')]
    for i, r in enumerate(shown):
        y = i * row_h + 4
        parts.append(f'<text x="0" y="{y + 20}" fill="#1d2733">{esc(r["name"])}</text>')
        for j, (key, colour) in enumerate((("dishonesty_bodies", "#1f4e79"), ("overdue", "#c0392b"))):
            width = max(round(bar_w * r[key] / top), 2) if r[key] else 0
            parts.append(f'<rect x="{label_w}" y="{y + j * 16}" width="{width}" height="14" rx="2" fill="{colour}"/>'
                         f'<text x="{label_w + width + 6}" y="{y + j * 16 + 12}" font-size="12">{r[key]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _district_rows(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        cells = []
        for key, _ in _COLUMNS:
            if key == "score_change":
                trend = r["trend"] or "flat"
                cells.append(f'<td class="num {trend}">{esc(_change(r))}</td>')
            elif key in ("region_code", "name"):
                cells.append(f"<td>{esc(_shown(r[key]))}</td>")
            else:
                cells.append(f'<td class="num">{esc(_shown(r.get(key)))}</td>')
        out.append(f'<tr data-region="{esc(r["region_code"])}" data-score="{esc(_shown(r["score"]))}">'
                   f'{"".join(cells)}</tr>')
    return out


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page with charts."""
    rows = report["districts"]
    warnings = [(r, w) for r in rows for w in r["warnings"]]
    title = f"区县政务诚信月度监测报告 {report['month']}"
    dims = report["dimensions"]
    dim_rows = [f"<tr><td>{esc(r['name'])}</td>"
                + "".join(f'<td class="num">{esc(_shown(r["third_party"].get(k)))}</td>' for k in dims) + "</tr>"
                for r in rows if r["third_party"]]
    warn_rows = [f'<tr><td>{esc(r["name"])}</td><td><span class="tag">{esc(w["code"])}</span></td>'
                 f'<td class="warn">{esc(w["message"])}</td></tr>' for r, w in warnings]
    weights = report["weights"]
    unit, factor = weights["unit"], weights["government_dishonesty_factor"]
    scoring = (f"评分 = 第三方六维度平均分（未导入时为100）− 扣分；政务失信加倍扣分（加大区域信用监测扣分权重）："
               f"每个失信机构 {unit * factor * weights['dishonesty_body']:g} 分，"
               f"每条逾期未整改 {unit * factor * weights['overdue_rectification']:g} 分，"
               f"每个清欠停滞机构 {unit * weights['clearance_stalled']:g} 分，"
               f"每条逾期转交线索 {unit * weights['transfer_late']:g} 分；结果限于 0–100。")
    cards = [("区县(市) districts", "districts", len(rows)), ("预警 warnings", "warnings", len(warnings)),
             ("失信机构 bodies on the list", "bodies", sum(r["dishonesty_bodies"] for r in rows)),
             ("逾期未整改 overdue", "overdue", sum(r["overdue"] for r in rows))]
    summary = "".join(f'<div class="card{" flag" if key == "warnings" else ""}"><dt>{esc(label)}</dt>'
                      f"<dd data-{key}>{value}</dd></div>" for label, key, value in cards)
    deployment = report["deployment"]
    no_warning = "本月无预警 / no warning this month"
    no_scores = "本月未导入第三方评分 / no scores imported"
    return "\n".join([
        head(title, _CSS),
        (f"<header><h1>{esc(title)} <span>District government-integrity report</span></h1>"
         f"<p>{esc(deployment['name'])} {esc(deployment['region_code'])} · 截至 as of {esc(report['as_of'])}"
         f" · 环比 {esc(report['previous_month'])}</p></header><main>"),
        (f'<section id="summary" data-month="{esc(report["month"])}"><h2>概况 <small>summary</small></h2>'
         f'<dl class="cards">{summary}</dl></section>'),
        ('<section><h2>评分 <small>score per district (bar: this month; mark: last month)</small></h2>'
         f'<div class="score-bar">{_score_chart(rows)}</div></section>'),
        ('<section><h2>政务失信 <small>bodies on the list (blue) and overdue rectifications (red)</small></h2>'
         f"{_dishonesty_chart(rows)}</section>"),
        ('<section id="districts" class="wide"><h2>各区县(市) <small>figures</small></h2>'
         f"{table([title for _, title in _COLUMNS], _district_rows(rows), '')}</section>"),
        ('<section id="warnings"><h2>预警 <small>early warnings</small></h2>'
         f"{table(['区县(市)', '类型 code', '说明 message'], warn_rows, no_warning)}</section>"),
        ('<section><h2>第三方评分 <small>third-party scores (六个维度)</small></h2>'
         f"{table(['区县(市)', *('#' + n for n in dims.values())], dim_rows, no_scores)}</section>"),
        f'<section><h2>评分方法 <small>scoring</small></h2><p class="caption">{esc(scoring)}</p></section>',
        "</main><footer>joint-sanctions · gov districts report</footer></body></html>",
    ])


# --- XLSX -------------------------------------------------------------------------------------------


def _cell_value(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a cell never starts a formula
    return value


def write_xlsx(report: Mapping[str, Any], target: str | IO[bytes]) -> None:
    """The report as a workbook (a path or an open binary file): districts, warnings, third-party scores."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)

    def sheet(title: str, headings: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        ws = book.create_sheet(title)
        cells = []
        for h in headings:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = bold
            cells.append(cell)
        ws.append(cells)
        for row in rows:
            ws.append([_cell_value(v) for v in row])

    districts = report["districts"]
    sheet("区县 districts", ["月份 month", *(title for _, title in _COLUMNS), "趋势 trend", "预警 warnings"],
          [[report["month"], *(r.get(key) for key, _ in _COLUMNS), r["trend"], len(r["warnings"])]
           for r in districts])
    sheet("预警 warnings", ["区县(市)", "行政区划代码", "类型 code", "说明 message"],
          [[r["name"], r["region_code"], w["code"], w["message"]] for r in districts for w in r["warnings"]])
    dims = report["dimensions"]
    sheet("第三方评分 scores", ["区县(市)", "行政区划代码", *dims.values()],
          [[r["name"], r["region_code"], *(r["third_party"].get(k) for k in dims)] for r in districts])
    book.save(target)
