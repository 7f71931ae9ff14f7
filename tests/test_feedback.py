"""Feedback v1: the model's keys and sources, nulls, region code, and the shipped JSON Schema."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joint_sanctions._cases import Case, Disposal, case_book_for
from joint_sanctions._errors import CaseError
from joint_sanctions._feedback import (
    FeedbackV1,
    build_feedback,
    feedback_schema,
    schema_text,
    shipped_schema_text,
)

from .conftest import (
    CO,
    CO2,
    PERSON,
    Database,
    Loop,
    assert_masked,
    assert_valid,
    feedback_validator,
    loop_engine,
    record,
)

SCHEMA_FILE = Path(__file__).parent.parent / "joint_sanctions" / "schemas" / "feedback-v1.schema.json"
V1_KEYS = {"schema_version", "case_id", "check_id", "status", "subject", "lists", "matter", "kind", "measures",
           "implementing_department", "region_code", "result", "result_text", "reason", "description",
           "initiated_at", "responded_at", "disposed_at", "revision"}


@pytest.fixture
def loop(tmp_path: Path) -> Loop:
    """A loop over a fresh SQLite file."""
    return Loop(tmp_path / "loop.db")


@pytest.fixture
def person_case(loop: Loop) -> Case:
    """One responded case of a natural person."""
    case_id = loop.engine.check(PERSON, "civil_servant_hiring").case_id
    assert case_id is not None
    return loop.book.get(case_id)


# --- the schema file ------------------------------------------------------------------------------


def test_shipped_schema_file_equals_the_one_generated_from_the_model() -> None:
    """The schema file in the package is exactly what the model generates (regenerate it on purpose)."""
    assert SCHEMA_FILE.read_text("utf-8") == schema_text() == shipped_schema_text()


def test_schema_forbids_additional_properties_everywhere_and_requires_every_key() -> None:
    """v1 never changes shape: every object is closed and every key is required."""
    schema = feedback_schema()
    objects = [schema, *schema["$defs"].values()]
    for obj in objects:
        assert obj["additionalProperties"] is False, obj["title"]
        assert set(obj["required"]) == set(obj["properties"]), obj["title"]
    assert set(schema["properties"]) == V1_KEYS
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


# --- the record -----------------------------------------------------------------------------------


def test_feedback_carries_the_v1_keys_from_their_sources(loop: Loop) -> None:
    """Each key comes from where design.md §7 says: case, check, subject, lists, matter, measures, disposal."""
    book = loop.book
    case_id = loop.dispose({"id": CO, "name": "某建设公司"},
                             check={"item_code": "ITEM-1", "application_no": "APP-9"},
                             text="取消其投标资格", department="郑州市财政局", department_code="FIN01",
                             description="已通知采购人",
                             at=dt.datetime(2025, 6, 2, 1, 30, tzinfo=dt.UTC))
    case = book.get(case_id)
    doc = json.loads(book.feedback(case_id).to_bytes())
    assert set(doc) == V1_KEYS
    assert doc["schema_version"] == "1" and doc["status"] == "disposed"
    assert (doc["case_id"], doc["check_id"], doc["revision"]) == (case_id, case.check_id, case.revision)
    assert doc["subject"] == {"name": "某建设公司", "subject_type": "legal_person", "id_kind": "uscc", "id": CO}
    assert doc["lists"] == [{"list_type": "court_defaulter", "authority": "郑州市中级人民法院",
                             "document_no": "(2024)豫01执1号", "listed_on": "2024-01-01"}]
    assert doc["matter"] == {"matter_type": "government_procurement", "item_code": "ITEM-1",
                             "application_no": "APP-9"}
    assert doc["kind"] == "punishment"
    assert doc["measures"] == [{"measure_id": "T-GP-BAN", "name": "不得参加政府采购", "effect": "prohibit",
                                "legal_basis": [{"document": "中华人民共和国政府采购法", "number": "",
                                                 "article": "第七十七条"}]}]
    assert doc["implementing_department"] == {"name": "郑州市财政局", "code": "FIN01"}
    assert doc["region_code"] == "410100"
    assert (doc["result"], doc["result_text"], doc["reason"], doc["description"]) == \
        ("applied", "取消其投标资格", None, "已通知采购人")
    assert doc["disposed_at"] == "2025-06-02T09:30:00+08:00"  # China Standard Time
    assert doc["initiated_at"] == "2025-06-01T12:00:00+08:00"
    assert dt.datetime.fromisoformat(doc["responded_at"]) >= dt.datetime.fromisoformat(doc["initiated_at"])
    assert_valid(doc)


def test_what_was_not_given_is_null(loop: Loop) -> None:
    """Item code, application number, department, result text, reason, description and name are null."""
    doc = json.loads(loop.book.feedback(loop.dispose(CO)).to_bytes())
    assert doc["matter"]["item_code"] is None and doc["matter"]["application_no"] is None
    assert doc["implementing_department"] == {"name": None, "code": None}
    assert doc["result_text"] is None and doc["reason"] is None and doc["description"] is None
    assert doc["subject"]["name"] is None
    assert_valid(doc)


def test_resident_id_travels_unmasked_in_the_uplink(loop: Loop) -> None:
    """The platform gets the natural person's full id (and nothing else shows it)."""
    case_id = loop.dispose(PERSON, "civil_servant_hiring", "not_applied", reason="岗位无此要求")
    doc = json.loads(loop.book.feedback(case_id).to_bytes())
    assert doc["subject"]["id"] == PERSON and doc["subject"]["id_kind"] == "resident_id"
    assert doc["result"] == "not_applied" and doc["reason"] == "岗位无此要求"
    assert_valid(doc)


def test_kind_is_incentive_only_without_any_punishment(loop: Loop) -> None:
    """An incentive-only case reports kind incentive; with a punishment beside it, punishment."""
    assert loop.book.feedback(loop.dispose(CO2, "administrative_licensing")).kind == "incentive"
    loop.engine.store.upsert([record("R-CO-A", CO, list_type="tax_credit_a")])
    feedback = loop.book.feedback(loop.dispose(CO, "government_procurement"))
    assert feedback.kind == "punishment"
    assert {m.measure_id for m in feedback.measures} == {"T-GP-BAN", "T-GREEN"}
    assert {item.list_type for item in feedback.lists} == {"court_defaulter", "tax_credit_a"}


def test_lists_hold_only_the_records_that_made_a_measure_apply(loop: Loop) -> None:
    """A record of the subject that no measure of this matter uses is a hit, but not in ``lists``."""
    loop.engine.store.upsert([record("R-CO-SAFE", CO, list_type="safety_serious_violator")])
    case_id = loop.dispose(CO, "government_procurement")
    assert {h.record_id for h in loop.book.get(case_id).hits} == {"R-CO", "R-CO-SAFE"}
    assert [item.list_type for item in loop.book.feedback(case_id).lists] == ["court_defaulter"]


def test_region_code_comes_from_the_environment_or_the_book(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    """JOINT_SANCTIONS_REGION sets the region code; a book's own setting wins; a bad code is refused."""
    monkeypatch.setenv("JOINT_SANCTIONS_REGION", "410105")
    case_id = loop.dispose(CO)
    assert json.loads(_queued(loop, case_id))["region_code"] == "410105"
    own = case_book_for(loop.engine.store, region_code="410184")
    second = loop.engine.check(CO, "government_procurement").case_id
    assert second is not None
    assert own.dispose(second, "applied") and own.feedback(second).region_code == "410184"
    monkeypatch.setenv("JOINT_SANCTIONS_REGION", "4101")
    third = loop.engine.check(CO, "government_procurement").case_id
    assert third is not None
    with pytest.raises(CaseError, match="6-digit region code"):
        loop.book.dispose(third, "applied")
    assert loop.book.get(third).status == "responded"


def _queued(loop: Loop, case_id: str) -> bytes:
    """The bytes waiting in the outbox for ``case_id`` (claimed and released again)."""
    claim = loop.book.outbox.claim()
    assert claim is not None and claim.case_id == case_id
    loop.book.outbox.release(claim)
    return claim.body


def test_the_record_is_frozen_at_disposal(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queued bytes do not change later, so every resend is identical (region read at disposal)."""
    case_id = loop.dispose(CO)
    body = _queued(loop, case_id)
    assert json.loads(body)["region_code"] == "410100"
    assert body == loop.book.feedback(case_id).to_bytes()
    monkeypatch.setenv("JOINT_SANCTIONS_REGION", "410105")
    assert _queued(loop, case_id) == body and loop.book.feedback(case_id).region_code == "410100"


def test_model_refuses_extra_and_missing_keys(loop: Loop) -> None:
    """The model, like the schema, refuses a key too many or one too few."""
    doc = json.loads(loop.book.feedback(loop.dispose(CO)).to_bytes())
    with pytest.raises(ValueError, match="Extra inputs"):
        FeedbackV1.model_validate({**doc, "extra": 1})
    with pytest.raises(ValueError, match="Field required"):
        FeedbackV1.model_validate({k: v for k, v in doc.items() if k != "reason"})
    assert list(feedback_validator().iter_errors({**doc, "extra": 1}))
    assert list(feedback_validator().iter_errors({**doc, "subject": {**doc["subject"], "masked": True}}))
    assert list(feedback_validator().iter_errors({**doc, "region_code": "41010"}))


_texts = st.one_of(st.none(), st.text(max_size=40))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=st.sampled_from(["applied", "not_applied", "partially_applied"]), text=_texts, reason=_texts,
       description=_texts, department=_texts, code=_texts,
       when=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                         timezones=st.just(dt.UTC)))
def test_every_disposal_gives_a_valid_record_that_round_trips(
        person_case: Case, result: str, text: str | None, reason: str | None, description: str | None,
        department: str | None, code: str | None, when: dt.datetime) -> None:
    """Whatever the disposal's texts and time, the record is valid v1 and parses back to itself."""
    disposal = Disposal.model_validate({"result": result, "text": text, "reason": reason,
                                        "description": description, "department": department,
                                        "department_code": code, "disposed_at": when})
    case = person_case.model_copy(update={"status": "disposed", "disposal": disposal})
    feedback = build_feedback(case, region_code="410100")
    body = feedback.to_bytes()
    assert_valid(json.loads(body))
    assert FeedbackV1.model_validate_json(body) == feedback



# --- resident ids in free text (design.md §7, §9 "Hostile input") ---------------------------------

OTHER = "410105198509230440"       # someone's id typed into the disposal texts
THIRD = "410102197906150037"


def test_ids_in_free_text_go_up_masked_and_only_subject_id_in_clear(database: Database) -> None:
    """Names, matter, department and disposal texts with resident ids go up masked; subject.id does not."""
    engine = loop_engine(database)
    book = case_book_for(engine.store)
    spaced = f"{OTHER[:6]} {OTHER[6:]}"
    wide = THIRD.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    case_id = engine.check({"id": PERSON, "name": f"王某某（身份证{PERSON[:6]}-{PERSON[6:14]}-{PERSON[14:]}）"},
                           "civil_servant_hiring", item_code=f"ITEM{OTHER}",
                           application_no=f"申请 {THIRD[:6]}\u3000{THIRD[6:]}").case_id
    assert case_id is not None
    book.dispose(case_id, "not_applied", text=f"经办人 {wide}", reason=f"本人身份证 {spaced} 与档案不符",
                 description=f"代办人{OTHER}，联系人{THIRD[:4]} {THIRD[4:8]} {THIRD[8:12]} {THIRD[12:16]} {THIRD[16:]}",
                 department=f"人社局窗口{OTHER}", department_code=f"HR-{THIRD}")
    doc = json.loads(book.feedback(case_id).to_bytes())
    assert doc["subject"]["id"] == PERSON and doc["subject"]["id_kind"] == "resident_id"
    assert doc["reason"] == "本人身份证 4101** ********0440 与档案不符"
    assert doc["subject"]["name"].startswith("王某某（身份证4101**-")
    assert_valid(doc)
    doc["subject"]["id"] = "-"
    assert_masked(json.dumps(doc, ensure_ascii=False), PERSON, OTHER, THIRD)
