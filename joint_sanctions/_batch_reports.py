"""The report writers of a batch (CSV, XLSX, HTML), fed row by row; chosen by the output extension."""

from __future__ import annotations

import contextlib
import csv
import html
import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

import openpyxl
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from . import _identifiers as identifiers
from ._batch_rows import (
    _DECISION_ORDER,
    _FORMULA_START,
    _XLSX_MAX_ROWS,
    REPORT_COLUMNS,
    BatchError,
    BatchRow,
    BatchSummary,
    _masked,
)
from ._check import Engine
from ._html import DECISION_COLOURS, badge, head, table
from ._models import CST
from ._text import escape_controls
from .vocabulary import DECISIONS, EFFECTS, MATTER_TYPES


@dataclass(frozen=True)
class _MeasureInfo:
    name: str
    effect: str
    mandatory: bool
    basis: str
    confirmed: bool


def _measure_info(engine: Engine) -> dict[str, _MeasureInfo]:
    info = {}
    for measure_id, compiled in engine.compiled.measures.items():
        m = compiled.measure
        basis = "；".join(f"《{b.document}》{b.number}{b.article}" for b in m.legal_basis)
        info[measure_id] = _MeasureInfo(m.name, m.effect, m.mandatory, basis, m.basis_status == "confirmed")
    return info


# --- report writers ---------------------------------------------------------------------------------


class _Writer(Protocol):
    def add(self, row: BatchRow) -> None: ...

    def finish(self, summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> None: ...

    def abort(self) -> None: ...


# What a report shows escaped is what the CLI escapes on a terminal (XLSX, XML 1.0, cannot hold most
# C0 controls at all; a cell is one line): one set, in _text.
_visible = escape_controls


def _plain(value: str) -> str:
    """Text that a spreadsheet shows as typed instead of running it as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _cell(value: str) -> str:
    """User-controlled text as a CSV or XLSX cell: controls escaped, never the start of a formula."""
    return _plain(_visible(value))


class _CsvWriter:
    """UTF-8 with BOM so that Excel opens it with the Chinese intact."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(REPORT_COLUMNS)

    def add(self, row: BatchRow) -> None:
        line, subject_id, name, decision, measure_ids, record_ids, non_binding = row.cells()
        # Ids and decisions are validated or fixed text; names and record ids are whatever was imported.
        self._csv.writerow((line, subject_id, _cell(name), decision, measure_ids, _cell(record_ids), non_binding))

    def finish(self, summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> None:
        self._file.flush()
        self._file.detach()  # the binary file is run_batch's to sync and close

    def abort(self) -> None:
        # Already detached, or the flush that detaching does fails: the error being handled is the one to report.
        with contextlib.suppress(ValueError, OSError):
            self._file.detach()


_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
_DECISION_FILLS = {"prohibited": "F8D7DA", "restricted": "FDE2C8", "review": "FFF3CD", "clear": "D1E7DD"}


class _XlsxWriter:
    """The results sheet (the CSV columns), then a summary sheet; streamed (openpyxl write-only)."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._book = openpyxl.Workbook(write_only=True)
        self._sheet: WriteOnlyWorksheet = self._book.create_sheet("核查结果 Results")
        for column, width in zip("ABCDEFG", (8, 22, 36, 12, 40, 40, 30), strict=True):
            self._sheet.column_dimensions[column].width = width
        self._sheet.freeze_panes = "A2"
        self._sheet.append(self._heading(self._sheet, REPORT_COLUMNS))
        self._rows = 1
        self._fills = {d: PatternFill("solid", fgColor=c) for d, c in _DECISION_FILLS.items()}

    def add(self, row: BatchRow) -> None:
        self._rows += 1
        if self._rows > _XLSX_MAX_ROWS:
            raise BatchError("too_many_rows", f"more than {_XLSX_MAX_ROWS - 1} subjects do not fit in one "
                                              "XLSX sheet; write a .csv report / 超出 XLSX 行数上限，请输出 .csv")
        line, subject_id, name, decision, measure_ids, record_ids, non_binding = row.cells()
        cells: list[object] = [line, subject_id, self._text(self._sheet, name), decision, measure_ids,
                               self._text(self._sheet, record_ids), non_binding]
        if row.decision != "clear" and row.duplicate_of is None:
            cells[3] = cell = WriteOnlyCell(self._sheet, value=decision)
            cell.fill = self._fills[decision]
        self._sheet.append(cells)

    @staticmethod
    def _text(sheet: WriteOnlyWorksheet, value: str) -> object:
        """User-controlled text as a string cell: controls escaped, a formula start behind an apostrophe
        (as in the CSV report; openpyxl would store text starting with ``=`` as a formula)."""
        return _cell(value)

    def _row(self, sheet: WriteOnlyWorksheet, values: Sequence[object]) -> list[object]:
        return [self._text(sheet, value) if isinstance(value, str) else value for value in values]

    def finish(self, summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> None:
        sheet = self._book.create_sheet("汇总 Summary")
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["B"].width = 60
        sheet.column_dimensions["C"].width = 14
        sheet.append(self._heading(sheet, ("项目 Item", "值 Value", "")))
        for label, value in _overview(summary):
            sheet.append(self._row(sheet, (label, value)))
        sheet.append([])
        sheet.append(self._heading(sheet, ("结论 Decision", "中文", "主体数 Subjects")))
        for decision in _DECISION_ORDER:
            sheet.append([decision, DECISIONS[decision], summary.counts.get(decision, 0)])
        sheet.append(["flagged (≠ clear)", "需关注", summary.flagged])
        if summary.measure_counts:
            sheet.append([])
            sheet.append(self._heading(sheet, ("措施 Measure", "名称 Name", "主体数 Subjects")))
            for mid, count in summary.measure_counts.items():
                sheet.append(self._row(sheet, (mid, measures[mid].name if mid in measures else "", count)))
        if summary.rejected:
            sheet.append([])
            sheet.append(self._heading(sheet, ("被拒绝的行 Rejected line", "原因 Reason", "")))
            for rejected in summary.rejected:
                sheet.append(self._row(sheet, (rejected.line, rejected.reason)))
        if summary.duplicates:
            sheet.append([])
            sheet.append(self._heading(sheet, ("重复的行 Duplicate line", "与此行相同 Same subject as line", "")))
            for duplicate in summary.duplicates:
                sheet.append([duplicate.line, duplicate.first_line])
        self._book.save(self._file)

    @staticmethod
    def _heading(sheet: WriteOnlyWorksheet, names: Sequence[str]) -> list[Cell]:
        cells = []
        for name in names:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
            cell.alignment = Alignment(vertical="center")
            cells.append(cell)
        return cells

    def abort(self) -> None:
        # Finish the sheet's XML stream now: left to the garbage collector it raises inside openpyxl.
        # Best effort only: the error that made the batch fail is the one to report.
        with contextlib.suppress(Exception):
            self._sheet.close()


def _overview(summary: BatchSummary) -> list[tuple[str, object]]:
    when = "—"
    if summary.checked_at:  # shown in China Standard Time, where the check date was taken
        when = summary.checked_at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S (UTC+8)")
    return [
        ("事项类型 Matter type", f"{MATTER_TYPES[summary.matter_type]} ({summary.matter_type})"),
        ("名单文件 Source", _source_name(summary)),
        ("核查时间 Checked at", when),
        ("措施清单版本 Revision", summary.revision),
        ("数据截至 Data as of", _data_as_of(summary)),
        ("核查主体数 Subjects checked", summary.total),
        ("需关注 Flagged (decision ≠ clear)", summary.flagged),
        ("被拒绝的行 Rejected rows", len(summary.rejected)),
        ("重复的行 Duplicate rows (checked once)", len(summary.duplicates)),
        # Cases are opened once the report is in place, so it can only say how many are to be.
        ("待发起案例 Cases to open after this report (--open-cases)",
         "— (not asked / 未要求)" if summary.cases_to_open is None else summary.cases_to_open),
    ]


def _source_name(summary: BatchSummary) -> str:
    """The input file's name as reports show it: resident ids masked (escaping is the writer's)."""
    return identifiers.mask_text(os.path.basename(summary.source))


def _data_as_of(summary: BatchSummary) -> str:
    """Each list type and when it was last written, in China Standard Time like the check time."""
    return "; ".join(f"{list_type} {when.astimezone(CST).strftime('%Y-%m-%d %H:%M:%S')}"
                     for list_type, when in sorted(summary.data_as_of.items())) or "—"




class _HtmlWriter:
    """A self-contained page: summary, charts (inline SVG), measures, flagged subjects, rejected rows.

    Only flagged rows are kept (and listed): clear subjects are counted, and all of them are in the
    CSV/XLSX reports.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._flagged: list[BatchRow] = []

    def add(self, row: BatchRow) -> None:
        if row.decision != "clear" and row.duplicate_of is None:
            self._flagged.append(row)

    def finish(self, summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> None:
        self._file.write(_render_html(summary, self._flagged, measures).encode("utf-8"))

    def abort(self) -> None:
        self._flagged.clear()


_WRITERS: dict[str, Callable[[IO[bytes]], _Writer]] = {".csv": _CsvWriter, ".xlsx": _XlsxWriter,
                                                  ".html": _HtmlWriter}



def _esc(value: object) -> str:
    return html.escape(_visible(str(value)), quote=True)


def _bar_chart(summary: BatchSummary) -> str:
    """Flagged subjects per decision, scaled to the largest flagged count (clear would dwarf them)."""
    flagged = [d for d in _DECISION_ORDER if d != "clear"]
    top = max(summary.counts.get(d, 0) for d in flagged) or 1
    label_w, bar_w, row_h = 150, 330, 34
    parts = [(f'<svg role="img" aria-label="flagged subjects per decision" width="{label_w + bar_w + 70}" '
              f'height="{row_h * len(flagged) + 6}" xmlns="http://www.w3.org/2000/svg" font-size="13">')]
    for i, decision in enumerate(flagged):
        count = summary.counts.get(decision, 0)
        width = max(round(bar_w * count / top), 2) if count else 0  # a non-zero count stays visible
        y = i * row_h + 4
        parts.append(f'<text x="0" y="{y + 18}" fill="#1d2733">{_esc(DECISIONS[decision])} {decision}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="24" rx="4" fill="#eef2f7"/>'
                     f'<rect x="{label_w}" y="{y}" width="{width}" height="24" rx="4" '
                     f'fill="{DECISION_COLOURS[decision]}"/>'
                     f'<text x="{label_w + bar_w + 8}" y="{y + 18}" font-weight="600">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _share_bar(summary: BatchSummary) -> str:
    """One 100 % bar: the share of each decision among all subjects checked."""
    total = summary.total or 1
    width, x = 480, 0.0
    parts = [(f'<svg role="img" aria-label="share of each decision" width="100%" height="26" '
              f'viewBox="0 0 {width} 26" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'),
             f'<rect x="0" y="0" width="{width}" height="26" rx="5" fill="#eef2f7"/>']
    for decision in _DECISION_ORDER:
        part = width * summary.counts.get(decision, 0) / total
        if part:
            parts.append(f'<rect x="{x:.2f}" y="0" width="{max(part, 1.5):.2f}" height="26" '
                         f'fill="{DECISION_COLOURS[decision]}"/>')
            x += part
    parts.append("</svg>")
    return "".join(parts)


def _decision_rows(summary: BatchSummary) -> list[str]:
    total = summary.total or 1
    rows = []
    for decision in _DECISION_ORDER:
        count = summary.counts.get(decision, 0)
        rows.append(f'<tr data-decision="{decision}"><td><span class="swatch" '
                    f'style="background:{DECISION_COLOURS[decision]}"></span>{_esc(DECISIONS[decision])} '
                    f'<span class="mid">{decision}</span></td><td class="num" data-count>{count}</td>'
                    f'<td class="num">{100 * count / total:.1f}%</td></tr>')
    return rows


#: Why a measure did not bind (the legality guard, docs/check-result.md), as the CLI says it.
_UNCONFIRMED = "依据待核实 → 人工复核 basis unconfirmed → review by a person"
_SUSPENDED = "因惩戒措施暂停 suspended by a punishment"


def _not_binding_tag(info: _MeasureInfo | None) -> str:
    return f' <span class="tag">{_esc(_SUSPENDED if info and info.effect == "incentive" else _UNCONFIRMED)}</span>'


def _measure_rows(summary: BatchSummary, measures: Mapping[str, _MeasureInfo]) -> list[str]:
    rows = []
    for measure_id, count in summary.measure_counts.items():
        info = measures.get(measure_id)
        name = info.name if info else ""
        effect = EFFECTS[info.effect] + ("（强制）" if info.mandatory else "") if info else ""
        basis = _esc(info.basis if info else "")
        if info and info.effect == "incentive":
            # An incentive's binding depends on the subject (suspended by a punishment), not on its basis.
            basis += "" if info.confirmed else ' <span class="tag">待核实 unconfirmed</span>'
        elif not (info and info.confirmed):
            basis += f' <span class="tag">{_esc(_UNCONFIRMED)}</span>'
        rows.append(f'<tr><td class="mid">{_esc(measure_id)}</td><td>{_esc(name)}</td><td>{_esc(effect)}</td>'
                    f'<td>{basis}</td><td class="num">{count}</td></tr>')
    return rows


def _flagged_rows(flagged: Sequence[BatchRow], measures: Mapping[str, _MeasureInfo]) -> list[str]:
    rows = []
    for row in flagged:
        applied = "<br>".join(f'<span class="mid">{_esc(m)}</span>'
                              + (f" {_esc(measures[m].name)}" if m in measures else "")
                              + (_not_binding_tag(measures.get(m)) if m in row.non_binding_measure_ids else "")
                              for m in row.measure_ids)
        rows.append(f'<tr data-decision="{row.decision}"><td class="num">{row.line}</td>'
                    f'<td class="ids">{_esc(row.subject_id)}</td><td>{_esc(row.subject_name)}</td>'
                    f"<td>{badge(row.decision)}</td><td>{applied}</td>"
                    f'<td class="ids">{_esc(_masked("; ".join(row.record_ids)))}</td></tr>')
    return rows


def _render_html(summary: BatchSummary, flagged: Sequence[BatchRow],
                 measures: Mapping[str, _MeasureInfo]) -> str:
    overview = _overview(summary)
    matter = f"{MATTER_TYPES[summary.matter_type]}（{summary.matter_type}）"
    meta = "".join(f"<dt>{_esc(label)}</dt><dd>{_esc(value)}</dd>"
                   for label, value in (*overview[:4], overview[-1]))
    decisions = table(("结论 Decision", "#主体数 Subjects", "#占比 Share"), _decision_rows(summary), "")
    applied = table(("编号 ID", "措施 Measure", "效力 Effect", "依据 Legal basis", "#主体数 Subjects"),
                     _measure_rows(summary, measures), "无适用措施 / no measure applied")
    listed = table(("#行 Line", "证件号码 ID", "名称 Name", "结论 Decision", "措施 Measures", "记录 Records"),
                    _flagged_rows(flagged, measures), "无需关注的主体 / no subject flagged")
    rejected = ""
    if summary.rejected:
        rows = [f'<tr><td class="num">{r.line}</td><td>{_esc(r.reason)}</td></tr>' for r in summary.rejected]
        rejected = (f'<section id="rejected"><h2>被拒绝的行<small>Rejected rows — not checked; fix them and '
                    f'run again</small></h2>{table(("#行 Line", "原因 Reason"), rows, "")}</section>')
    if summary.duplicates:
        rows = [f'<tr><td class="num">{d.line}</td><td class="num">{d.first_line}</td></tr>'
                for d in summary.duplicates]
        rejected += (f'<section id="duplicates"><h2>重复的行<small>Duplicate rows — the same subject as an '
                     f'earlier line, checked once</small></h2>'
                     f'{table(("#行 Line", "#与此行相同 Same subject as line"), rows, "")}</section>')
    return f"""{head(f"联合奖惩批量核查报告 Batch credit check report — {matter}")}
<header>
<h1>联合奖惩批量核查报告 <span>Batch credit check report</span></h1>
<p>{_esc(matter)} · {_esc(_source_name(summary))} · {_esc(overview[2][1])}</p>
</header>
<main>
<section id="summary">
<h2>汇总<small>Summary</small></h2>
<dl class="cards">
<div class="card"><dt>核查主体数 Subjects checked</dt><dd data-total>{summary.total}</dd></div>
<div class="card flag"><dt>需关注 Flagged (decision ≠ clear)</dt><dd data-flagged>{summary.flagged}</dd></div>
<div class="card rej"><dt>被拒绝的行 Rejected rows</dt><dd data-rejected>{len(summary.rejected)}</dd></div>
<div class="card"><dt>重复的行 Duplicate rows</dt><dd data-duplicates>{len(summary.duplicates)}</dd></div>
</dl>
<p class="caption" id="data-as-of">数据截至 Data as of (UTC+8): {_esc(_data_as_of(summary))}</p>
<div class="grid">
<div>{decisions}</div>
<div>
<p class="caption">各结论占比 Share of all subjects</p>
{_share_bar(summary)}
<p class="caption" style="margin-top:14px">需关注主体按结论 Flagged subjects by decision</p>
{_bar_chart(summary)}
</div>
</div>
</section>
<section id="details">
<h2>核查信息<small>About this batch</small></h2>
<dl class="meta">{meta}</dl>
</section>
<section id="measures">
<h2>适用措施<small>Measures applied</small></h2>
{applied}
</section>
<section id="flagged">
<h2>需关注主体<small>Flagged subjects ({summary.flagged}); clear subjects are in the CSV/XLSX report</small></h2>
{listed}
</section>
{rejected}
</main>
<footer>居民身份证号码已脱敏 Resident ids are masked · 依据待核实的措施请办理部门核对后适用
Measures whose basis is unconfirmed need review before they are applied · joint-sanctions</footer>
</body>
</html>
"""
