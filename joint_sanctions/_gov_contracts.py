"""Contract performance of government bodies (合同履约, docs/government-integrity.md): ``gov contracts import``.

A CSV (UTF-8 with a header) or XLSX file (first sheet, header in row 1) holds one event per row:
:data:`COLUMNS`, in any order, or their Chinese headers (:data:`CHINESE_COLUMNS`); ``contract_no``,
``body_id``, ``event`` and ``event_on`` are required. An event is ``signed``, ``performed`` or
``defaulted`` (签约, 履约, 违约). The contract's own fields (body, counterparty, signing and due dates)
may repeat on every row; a blank cell keeps what is stored. ``amount`` is the contract's value on a
``signed`` row, and the amount concerned (e.g. left unpaid) on the other events.

A bad row is reported with its line and reason and the good rows still load. An event is known by
(contract, event, day): importing the same file again changes nothing. A ``defaulted`` event seen for
the first time opens a complaint clue about the body (channel ``other``, source ``contract:NO``, received
on the day of the default, the event's amount or else the contract's), which then follows the clue
steps of :mod:`joint_sanctions._gov_clues`. Reading is bounded as for record imports
(:mod:`joint_sanctions._tabular`).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _tabular
from ._errors import ImportRowError
from ._gov_base import Clock, GovError, checked_day, fen, government_body, read_day, time_param, utc_now, yuan
from ._gov_clues import CREDIT_OFFICE, insert_clue
from ._identifiers import mask_text
from ._logging import get_logger
from ._tabular import cell_text as _text
from .stores import RecordStore
from .stores._gov_tables import gov_store

__all__ = ["CHINESE_COLUMNS", "COLUMNS", "EVENTS", "Contract", "ContractImport", "contract", "import_contracts"]

_log = get_logger()

#: The columns of a contract file.
COLUMNS = ("contract_no", "body_id", "body_name", "region_code", "counterparty", "signed_on", "due_on", "event",
           "event_on", "amount", "text")
_REQUIRED = ("contract_no", "body_id", "event", "event_on")
#: Chinese headers, each standing for its column.
CHINESE_COLUMNS = {"合同编号": "contract_no", "机构统一社会信用代码": "body_id", "机构名称": "body_name",
                   "行政区划代码": "region_code", "相对方": "counterparty", "签订日期": "signed_on",
                   "履行期限": "due_on", "事件": "event", "事件日期": "event_on", "金额": "amount", "说明": "text"}
#: Contract events with their Chinese names (either may be written in a file).
EVENTS = {"signed": "签约", "performed": "履约", "defaulted": "违约"}
_EVENT_BY_NAME = {**{key: key for key in EVENTS}, **{name: key for key, name in EVENTS.items()}}
_DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")
_TEXT_MAX = 2000


@dataclass(frozen=True)
class _Row:
    line: int
    contract_no: str
    body_id: str
    body_name: str
    region_code: str
    counterparty: str
    signed_on: dt.date | None
    due_on: dt.date | None
    event: str
    event_on: dt.date
    amount_fen: int | None
    text: str


@dataclass
class ContractImport:
    """What :func:`import_contracts` did.

    Attributes:
        events_added: events stored now (a re-imported event is not counted).
        contracts_added: contracts seen for the first time; ``contracts_updated``: stored ones changed.
        clues_opened: ids of the clues opened for new defaults.
        errors: the bad rows, in file order.
    """

    path: str
    rows: int = 0
    events_added: int = 0
    contracts_added: int = 0
    contracts_updated: int = 0
    clues_opened: list[str] = field(default_factory=list)
    errors: list[ImportRowError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "events_added": self.events_added,
                "contracts_added": self.contracts_added, "contracts_updated": self.contracts_updated,
                "clues_opened": self.clues_opened,
                "errors": [{"line": e.line, "reason": e.reason} for e in self.errors]}


@dataclass(frozen=True)
class Contract:
    """A contract of a government body with its events (amounts in yuan)."""

    contract_no: str
    body_id: str
    region_code: str
    counterparty: str
    signed_on: dt.date | None
    due_on: dt.date | None
    amount: float | None
    events: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {"contract_no": self.contract_no, "body_id": self.body_id, "region_code": self.region_code,
                "counterparty": mask_text(self.counterparty),
                "signed_on": self.signed_on.isoformat() if self.signed_on else None,
                "due_on": self.due_on.isoformat() if self.due_on else None, "amount": self.amount,
                "status": _status(self.events), "events": list(self.events)}


def _status(events: Sequence[dict[str, Any]]) -> str:
    """The latest event's kind (``defaulted`` before ``performed`` on the same day)."""
    if not events:
        return "unknown"
    order = {"signed": 0, "performed": 1, "defaulted": 2}
    latest: str = max(events, key=lambda e: (e["event_on"], order[e["event"]]))["event"]
    return latest


# --- reading ------------------------------------------------------------------------------------------


def _rows(path: str, max_input_mb: int) -> Iterator[tuple[int, list[str], Sequence[object]]]:
    """(line, column names, cells) of every data row; refuses a whole file with GovError."""
    return _tabular.table_rows(path, max_input_mb, lambda cells: _header(path, cells), GovError,
                               "a contract file is .csv or .xlsx / 合同文件须为 CSV 或 XLSX")


def _header(path: str, cells: Sequence[object] | None) -> list[str]:
    if cells is None:
        raise GovError(f"{path}: empty file; the first line must be the header / 文件为空，首行应为表头")
    named = [CHINESE_COLUMNS.get(str(c).strip(), c) if c is not None else c for c in cells]
    columns, problems = _tabular.read_header(named, COLUMNS, _REQUIRED)
    if problems:
        raise GovError(f"{path}: {problems} (allowed: {', '.join(COLUMNS)}; required: {', '.join(_REQUIRED)}) "
                       "/ 表头有误")
    return columns


def _date(name: str, cell: object) -> dt.date | None:
    if isinstance(cell, dt.datetime):
        return checked_day(cell.date(), name)
    if isinstance(cell, dt.date):
        return checked_day(cell, name)
    text = _text(cell)
    if not text:
        return None
    found = _DATE.fullmatch(text)
    try:
        if found is not None:
            return checked_day(dt.date(int(found[1]), int(found[3]), int(found[4])), name)
    except ValueError:
        pass
    raise GovError(f"{name}: {mask_text(text)[:40]!r} is not a date (YYYY-MM-DD) / 不是日期（YYYY-MM-DD）")


def _amount(cell: object) -> int | None:
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        value: float = float(cell)
    else:
        text = _text(cell).replace(",", "")
        if not text:
            return None
        try:
            value = float(text) if text.isascii() else math.nan
        except ValueError:
            value = math.nan
    try:
        return fen(value)
    except GovError:
        raise GovError(f"amount: {mask_text(_text(cell))[:40]!r} is not an amount in yuan above 0 / 金额须为大于 0 "
                       "的数字（元）") from None


def _row(line: int, columns: Sequence[str], cells: Sequence[object]) -> _Row | ImportRowError:
    if len(cells) > len(columns) and any(_text(c) for c in cells[len(columns):]):
        return ImportRowError(line, f"more cells than the header has columns ({len(cells)} > {len(columns)}) / "
                                    "单元格多于表头列数")
    if too_long := _tabular.long_field(columns, [_text(c) for c in cells]):
        return ImportRowError(line, f"{too_long} / 字段过长")
    values = {name: cells[i] if i < len(cells) else None for i, name in enumerate(columns)}
    try:
        for name in _REQUIRED:
            if not _text(values[name]):
                raise GovError(f"{name} is empty / 必填字段为空")
        for name in ("contract_no", "counterparty", "text", "body_name"):
            if len(_text(values.get(name))) > _TEXT_MAX:
                raise GovError(f"{name}: longer than {_TEXT_MAX} characters / 超过 {_TEXT_MAX} 字")
        event = _EVENT_BY_NAME.get(_text(values["event"]).lower())
        if event is None:
            raise GovError(f"event: {mask_text(_text(values['event']))[:40]!r} is not one of signed, performed, "
                           "defaulted / 事件须为签约、履约或违约 (signed, performed, defaulted)")
        body_id, region = government_body(_text(values["body_id"]), _text(values.get("region_code")) or None)
        event_on = _date("event_on", values["event_on"])
        assert event_on is not None  # required, checked above
        signed_on, due_on = _date("signed_on", values.get("signed_on")), _date("due_on", values.get("due_on"))
        if signed_on is not None and due_on is not None and due_on < signed_on:
            raise GovError(f"due_on {due_on} is before signed_on {signed_on} / 履行期限早于签订日期")
        return _Row(line, _text(values["contract_no"]), body_id, _text(values.get("body_name")), region,
                    _text(values.get("counterparty")), signed_on, due_on, event, event_on,
                    _amount(values.get("amount")), _text(values.get("text")))
    except GovError as exc:
        return ImportRowError(line, mask_text(str(exc)))


# --- writing ------------------------------------------------------------------------------------------


_CONTRACT_FIELDS = ("body_id", "region_code", "counterparty", "signed_on", "due_on", "amount_fen")


def import_contracts(store: RecordStore, path: str | os.PathLike[str], *,
                     max_input_mb: int = _tabular.DEFAULT_MAX_INPUT_MB, clock: Clock | None = None) -> ContractImport:
    """Import a contract-performance file (see the module docstring).

    Raises:
        GovError: the file as a whole cannot be read (type, header, encoding, size); nothing is stored.
        StoreError: the store keeps no SQL database, or its database failed.
    """
    path = os.fspath(path)
    report = ContractImport(path)
    good: list[_Row] = []
    for line, columns, cells in _rows(path, max_input_mb):
        if all(not _text(c) for c in cells):
            continue  # a blank line or an empty spreadsheet row
        report.rows += 1
        row = _row(line, columns, cells)
        if isinstance(row, ImportRowError):
            report.errors.append(row)
        else:
            good.append(row)
    sql = gov_store(store)
    d = sql.dialect
    now = (clock or utc_now)()
    with sql.transaction() as conn:
        for row in good:
            _write_contract(sql, conn, row, now, report)
            inserted = conn.execute(d.sql(
                "INSERT INTO gov_contract_events (contract_no, event, event_on, amount_fen, note, clue_id, source, "
                "recorded_at) VALUES (:no, :event, :on, :amount, :note, NULL, :source, :at) "
                "ON CONFLICT (contract_no, event, event_on) DO NOTHING"),
                {"no": row.contract_no, "event": row.event, "on": d.day(row.event_on), "amount": row.amount_fen,
                 "note": row.text, "source": f"{os.path.basename(path)}:{row.line}", "at": time_param(d, now)})
            if inserted.rowcount != 1:
                continue
            report.events_added += 1
            if row.event == "defaulted":
                clue_id = _open_clue(sql, conn, row, now)
                conn.execute(d.sql("UPDATE gov_contract_events SET clue_id = :clue_id WHERE contract_no = :no "
                                   "AND event = 'defaulted' AND event_on = :on"),
                             {"clue_id": clue_id, "no": row.contract_no, "on": d.day(row.event_on)})
                report.clues_opened.append(clue_id)
    _log.info("gov_contracts_imported", rows=report.rows, events=report.events_added,
              clues=len(report.clues_opened), errors=len(report.errors))
    return report


def _write_contract(sql: Any, conn: Any, row: _Row, now: dt.datetime, report: ContractImport) -> None:
    d = sql.dialect
    stored = conn.execute(d.sql(f"SELECT {', '.join(_CONTRACT_FIELDS)} FROM gov_contracts WHERE contract_no = :no"),
                          {"no": row.contract_no}).fetchone()
    given = {"body_id": row.body_id, "region_code": row.region_code, "counterparty": row.counterparty or None,
             "signed_on": row.signed_on, "due_on": row.due_on,
             "amount_fen": row.amount_fen if row.event == "signed" else None}
    if stored is None:
        values = {**given, "counterparty": row.counterparty}
        report.contracts_added += 1
    else:
        old = dict(zip(_CONTRACT_FIELDS, stored, strict=True))
        old["signed_on"], old["due_on"] = read_day(d, old["signed_on"]), read_day(d, old["due_on"])
        values = {name: old[name] if given[name] is None else given[name] for name in _CONTRACT_FIELDS}
        if values == old:
            return
        report.contracts_updated += 1
    params = {**values, "no": row.contract_no, "signed_on": d.day(values["signed_on"]) if values["signed_on"] else None,
              "due_on": d.day(values["due_on"]) if values["due_on"] else None, "at": time_param(d, now)}
    conn.execute(d.sql(
        "INSERT INTO gov_contracts (contract_no, body_id, region_code, counterparty, signed_on, due_on, amount_fen, "
        "updated_at) VALUES (:no, :body_id, :region_code, :counterparty, :signed_on, :due_on, :amount_fen, :at) "
        "ON CONFLICT (contract_no) DO UPDATE SET body_id = excluded.body_id, region_code = excluded.region_code, "
        "counterparty = excluded.counterparty, signed_on = excluded.signed_on, due_on = excluded.due_on, "
        "amount_fen = excluded.amount_fen, updated_at = excluded.updated_at"), params)


def _open_clue(sql: Any, conn: Any, row: _Row, now: dt.datetime) -> str:
    d = sql.dialect
    stored = conn.execute(d.sql("SELECT counterparty, amount_fen FROM gov_contracts WHERE contract_no = :no"),
                          {"no": row.contract_no}).fetchone()
    counterparty, contract_fen = stored if stored is not None else ("", None)
    summary = f"合同违约 contract {row.contract_no} defaulted on {row.event_on}"
    if counterparty:
        summary += f" (counterparty 相对方: {counterparty})"
    if row.text:
        summary += f": {row.text}"
    return insert_clue(sql, conn, body_id=row.body_id, body_name=row.body_name, region_code=row.region_code,
                       channel="other", summary=summary[:_TEXT_MAX],
                       amount_fen=row.amount_fen if row.amount_fen is not None else contract_fen,
                       received_on=row.event_on, source=f"contract:{row.contract_no}", actor=CREDIT_OFFICE, now=now)


def contract(store: RecordStore, contract_no: str) -> Contract:
    """A contract with its events, oldest first.

    Raises:
        GovError: unknown contract.
    """
    sql = gov_store(store)
    d = sql.dialect
    with sql.reading() as conn:
        row = conn.execute(d.sql("SELECT contract_no, body_id, region_code, counterparty, signed_on, due_on, "
                                 "amount_fen FROM gov_contracts WHERE contract_no = :no"),
                           {"no": contract_no.strip()}).fetchone()
        if row is None:
            raise GovError(f"unknown contract {mask_text(contract_no)[:60]!r} / 未知的合同编号")
        events = conn.execute(d.sql("SELECT event, event_on, amount_fen, note, clue_id, source FROM "
                                    "gov_contract_events WHERE contract_no = :no ORDER BY event_on, event"),
                              {"no": row[0]}).fetchall()
    shown = tuple({"event": event, "event_name": EVENTS[event], "event_on": (read_day(d, on) or dt.date.min).isoformat(),
                   "amount": yuan(amount), "text": mask_text(note), "clue_id": clue_id, "source": source}
                  for event, on, amount, note, clue_id, source in events)
    return Contract(row[0], row[1], row[2], row[3], read_day(d, row[4]), read_day(d, row[5]), yuan(row[6]), shown)
