"""joint-sanctions: joint reward-and-punishment (联合奖惩) credit checks.

The pipeline, one module per stage::

    load (YAML → validated measure lists) → compile (index + rules + revision)
    → check (subject + matter → CheckResult, against a RecordStore) → cases (the closed loop)

Quick use::

    import joint_sanctions as js
    result = js.check("91410100MA0000015B", "government_procurement")
    result.decision, [m.measure_id for m in result.measures]
"""

from pathlib import Path as _Path

from .check import Engine, check
from .compile import CompiledMeasures, compile_measures
from .errors import (
    CheckError,
    IdentifierError,
    JointSanctionsError,
    MeasureListError,
    RecordError,
    StoreError,
)
from .load import lint, load_measure_lists
from .models import CheckResult, CreditRecord, Matter, Measure, RelatedParty, Subject
from .records import import_records
from .stores import RecordStore, open_store

# Editable installs do not apply the wheel's force-include of adapters/: there, let
# ``joint_sanctions.adapters`` resolve to the repository's adapters/ folder.
if not (_Path(__file__).parent / "adapters").is_dir() and (_Path(__file__).parent.parent / "adapters").is_dir():
    __path__.append(str(_Path(__file__).parent.parent))

__all__ = [
    "CheckError",
    "CheckResult",
    "CompiledMeasures",
    "CreditRecord",
    "Engine",
    "IdentifierError",
    "JointSanctionsError",
    "Matter",
    "Measure",
    "MeasureListError",
    "RecordError",
    "RecordStore",
    "RelatedParty",
    "StoreError",
    "Subject",
    "check",
    "compile_measures",
    "import_records",
    "lint",
    "load_measure_lists",
    "open_store",
]
