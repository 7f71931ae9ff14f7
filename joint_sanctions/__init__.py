"""joint-sanctions: joint reward-and-punishment (联合奖惩) credit checks.

The pipeline, one private module per stage, everything a user touches re-exported here::

    _load     YAML → validated measure lists (every problem located: file:line:col)
    _compile  measure lists → CompiledMeasures (index + durable_rules ruleset + revision)
    _check    subject + matter → CheckResult, against a RecordStore (the Engine)
    _cases    CheckResult → Case: responded → disposed → fed_back | rejected (the closed loop)
    _delivery cases → FeedbackSink (the provincial platform), nothing lost
    _audit    CheckResult → AuditLog entry in a hash chain; verify() names the first tampered entry

Public namespaces besides this one: :mod:`joint_sanctions.stores` (record stores),
:mod:`joint_sanctions.vocabulary` (the stable ids), :mod:`joint_sanctions.testing` (fakes and the
platform simulator, for tests of your own) and :mod:`joint_sanctions.adapters` (host systems).
Everything else is private and may change.

Quick use::

    import joint_sanctions as js
    result = js.check("91410100MA0000015B", "government_procurement")
    result.decision, [m.measure_id for m in result.measures]
"""

from ._audit import AuditEntry, AuditLog, AuditProblem, AuditReport
from ._batch import run_batch
from ._batch_input import open_batch
from ._batch_rows import BatchSummary
from ._case_model import Case, CaseStats, Disposal
from ._cases import CaseBook, case_book_for
from ._check import CaseRecorder, Engine, MeasureWatcher, check
from ._check_chars import is_valid_identifier, resident_id_check_char, uscc_check_char
from ._compile import CompiledMeasures, compile_measures
from ._delivery import DeliveryReport, FeedbackSink, HttpSink, JsonlFileSink, deliver
from ._errors import (
    AmbiguousCaseError,
    BatchError,
    CaseError,
    CheckError,
    DeliveryError,
    DisposalError,
    IdentifierError,
    ImportRowError,
    JointSanctionsError,
    MeasureListError,
    Problem,
    RecordError,
    RejectedDeliveryError,
    RetryableDeliveryError,
    RuleEngineError,
    StoreError,
    TransitionError,
    UnknownCaseError,
    UnreadableRecordError,
)
from ._explain import Explanation, MeasureExplanation, RuleTrial
from ._feedback import FeedbackV1, build_feedback, feedback_schema
from ._identifiers import mask_text, parse_identifier
from ._load import lint, load_measure_lists
from ._models import (
    AppliedMeasure,
    CheckResult,
    CreditRecord,
    Hit,
    LegalBasis,
    Matter,
    Measure,
    MeasureListFile,
    RelatedParty,
    Subject,
)
from ._records import ImportReport, import_records
from ._rescreen import RescreenReport, StatusChange, register_subjects, rescreen
from .stores import RecordStore, open_store

__all__ = [
    "AmbiguousCaseError",
    "AppliedMeasure",
    "AuditEntry",
    "AuditLog",
    "AuditProblem",
    "AuditReport",
    "BatchError",
    "BatchSummary",
    "Case",
    "CaseBook",
    "CaseError",
    "CaseRecorder",
    "CaseStats",
    "CheckError",
    "CheckResult",
    "CompiledMeasures",
    "CreditRecord",
    "DeliveryError",
    "DeliveryReport",
    "Disposal",
    "DisposalError",
    "Engine",
    "Explanation",
    "FeedbackSink",
    "FeedbackV1",
    "Hit",
    "HttpSink",
    "IdentifierError",
    "ImportReport",
    "ImportRowError",
    "JointSanctionsError",
    "JsonlFileSink",
    "LegalBasis",
    "Matter",
    "Measure",
    "MeasureExplanation",
    "MeasureListError",
    "MeasureListFile",
    "MeasureWatcher",
    "Problem",
    "RecordError",
    "RecordStore",
    "RejectedDeliveryError",
    "RelatedParty",
    "RescreenReport",
    "RetryableDeliveryError",
    "RuleEngineError",
    "RuleTrial",
    "StatusChange",
    "StoreError",
    "Subject",
    "TransitionError",
    "UnknownCaseError",
    "UnreadableRecordError",
    "build_feedback",
    "case_book_for",
    "check",
    "compile_measures",
    "deliver",
    "feedback_schema",
    "import_records",
    "is_valid_identifier",
    "lint",
    "load_measure_lists",
    "mask_text",
    "open_batch",
    "open_store",
    "parse_identifier",
    "register_subjects",
    "rescreen",
    "resident_id_check_char",
    "run_batch",
    "uscc_check_char",
]
