"""What a host passes to a check, made safe: subjects, matters and the maximum data age.

A subject is a :class:`Subject`, a mapping or a bare id; a matter a :class:`Matter`, a mapping or a
matter-type id. Invalid input is a :class:`CheckError` with a stable code (``invalid_subject``,
``unknown_matter_type``, ``invalid_matter``), resident ids masked. The commonest calls are judged
without pydantic (the no-hit path is a few microseconds).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import _identifiers as identifiers
from ._accel import Hashes, bare_usccs, triage_plain
from ._accel import uscc as _uscc
from ._conditions import AMOUNT_MAX
from ._errors import CheckError, IdentifierError
from ._models import (
    Matter,
    RelatedParty,
    Subject,
    trusted,
)
from .vocabulary import MATTER_TYPES, ORGANIZERS, RELATED_PARTY_ROLES, SUBJECT_TYPES

SubjectLike = Subject | Mapping[str, Any] | str
MatterLike = Matter | Mapping[str, Any] | str


_SURROGATE = re.compile("[\ud800-\udfff]")

#: Matter fields and the type a value needs to be taken as it is (an int amount is made a float).
_MATTER_PLAIN: dict[str, type] = {"item_code": str, "application_no": str, "department": str,
                                  "department_code": str, "region_code": str, "amount": float}


def _parse_id(text: str) -> tuple[str, str]:
    try:
        return _uscc(text) or identifiers.parse_identifier(text)  # the commonest id first
    except IdentifierError as exc:
        raise CheckError("invalid_subject", str(exc)) from exc


def coerce_subject(subject: SubjectLike) -> Subject:
    """A :class:`Subject` from a model, a mapping or a bare id; invalid ids → ``CheckError``."""
    if isinstance(subject, Subject):
        return subject
    if isinstance(subject, str):
        norm, kind = _parse_id(subject)
        return trusted(Subject, {"id": norm, "id_kind": kind, "name": "", "subject_type": None,
                                 "related_parties": ()})
    plain = _read_plain(subject) if type(subject) is dict else None
    if plain is not None:
        return _plain_subject(subject, *plain)
    _read_mapping(subject)  # an invalid id gets the typed, masked message rather than pydantic's
    return _validated_subject(subject)


def _validated_subject(subject: Mapping[str, Any]) -> Subject:
    try:
        return Subject.model_validate(dict(subject))
    except ValueError as exc:  # pydantic ValidationError: inputs are hidden, messages are safe
        raise CheckError("invalid_subject", identifiers.mask_text(str(exc))) from exc


_Parties = list[tuple[Any, tuple[str, str]]]  # (the party as given, its parsed id and kind)


def _read_mapping(subject: object) -> tuple[str, str, _Parties]:
    """The parsed ids of a mapping subject and of its related parties, parsed first so that an
    invalid one gets the typed, masked message rather than pydantic's."""
    # type() is dict first: the usual mapping, without the ABC's (several times dearer) instance check.
    if not (type(subject) is dict or isinstance(subject, Mapping)) or "id" not in subject:
        raise CheckError("invalid_subject", "a subject needs an 'id' / 主体缺少标识 id")
    norm, kind = _parse_id(str(subject["id"]))
    given = subject.get("related_parties") or ()
    # Only a list or tuple is read here: pydantic judges anything else (an iterator it still reads whole).
    parties = [(p, _parse_id(str(p.get("id", "")) if type(p) is dict or isinstance(p, Mapping) else ""))
               for p in (given if type(given) is list or type(given) is tuple else ())]
    return norm, kind, parties


_SUBJECT_KEYS = frozenset({"id", "name", "subject_type", "related_parties"})
_PARTY_KEYS = frozenset({"role", "id", "name"})


def _read_plain(subject: dict[str, Any]) -> tuple[str, str, _Parties] | None:
    """:func:`_read_mapping` of a dict of plain strings (a host's usual call, with a legal
    representative), which needs no validator to judge or to report; None for anything else, which
    goes through pydantic. Ids are parsed in :func:`_read_mapping`'s order, so an invalid one gets
    the same message either way."""
    if not subject.keys() <= _SUBJECT_KEYS or type(subject_id := subject.get("id")) is not str:
        return None
    name, subject_type = subject.get("name", ""), subject.get("subject_type")
    if (type(name) is not str or "\x00" in name
            or (subject_type is not None and (type(subject_type) is not str or subject_type not in SUBJECT_TYPES
                                              or subject_type == "region"))):
        return None
    given = subject.get("related_parties") or ()
    if type(given) is not list and type(given) is not tuple:  # an iterator read here would reach pydantic empty
        return None
    for party in given:
        if (type(party) is not dict or not party.keys() <= _PARTY_KEYS or type(role := party.get("role")) is not str
                or role not in RELATED_PARTY_ROLES
                or type(party.get("id")) is not str or type(name := party.get("name", "")) is not str
                or "\x00" in name):
            return None
    norm, kind = _parse_id(subject_id)
    return norm, kind, [(party, _parse_id(party["id"])) for party in given]


def _plain_subject(subject: Mapping[str, Any], norm: str, kind: str, parties: _Parties) -> Subject:
    """The :class:`Subject` of a mapping that :func:`_is_plain` accepted, built without pydantic."""
    built = tuple(trusted(RelatedParty, {"role": party["role"], "id": party_id, "name": party.get("name", ""),
                                         "id_kind": party_kind})
                  for party, (party_id, party_kind) in parties)
    return trusted(Subject, {"id": norm, "id_kind": kind, "name": subject.get("name", ""),
                             "subject_type": subject.get("subject_type"), "related_parties": built})


def bare_subject(norm: str, kind: str) -> Subject:
    """The subject a bare id (normalised, of that kind) names."""
    return trusted(Subject, {"id": norm, "id_kind": kind, "name": "", "subject_type": None, "related_parties": ()})


def triage(subject: SubjectLike, hashes: Hashes) -> Subject | tuple[str, str, str, str | None]:
    """The validated subject if it or a related party may be listed, else the (id, kind, name,
    subject type) of its clear answer; invalid input raises ``CheckError``.

    The two commonest calls, a bare id and a mapping with a legal representative, are judged
    without building a Subject when no one they name is listed.
    """
    if type(subject) is str:
        norm, kind = _parse_id(subject)
        if hash(norm) not in hashes:
            return norm, kind, "", None
        return bare_subject(norm, kind)
    if type(subject) is dict and (read := _read_plain(subject)) is not None:
        norm, kind, given = read
        if hash(norm) in hashes:
            return _plain_subject(subject, norm, kind, given)
        for _, (party_id, _k) in given:
            if hash(party_id) in hashes:
                return _plain_subject(subject, norm, kind, given)
        return norm, kind, subject.get("name", ""), subject.get("subject_type")
    subj = coerce_subject(subject)  # a Subject, or a mapping pydantic must judge
    if hash(subj.id) not in hashes and not any(hash(p.id) in hashes for p in subj.related_parties):
        return subj.id, subj.id_kind, subj.name, subj.subject_type
    return subj


def triage_many(subjects: Iterable[SubjectLike], hashes: Hashes) -> tuple[
        list[str | None], list[str], dict[int, Subject | tuple[str, str, str, str | None]], list[Subject]]:
    """:func:`triage` of every subject of a ``check_many`` call, in order; the first invalid one raises.

    Returns:
        Per subject, its normalised id and kind when it is a bare id no one is listed under (its clear
        answer needs nothing else), else None and ""; the :func:`triage` of each other subject by its
        place, in order; the subjects that may be listed, for one store query.
    """
    given = subjects if type(subjects) is list else list(subjects)
    norms, kinds, others = bare_usccs(given, hashes)  # upper-case USCCs, the commonest: compiled where possible
    other: dict[int, Subject | tuple[str, str, str, str | None]] = {}
    maybe_listed: list[Subject] = []
    for place in others:
        s = given[place]
        if type(s) is str:  # a bare id of another spelling or kind, listed or invalid
            norm, kind = _parse_id(s)
            if hash(norm) not in hashes:
                norms[place], kinds[place] = norm, kind
                continue
        # The usual unlisted mapping, read in C as triage reads it; any other subject, triage judges.
        read = (triage_plain(s, hashes) if type(s) is dict and triage_plain is not None else None) or triage(s, hashes)
        if not isinstance(read, tuple):
            maybe_listed.append(read)
        other[place] = read
    return norms, kinds, other, maybe_listed


def matter_of(cache: dict[str, Matter], matter: MatterLike, fields: Mapping[str, Any]) -> Matter:
    """The :class:`Matter` of a check: a matter-type id resolved once per engine (``cache``), and the
    host's usual keywords (an amount, item codes) judged without a validator; else :func:`coerce_matter`."""
    if not isinstance(matter, str):
        return coerce_matter(matter, fields)
    cached = cache.get(matter)
    if cached is None:
        cached = cache[matter] = coerce_matter(matter, {})
    if not fields:
        return cached
    amount = fields.get("amount")
    if len(fields) == 1 and (type(amount) is float or type(amount) is int) and 0 <= amount <= AMOUNT_MAX:
        values = cached.__dict__.copy()  # an amount alone: the host's commonest keyword
        values["amount"] = float(amount)
        return trusted(Matter, values)
    values = cached.__dict__.copy()
    for k, v in fields.items():
        if type(v) is _MATTER_PLAIN.get(k) and (type(v) is not str or (
                "\x00" not in v and (v.isascii() or not _SURROGATE.search(v)))):
            values[k] = v
        elif k == "amount" and type(v) is int and v <= AMOUNT_MAX:  # float(10**400) would raise
            values[k] = float(v)
        elif k == "organizer" and type(v) is str and v in ORGANIZERS:
            values[k] = v
        elif v is not None:
            return coerce_matter(matter, fields)
    if values["amount"] is not None:
        _check_amount(values["amount"])
    return trusted(Matter, values)


def coerce_matter(matter: MatterLike, extra: Mapping[str, Any]) -> Matter:
    """A :class:`Matter` from a model, a mapping or a matter-type id, plus host-known fields."""
    data: dict[str, Any]
    if isinstance(matter, Matter):
        data = matter.model_dump(exclude_none=True)
    elif isinstance(matter, str):
        data = {"matter_type": matter}
    else:
        data = dict(matter)
    data.update({k: v for k, v in extra.items() if v is not None})
    if data.get("organizer", "other") is None:
        del data["organizer"]  # not known to the host: the default
    matter_type = data.get("matter_type")
    if matter_type not in MATTER_TYPES:
        known = ", ".join(MATTER_TYPES)
        raise CheckError("unknown_matter_type",
                         f"unknown matter type {matter_type!r} (known: {known}) / 未知事项类型 {matter_type!r}")
    if "organizer" in data:
        _check_organizer(data["organizer"])  # before pydantic, whose message is not one line
    amount = data.get("amount")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        _check_amount(amount)  # before pydantic, whose message for 10**400 is neither one line nor ours
    try:
        validated = Matter.model_validate(data)
    except ValueError as exc:
        raise CheckError("invalid_matter", str(exc)) from exc
    if validated.amount is not None:
        _check_amount(validated.amount)
    _check_texts(validated)
    return validated


def _check_amount(amount: float) -> None:
    """Refuse an amount that is not a finite number of yuan in [0, AMOUNT_MAX] (NaN fails both tests)."""
    if not 0.0 <= amount <= AMOUNT_MAX:
        try:
            shown = repr(amount) if len(repr(amount)) <= 40 else f"{repr(amount)[:20]}…"
        except ValueError:  # an int of more than 4,300 digits has no repr
            shown = "…"
        raise CheckError("invalid_matter",
                         f"amount {shown} is not a number of yuan between 0 and {AMOUNT_MAX:.0f} / "
                         f"金额 {shown} 不是 0 至 {AMOUNT_MAX:.0f} 元之间的数")


def _check_organizer(organizer: object) -> None:
    """Refuse an organiser outside the vocabulary: a condition on it would silently never match."""
    if type(organizer) is not str or organizer not in ORGANIZERS:
        shown = repr(organizer) if len(repr(organizer)) <= 40 else f"{repr(organizer)[:20]}…"
        known = ", ".join(ORGANIZERS)
        raise CheckError("invalid_matter", identifiers.mask_text(
            f"organizer {shown} is not one of {known} / 事项主办系统 {shown} 不是 {known} 之一"))


def _check_texts(matter: Matter) -> None:
    """Refuse matter text that cannot be stored and read everywhere: an unpaired surrogate (not UTF-8,
    no rule could read it) or a NUL (PostgreSQL cannot store it in the case)."""
    for key in ("item_code", "application_no", "department", "department_code", "region_code"):
        value = getattr(matter, key)
        if value is None:
            continue
        if "\x00" in value:
            raise CheckError("invalid_matter", f"{key} holds a NUL character / {key} 含有空字符 (NUL)")
        if not value.isascii() and _SURROGATE.search(value):
            raise CheckError("invalid_matter", f"{key} holds an unpaired surrogate ({value!a}) / "
                                               f"{key} 含有不成对的代理字符")


_AGE = re.compile(r"([0-9]+)([mhd])")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_max_data_age(text: str) -> dt.timedelta:
    """The age ``36h``, ``7d`` or ``90m`` (a positive whole number of minutes, hours or days).

    Raises:
        ValueError: anything else, with a message saying what is expected.
    """
    match = _AGE.fullmatch(text.strip().lower())
    try:
        age = dt.timedelta(**{_AGE_UNITS[match[2]]: int(match[1])}) if match else dt.timedelta(0)
    except OverflowError:
        age = dt.timedelta(0)
    if age <= dt.timedelta(0):
        raise ValueError(f"{text!r} is not an age such as 36h or 7d (whole minutes m, hours h or days d) "
                         "/ 数据时效须写作 36h 或 7d 等")
    return age


def _max_data_age(given: dt.timedelta | None) -> dt.timedelta | None:
    if given is None:
        text = os.environ.get("JOINT_SANCTIONS_MAX_DATA_AGE")
        if not text:
            return None
        try:
            return parse_max_data_age(text)
        except ValueError as exc:
            raise CheckError("invalid_max_data_age", f"JOINT_SANCTIONS_MAX_DATA_AGE: {exc}") from None
    if given <= dt.timedelta(0):
        raise CheckError("invalid_max_data_age", f"max_data_age must be positive, not {given}")
    return given


def _shown_age(age: dt.timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return str(age)
