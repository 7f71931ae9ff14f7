"""Batch verification (docs/cli.md ``batch``): a list of subjects in, a report out.

::

    open_batch(FILE)      header checked at once; rows read lazily, each a BatchEntry or a RejectedRow
      → run_batch(...)    good rows checked with Engine.check_many, in chunks; bad rows kept with their line;
                          a subject met again (ids compared normalised) is not checked again: its row
                          says which line it duplicates
      → report writer     chosen by the output extension (.csv, .xlsx, .html), fed row by row

This module runs a batch; its stages live beside it: :mod:`~joint_sanctions._batch_input` reads the
list, :mod:`~joint_sanctions._batch_reports` writes the reports, and :mod:`~joint_sanctions._batch_rows`
holds the rows and summary they pass along (and that this module re-exports).

Rows stream from the input file through the engine into the writer, so a million subjects need
little memory (the HTML report keeps only the flagged rows, which it lists; finding duplicates keeps
each distinct id and its line, about 130 MB per million subjects; ``open_cases`` keeps the results
of the subjects with measures).

A batch is atomic with its report (docs/failing-closed.md "Hostile input"):

- the report path is checked before anything else (:func:`check_report_path`): a known extension,
  not a folder, in a folder that exists (a batch creates none) and is writable, and never the input
  file itself (the same file by any path, symlink or hard link);
- the report is written to a temporary file that ``tempfile.mkstemp`` creates in the target folder
  (an unpredictable name, ``O_EXCL``: a planted file or symlink is never opened), flushed to disk and
  renamed over the target only when complete. A symlink at the target is replaced by the report, never
  written through. The report is readable by its owner only (mode 0600), as it names subjects;
- the checks open no case: with ``open_cases`` the cases are opened once the report is in place, all
  in one transaction (:meth:`CaseBook.open_cases`). If the database refuses one, none is opened, the
  report stays and :class:`BatchError` ``cases_not_opened`` says so; a rerun opens each matter's case
  once (a responded case of the same matter is found, not duplicated). So the report cannot carry
  case ids: it says how many cases are to be opened (``joint-sanctions cases list --subject ID``).

Every text cell of every report shows control characters (C0, DEL, C1, line and paragraph separators,
bidirectional overrides) as ``\\x1b``-style escapes, which XLSX could not hold and a terminal or browser
would act on; a CSV or XLSX cell that would start a formula (``= + - @``, tab, CR) gets a leading
apostrophe; resident ids are masked, the input file's name included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._batch_input import BatchSource, open_batch
from ._batch_reports import _WRITERS, _measure_info, _Writer
from ._batch_rows import (
    _CHUNK,
    _DECISION_ORDER,
    INPUT_COLUMNS,
    REPORT_COLUMNS,
    REPORT_FORMATS,
    BatchEntry,
    BatchError,
    BatchRow,
    BatchSummary,
    DuplicateRow,
    RejectedRow,
)
from ._case_model import CaseOpener
from ._cases import CaseBook
from ._check import CaseRecorder, Engine, MatterLike, coerce_matter
from ._models import CheckResult, Subject

__all__ = [
    "INPUT_COLUMNS",
    "REPORT_COLUMNS",
    "REPORT_FORMATS",
    "BatchEntry",
    "BatchError",
    "BatchRow",
    "BatchSource",
    "BatchSummary",
    "DuplicateRow",
    "RejectedRow",
    "check_report_path",
    "open_batch",
    "report_format",
    "run_batch",
]


# --- checking ---------------------------------------------------------------------------------------


def report_format(path: str | os.PathLike[str]) -> str:
    """The report format named by ``path``'s extension (``.csv``, ``.html`` or ``.xlsx``).

    Raises:
        BatchError: any other extension (code ``unsupported_report``).
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in REPORT_FORMATS:
        raise BatchError("unsupported_report",
                         f"{os.fspath(path)}: unsupported report type {ext or '(none)'!r}; use "
                         f"{', '.join(REPORT_FORMATS)} / 报告文件须为 .csv、.xlsx 或 .html")
    return ext


def check_report_path(out: str | os.PathLike[str],
                      source: str | os.PathLike[str] | None = None) -> Path:
    """Check that a batch can write its report to ``out``, before any row is read or checked.

    ``out`` must have a report extension (:data:`REPORT_FORMATS`), not be a folder, and lie in a
    folder that exists (a batch creates none) and that this process may write to. With ``source``,
    ``out`` must not be that file by any path: the same path spelt otherwise, a symlink to it or a hard
    link of it (the report would replace the list it comes from).

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        BatchError: ``unsupported_report``, ``bad_report_path`` or ``report_is_input``, one line.
    """
    report_format(out)
    target = Path(out)
    folder = target.parent
    if target.is_dir():
        raise BatchError("bad_report_path", f"{target}: is a folder; give a report file name ending in "
                                            f"{', '.join(REPORT_FORMATS)} / 报告路径是文件夹，请给出报告文件名")
    if not folder.is_dir():
        raise BatchError("bad_report_path", f"{target}: the folder {folder} does not exist (a batch creates "
                                            "no folder) / 报告所在文件夹不存在")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BatchError("bad_report_path", f"{target}: cannot write to the folder {folder} "
                                            "/ 无权写入报告所在文件夹")
    if source is not None and _same_file(target, Path(source)):
        raise BatchError("report_is_input", f"{target}: the report would replace the input file "
                                            f"{os.fspath(source)}; choose another report path "
                                            "/ 报告路径即名单文件本身，请另选报告路径")
    return target


def _same_file(target: Path, source: Path) -> bool:
    """Whether ``target`` names ``source`` (the same inode, or the same resolved path)."""
    try:
        if target.exists() and source.exists() and os.path.samefile(target, source):
            return True
        return target.resolve() == source.resolve()
    except (OSError, RuntimeError):  # a symlink loop or an unreadable path: not the input, as far as seen
        return False


def run_batch(engine: Engine, source: BatchSource | str | os.PathLike[str], matter: MatterLike,
              out: str | os.PathLike[str], *, open_cases: bool = False,
              progress: Callable[[int], object] | None = None, **matter_fields: Any) -> BatchSummary:
    """Check every good row of ``source`` for ``matter`` and write the report ``out``.

    Each subject is checked once: a row naming a subject that an earlier row names (ids compared
    normalised, so a lower-case USCC or a resident id ending in ``x`` is the same subject) is reported
    as a duplicate of that row. The report path is checked first (:func:`check_report_path`); the
    report appears complete or not at all. With ``open_cases``, the cases are opened only once the
    report is in place, in one transaction when the engine opens its cases in a :class:`CaseBook` (the
    default): all or none. A subject whose matter already has a responded case gets that case again
    (counted in ``cases_existing``), so a re-run batch opens nothing new.

    Args:
        engine: answers the checks (its clock, store and measure lists) and opens the cases (in the
            case recorder it was built with; an engine built with ``cases=False`` opens none).
        source: an opened :class:`BatchSource` (left open) or a path (opened and closed here).
        matter: a matter-type id, a :class:`~joint_sanctions._models.Matter` or a mapping.
        out: the report; its extension chooses the format (see :data:`REPORT_FORMATS`).
        open_cases: open a case for each subject with measures (docs/case-feedback-v1.md: batches open none
            unless asked).
        progress: called with the number of input rows handled so far, now and then and at the end.
        **matter_fields: what the host knows of the matter (see :meth:`Engine.check`).

    Returns:
        The counts, rejected rows and where the report went.

    Raises:
        BatchError: a report path refused (nothing read), an unreadable input, bad header, empty batch,
            more rows than an XLSX sheet holds or a report that could not be written (no report is
            written then, and no case opened); ``cases_not_opened`` when the report was written but the
            database refused the cases (none was opened).
        CheckError: unknown matter type.
    """
    target = check_report_path(out, source.path if isinstance(source, BatchSource) else source)
    fmt = report_format(out)
    mat = coerce_matter(matter, matter_fields)  # a bad matter is the batch's fault, not each row's
    if not isinstance(source, BatchSource):
        with open_batch(source) as opened:
            return run_batch(engine, opened, mat, out, open_cases=open_cases, progress=progress)
    started = time.perf_counter()
    # The checks open no case: cases are opened from these results once the report is in place.
    recorder: CaseRecorder | None = engine._cases if open_cases else None  # the engine's own
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _unwritable(target, exc) from exc
    file = os.fdopen(fd, "wb")
    writer: _Writer | None = None
    rejected: list[RejectedRow] = []
    pending: list[BatchEntry] = []
    # The rows since the last chunk in file order: entries to check and duplicates' finished rows.
    queued: list[BatchEntry | BatchRow] = []
    first_lines: dict[str, int] = {}
    duplicates: list[DuplicateRow] = []
    seen = 0
    try:
        try:
            writer = _WRITERS[fmt](file)
        except OSError as exc:
            raise _unwritable(target, exc) from exc
        tally = _Tally(writer, target, keep_cases=recorder is not None)
        for item in source:
            seen += 1
            if isinstance(item, RejectedRow):
                rejected.append(item)
                continue
            first = first_lines.setdefault(item.subject.id, item.line)
            if first != item.line:
                duplicates.append(DuplicateRow(item.line, first))
                queued.append(BatchRow.duplicate(item, first))
                continue
            pending.append(item)
            queued.append(item)
            if len(pending) == _CHUNK:
                tally.add(queued, engine.check_many([e.subject for e in pending], mat, open_case=False))
                pending.clear()
                queued.clear()
                if progress is not None:
                    progress(seen)
        if queued:
            tally.add(queued, engine.check_many([e.subject for e in pending], mat, open_case=False)
                      if pending else [])
        if seen == 0:
            raise BatchError("empty_batch", f"{source.path}: the batch is empty (a header and no rows) "
                                            "/ 名单为空：只有表头，没有数据行")
        if progress is not None:
            progress(seen)
        summary = BatchSummary(
            source=source.path, report=str(target), matter_type=mat.matter_type, revision=engine.revision,
            checked_at=tally.first_check, counts=dict(tally.counts),
            measure_counts=dict(tally.measures.most_common()), rejected=tuple(rejected),
            cases_opened=0, seconds=time.perf_counter() - started,
            duplicates=tuple(duplicates), cases_existing=0,
            data_as_of=tally.data_as_of if tally.first_check else engine.data_as_of,
            cases_to_open=len(tally.to_open) if recorder is not None else None)
        try:
            writer.finish(summary, _measure_info(engine))
            file.flush()
            os.fsync(file.fileno())  # the rename below must not publish a report still in the page cache
            file.close()
            os.replace(temporary, target)
        except OSError as exc:
            raise _unwritable(target, exc) from exc
    except BaseException:
        if writer is not None:
            writer.abort()
        with contextlib.suppress(OSError):  # a full disk fails the flush of close too; that error is known
            file.close()
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if recorder is not None and tally.to_open:
        new, existing = _open_cases(recorder, tally.to_open, summary)
        summary = dataclasses.replace(summary, cases_opened=new, cases_existing=existing,
                                      seconds=time.perf_counter() - started)
    return summary


def _unwritable(target: Path, exc: OSError) -> BatchError:
    return BatchError("unwritable", f"{target}: cannot write the report: {exc.strerror or exc}; nothing was "
                                    "written and no case opened / 无法写入报告，未发起任何案例")


def _open_cases(recorder: CaseRecorder, checked: Sequence[tuple[CheckResult, Subject]],
                summary: BatchSummary) -> tuple[int, int]:
    """Open the batch's cases: ``(opened now, found already open)``.

    Raises:
        BatchError: ``cases_not_opened``, with ``summary`` attached, when the recorder refused them.
    """
    done = 0
    try:
        if isinstance(recorder, CaseBook | CaseOpener):  # the engine's default recorder, or a book
            flags = [opened for _, opened in recorder.open_cases(checked)]
            return sum(flags), len(flags) - sum(flags)
        # A recorder of the host's own has no batch insert: one call per case, so not all-or-nothing.
        for result, subject in checked:
            recorder.open_case(result, subject)
            done += 1
        return done, 0
    except Exception as exc:  # whatever refused them, the report stands and this is said
        what = "no case was opened" if done == 0 else f"only {done} of {len(checked)} case(s) were opened"
        error = BatchError("cases_not_opened",
                           f"{summary.report}: the report was written, but {what}: {' '.join(str(exc).split())}"
                           f" / 报告已写出，但案例未能发起（{'未发起任何案例' if done == 0 else f'仅发起 {done} 个'}）")
        error.summary = summary
        raise error from exc


class _Tally:
    """Counts what the checks answered and hands each row to the report writer.

    Args:
        writer: the report writer.
        target: the report, to name in an error.
        keep_cases: keep the result and subject of each subject with measures, to open its case once
            the report is written (only those: a clear result is counted and let go).
    """

    def __init__(self, writer: _Writer, target: Path, keep_cases: bool = False) -> None:
        self.writer = writer
        self.target = target
        self.keep_cases = keep_cases
        self.counts: Counter[str] = Counter({decision: 0 for decision in _DECISION_ORDER})
        self.measures: Counter[str] = Counter()
        self.to_open: list[tuple[CheckResult, Subject]] = []
        self.first_check: dt.datetime | None = None
        self.data_as_of: Mapping[str, dt.datetime] = {}

    def add(self, queued: Sequence[BatchEntry | BatchRow], results: Sequence[CheckResult]) -> None:
        """Write ``queued`` in order: entries with their results (in the same order), duplicates as they are."""
        try:
            self._add(queued, results)
        except OSError as exc:  # only the writer does I/O here: the checks were answered before
            raise _unwritable(self.target, exc) from exc

    def _add(self, queued: Sequence[BatchEntry | BatchRow], results: Sequence[CheckResult]) -> None:
        answers = iter(results)
        for item in queued:
            if isinstance(item, BatchRow):
                self.writer.add(item)
                continue
            result = next(answers)
            row = BatchRow.from_result(item.line, result)
            if self.first_check is None:
                self.first_check, self.data_as_of = result.checked_at, result.data_as_of
            self.counts[row.decision] += 1
            self.measures.update(row.measure_ids)
            if self.keep_cases and result.measures:
                self.to_open.append((result, item.subject))
            self.writer.add(row)
        if next(answers, None) is not None:
            raise RuntimeError("more results than rows to check")  # a bug of run_batch, never input
