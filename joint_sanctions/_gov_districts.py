"""Districts (区县(市)) in government integrity: a district as the subject of a check.

A district-level check (docs/government-integrity-districts.md) names a 6-digit region code instead of a
USCC or resident id (subject type ``region``, id kind ``region_code``). It sees every government-dishonesty
record active on the check day of the bodies in that area, and only the measures written for districts
(``subject_types`` naming ``region``) apply: the seed's measures on 区县(市) with government-dishonesty
records. A district is not the listed body, so measures for any subject (the DRC toolbox, the departments'
measures) do not reach it through its bodies' records.

The area of a code: a province (``xx0000``) covers every code starting with its two digits, a city
(``xxxx00``) every code starting with its four, any other code itself only. A record's area is its
``region_code``, or, when it has none, positions 3–8 of its subject's USCC (the registration area of
GB 32100). The engine reaches this module only after a subject failed as a USCC or resident id, so the
no-hit path of companies and people pays nothing for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from . import _identifiers as identifiers
from ._case_model import CaseRecorder, record_case
from ._compile import CompiledMeasures
from ._errors import CheckError, IdentifierError
from ._models import CheckResult, CreditRecord, Subject, trusted
from ._results import _decide, _hit
from .stores import RecordStore
from .stores._gov_district_tables import GOVERNMENT_DISHONESTY, bodies_in

__all__ = ["area_of", "district_of", "district_records", "district_result", "for_districts", "record_area"]

REGION = "region"
_DISTRICT_KEYS = frozenset({"id", "name", "subject_type", "related_parties"})
_NO_GOV_DATA = ("no government_dishonesty records were ever imported: a district check cannot answer "
                "/ 尚未导入政务失信记录，无法核查区县(市)")


def area_of(code: str) -> str:
    """The prefix every region code in the area of ``code`` starts with (module docstring)."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def record_area(record: CreditRecord) -> str | None:
    """The region code a record's subject lies in: its ``region_code``, else its USCC's positions 3–8."""
    if record.region_code:
        return record.region_code
    try:
        _, kind = identifiers.parse_identifier(record.subject_id)
    except IdentifierError:
        return None
    return record.subject_id[2:8] if kind == "uscc" else None


def district_of(subject: object, refused: CheckError) -> Subject:
    """The district a check names — a bare region code, or a mapping whose ``id`` is one, with no related
    parties and a subject type of ``region`` or none.

    Raises:
        CheckError: ``refused`` (why the subject was refused as a USCC or resident id) for anything else.
    """
    name: object = ""
    if isinstance(subject, str):
        text = subject
    elif (isinstance(subject, Mapping) and isinstance(subject.get("id"), str) and not subject.get("related_parties")
          and subject.get("subject_type") in (None, REGION) and subject.keys() <= _DISTRICT_KEYS):
        text, name = subject["id"], subject.get("name") or ""
    else:
        raise refused
    try:
        code = identifiers.parse_region_code(text)
    except IdentifierError:
        raise refused from None
    if type(name) is not str or "\x00" in name:
        raise refused
    return trusted(Subject, {"id": code, "id_kind": "region_code", "name": name, "subject_type": REGION,
                             "related_parties": ()})


def district_records(store: RecordStore, compiled: CompiledMeasures, code: str, day: dt.date,
                     data_as_of: Mapping[str, dt.datetime]) -> list[CreditRecord]:
    """The government-dishonesty records of the bodies in the area of ``code`` that count on ``day``.

    Raises:
        CheckError: ``no_data`` when no government-dishonesty record was ever written: the engine does
            not know the district, so it must not answer ``clear``.
    """
    if GOVERNMENT_DISHONESTY not in data_as_of:
        raise CheckError("no_data", _NO_GOV_DATA)
    area = area_of(code)
    bodies = bodies_in(store, area)
    found = [r for r in store.active_records(sorted(bodies), day)
             if r.list_type == GOVERNMENT_DISHONESTY and (record_area(r) or "").startswith(area)]
    return list(compiled.list_types.current(found, day))


def district_result(store: RecordStore, compiled: CompiledMeasures, district: Subject, day: dt.date,
                    data_as_of: Mapping[str, dt.datetime],
                    evaluate: Callable[[CompiledMeasures, Sequence[CreditRecord]], CheckResult],
                    cases: CaseRecorder | None, caller: str | None = None
                    ) -> tuple[CheckResult, Subject, list[CreditRecord]]:
    """The answer for ``district`` on ``day``: ``evaluate`` (the engine's rules) runs on the bodies' records
    as the district's own; only the measures written for districts are kept, the decision is theirs, the
    hits name the bodies' records, and ``cases`` (a current check) opens a case when a measure applies,
    with ``caller`` (who asked) when one is given.

    Returns:
        The result, the district, and the records as the district's own (what an explanation tries).

    Raises:
        CheckError: ``no_data`` (see :func:`district_records`).
    """
    records = district_records(store, compiled, district.id, day, data_as_of)
    owned = [r.model_copy(update={"subject_id": district.id}) for r in records]
    result = evaluate(compiled, owned)
    kept = tuple(m for m in result.measures if for_districts(compiled, m.measure_id))
    result = result.model_copy(update={"measures": kept, "decision": _decide(kept),
                                       "hits": tuple(_hit(r, identifiers.mask(r.subject_id)) for r in records)})
    if kept and cases is not None:
        result = record_case(cases, result, district, caller)
    return result, district, owned


def for_districts(compiled: CompiledMeasures, measure_id: str) -> bool:
    """Whether the measure is written for districts (its ``subject_types`` name ``region``)."""
    return REGION in (compiled.measures[measure_id].measure.subject_types or ())
