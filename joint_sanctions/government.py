"""Government integrity (政务诚信) from Python: the loop the ``gov`` commands run
(docs/government-integrity.md, docs/government-integrity-districts.md).

- Complaint clues about government bodies: :func:`add_clue` (received on a channel of
  ``vocabulary.CLUE_CHANNELS``), :func:`transfer_clue` (即发现即转交, a late transfer is recorded),
  :func:`verify_clue` (核实认定: a confirmed clue becomes a ``government_dishonesty`` record in the record
  store, seen by every check at once), :func:`get_clue` and :func:`list_clues` with the whole trail.
- Clearance of arrears (清欠): :func:`add_payment` (never more than is owed) and :func:`clearance`;
  ``records repair`` of such a record waits until its arrears are paid.
- Contract performance (合同履约): :func:`import_contracts` (a default opens a clue) and :func:`contract`.
- District monitoring: :func:`load_districts` (the deployment's districts), :func:`import_scores`
  (third-party scores for the six :data:`DIMENSIONS`), :func:`district_activity` (a month's clue and
  clearance figures per district), :func:`district_report` (the monthly report's JSON object, scored
  with :data:`WEIGHTS`), :func:`render_html` and :func:`write_xlsx`.

Every refusal is a :class:`GovError` (or :class:`DistrictError` for a districts or scores file): one
line in English and Chinese, nothing half-written. A district (a 6-digit region code) is checked like
any subject: ``Engine.check("410184", "honors")``.
"""

from __future__ import annotations

from ._gov_activity import DistrictActivity, district_activity
from ._gov_base import GovError
from ._gov_clearance import Clearance, Payment, add_payment, clearance
from ._gov_clues import Clue, ClueEvent, add_clue, get_clue, list_clues, transfer_clue, verify_clue
from ._gov_contracts import Contract, ContractImport, contract, import_contracts
from ._gov_district_data import (
           DIMENSIONS,
           District,
           DistrictError,
           Districts,
           ScoreImport,
           import_scores,
           load_districts,
)
from ._gov_report import WEIGHTS, district_report
from ._gov_report_render import render_html, write_xlsx

__all__ = ["DIMENSIONS", "WEIGHTS", "Clearance", "Clue", "ClueEvent", "Contract", "ContractImport", "District",
           "DistrictActivity", "DistrictError", "Districts", "GovError", "Payment", "ScoreImport", "add_clue",
           "add_payment", "clearance", "contract", "district_activity", "district_report", "get_clue",
           "import_contracts", "import_scores", "list_clues", "load_districts", "render_html", "transfer_clue",
           "verify_clue", "write_xlsx"]
