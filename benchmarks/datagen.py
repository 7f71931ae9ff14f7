"""Deterministic synthetic inputs for the benchmark: credit records, generated measures, a check stream.

Everything here depends only on the parameters and the seed, never on the clock or on the library's
internals: the same parameters give byte-identical files and the same stream on every run, so the
records CSV and the measure YAML files are reused when already present (a ``.ok`` stamp next to
them records the parameters they were written with).

Each part draws from its own ``random.Random`` (seeded from the seed and the part's name), so
changing the number of checks does not change the records, and so on.
"""

from __future__ import annotations

import array
import csv
import datetime as dt
import json
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Bump when the generator's output changes, so stale files in benchmarks/data/ are not reused.
GENERATOR_VERSION = 6

# Checks run at the current time, through the engine's default clock (the production path). So
# that the answers do not depend on the day of the run, every date is placed either before 2022 or
# from 2100 on: a record or measure has the same status on any check day from 2022 to 2099.
FIRST_DAY, LAST_DAY = dt.date(2022, 1, 1), dt.date(2099, 12, 31)
#: A day inside that window, used to decide which records count as active.
REFERENCE_DAY = dt.date(2025, 6, 1)
_PAST = dt.date(2016, 1, 1).toordinal()  # records listed 2016 … 2020
_PAST_END = FIRST_DAY.toordinal() - 1  # expired records expire by 2021-12-31
_FUTURE = dt.date(2100, 1, 1).toordinal()

PUNISHMENT_LISTS = (
    "court_defaulter",
    "major_tax_violator",
    "procurement_violator",
    "market_serious_violator",
    "wage_arrears",
    "safety_serious_violator",
    "trading_serious_violator",
    "government_dishonesty",
)
INCENTIVE_LISTS = ("tax_credit_a", "customs_advanced", "honesty_model")
LIST_TYPES = PUNISHMENT_LISTS + INCENTIVE_LISTS
MATTER_TYPES = (
    "central_budget_funds",
    "special_bond",
    "financing_recommendation",
    "government_procurement",
    "bidding",
    "fiscal_funds",
    "support_policy",
    "honors",
    "pilot_demonstration",
    "qualification_review",
    "administrative_licensing",
    "civil_servant_hiring",
    "deputy_eligibility",
)
SUBJECT_TYPES = (
    "legal_person",
    "unincorporated_org",
    "individual_business",
    "natural_person",
    "government_body",
)

# --- identifiers (domain.md §6) -------------------------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {ch: i for i, ch in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_REGIONS = (
    "410100",
    "410102",
    "410103",
    "410104",
    "410105",
    "410106",
    "410108",
    "410122",
    "410181",
    "410182",
    "410183",
    "410184",
    "410185",
)
# Registration prefix (department + category) of a USCC per subject type.
_USCC_PREFIX = {
    "legal_person": "91",
    "individual_business": "92",
    "unincorporated_org": "93",
    "government_body": "11",
}
_BIRTH_EPOCH = dt.date(1955, 1, 1).toordinal()
_BIRTH_SPAN = 18_000  # days: births 1955-01-01 … 2004-04-13

# Index ranges of the identifier spaces, kept apart so a generated id means one subject only.
UNLISTED_OFFSET = 10**12  # organisations and people that are on no list
REP_OFFSET = 5_000_000  # resident ids of unlisted related parties (listed people use 0 … n)


def uscc(number: int, subject_type: str = "legal_person") -> str:
    """A valid 统一社会信用代码 for ``number`` (distinct numbers give distinct codes)."""
    digits = []
    n = number
    for _ in range(9):
        n, r = divmod(n, 31)
        digits.append(_USCC_ALPHABET[r])
    body = _USCC_PREFIX[subject_type] + _REGIONS[number % len(_REGIONS)] + "".join(reversed(digits))
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


def resident_id(number: int) -> str:
    """A valid 居民身份证号码 for ``number`` < 18,000,000 (distinct numbers give distinct ids)."""
    birth = dt.date.fromordinal(_BIRTH_EPOCH + number % _BIRTH_SPAN)
    seq = (number // _BIRTH_SPAN) % 1000
    body = f"410102{birth:%Y%m%d}{seq:03d}"
    return body + _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def today_cst() -> dt.date:
    """Today in China Standard Time: the engine's check date with its default clock."""
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def day_number(day: dt.date) -> int:
    """YYYYMMDD as an integer: what the engine's compiled rules compare ``check.day`` with."""
    return day.year * 10000 + day.month * 100 + day.day


# --- parameters and stamps ------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    records: int
    checks: int
    measures: int
    seed: int
    listed_share: float = 0.02
    inactive_share: float = 0.005
    related_share: float = 0.05
    hit_stream: int = 4000  # checks in the all-hit stream (distinct listed subjects)
    amount_variants: int = 4  # draws of its amounts: each timed pass takes the next

    def records_key(self) -> dict[str, Any]:
        return {"records": self.records, "seed": self.seed, "version": GENERATOR_VERSION}

    def measures_key(self) -> dict[str, Any]:
        return {"measures": self.measures, "seed": self.seed, "version": GENERATOR_VERSION}


def _stamp_ok(path: Path, key: dict[str, Any]) -> bool:
    stamp = path.with_name(path.name + ".ok")
    try:
        return path.exists() and json.loads(stamp.read_text()) == key
    except (OSError, ValueError):
        return False


def _write_stamp(path: Path, key: dict[str, Any]) -> None:
    path.with_name(path.name + ".ok").write_text(json.dumps(key))


# --- credit records -------------------------------------------------------------------------------

_AUTHORITIES = {
    "court_defaulter": (
        "郑州市中级人民法院",
        "郑州市金水区人民法院",
        "郑州市中原区人民法院",
        "新郑市人民法院",
    ),
    "major_tax_violator": ("国家税务总局郑州市税务局", "国家税务总局河南省税务局"),
    "procurement_violator": ("郑州市财政局", "河南省财政厅"),
    "market_serious_violator": ("郑州市市场监督管理局", "河南省市场监督管理局"),
    "wage_arrears": ("郑州市人力资源和社会保障局",),
    "safety_serious_violator": ("郑州市应急管理局",),
    "trading_serious_violator": ("郑州市公共资源交易中心", "郑州市发展和改革委员会"),
    "government_dishonesty": ("河南省社会信用体系建设领导小组办公室",),
    "tax_credit_a": ("国家税务总局郑州市税务局",),
    "customs_advanced": ("郑州海关",),
    "honesty_model": ("郑州市发展和改革委员会",),
}
_AUTHORITY_LIST = tuple(sorted({a for names in _AUTHORITIES.values() for a in names}))
_AUTHORITY_INDEX = {lt: tuple(_AUTHORITY_LIST.index(a) for a in names) for lt, names in _AUTHORITIES.items()}
#: Reasons; the first two are the ones the shipped measure NAT-LIC-001 conditions on.
REASONS = (
    "隐瞒有关情况或者提供虚假材料申请行政许可",
    "以欺骗、贿赂等不正当手段取得行政许可",
    "有履行能力而拒不履行生效法律文书确定义务",
    "逃避追缴欠税",
    "提供虚假材料谋取中标",
    "拖欠农民工工资",
    "发生较大及以上生产安全责任事故",
    "串通投标",
    "不履行政府承诺",
    "",
)
_REASON_WEIGHTS = (2, 2, 40, 8, 5, 6, 3, 5, 2, 27)
_STATUSES = ("active", "repaired", "removed")

# Subject kinds of listed subjects (weights) and the lists each kind lands on (weights).
_KIND_WEIGHTS = {
    "legal_person": 78,
    "individual_business": 5,
    "unincorporated_org": 1.5,
    "government_body": 1.5,
    "natural_person": 14,
}
_LISTS_FOR_KIND = {
    "natural_person": {"court_defaulter": 85, "major_tax_violator": 4, "wage_arrears": 8, "honesty_model": 3},
    "government_body": {"government_dishonesty": 70, "court_defaulter": 30},
    "org": {
        "court_defaulter": 42,
        "major_tax_violator": 7,
        "procurement_violator": 3,
        "market_serious_violator": 11,
        "wage_arrears": 4,
        "safety_serious_violator": 3,
        "trading_serious_violator": 3,
        "tax_credit_a": 20,
        "customs_advanced": 2,
        "honesty_model": 5,
    },
}


@dataclass
class Records:
    """The generated records, column-wise (compact: 1,000,000 records in a few tens of MB)."""

    subject_types: list[str]  # per listed subject index
    subject: array.array[int] = field(default_factory=lambda: array.array("i"))
    list_type: array.array[int] = field(default_factory=lambda: array.array("b"))
    listed_on: array.array[int] = field(default_factory=lambda: array.array("i"))  # ordinal
    expires_on: array.array[int] = field(default_factory=lambda: array.array("i"))  # ordinal, 0 = none
    status: array.array[int] = field(default_factory=lambda: array.array("b"))
    authority: array.array[int] = field(default_factory=lambda: array.array("b"))
    reason: array.array[int] = field(default_factory=lambda: array.array("b"))

    def __len__(self) -> int:
        return len(self.subject)

    def subject_id(self, index: int) -> str:
        kind = self.subject_types[index]
        return resident_id(index) if kind == "natural_person" else uscc(index, kind)

    def is_active(self, i: int, day_ordinal: int) -> bool:
        expires = self.expires_on[i]
        return (
            self.status[i] == 0
            and self.listed_on[i] <= day_ordinal
            and (expires == 0 or day_ordinal < expires)
        )

    def record_id(self, i: int) -> str:
        return f"BR{i:09d}"

    def document_no(self, i: int) -> str:
        return f"郑信〔{dt.date.fromordinal(self.listed_on[i]).year}〕{i % 9973 + 1}号"


def generate_records(params: Params) -> Records:
    """Records over ~62 % as many subjects as records (so some subjects have several records)."""
    rng = random.Random(params.seed * 1009 + 1)
    n = params.records
    n_subjects = max(1, int(n * 0.62))
    kinds, kind_weights = zip(*_KIND_WEIGHTS.items(), strict=True)
    subject_types = rng.choices(kinds, weights=kind_weights, k=n_subjects)
    recs = Records(subject_types=list(subject_types))
    list_index = {lt: i for i, lt in enumerate(LIST_TYPES)}
    tables = {}
    for key, weights in _LISTS_FOR_KIND.items():
        names, w = zip(*weights.items(), strict=True)
        tables[key] = (tuple(list_index[name] for name in names), w)
    reason_idx = range(len(REASONS))
    for i in range(n):
        s = i if i < n_subjects else rng.randrange(n_subjects)
        kind = subject_types[s]
        lists, weights = tables[kind if kind in ("natural_person", "government_body") else "org"]
        lt = rng.choices(lists, weights=weights)[0]
        listed = _PAST + rng.randrange(5 * 365)
        r = rng.random()
        if r < 0.25:
            expires = 0  # open-ended
        elif r < 0.60:
            expires = _FUTURE + rng.randrange(5 * 365)  # still running
        else:
            expires = listed + 30 + rng.randrange(_PAST_END - listed - 30)  # expired before 2022
        r = rng.random()
        status = 0 if r < 0.92 else (1 if r < 0.97 else 2)
        recs.subject.append(s)
        recs.list_type.append(lt)
        recs.listed_on.append(listed)
        recs.expires_on.append(expires)
        recs.status.append(status)
        recs.authority.append(rng.choice(_AUTHORITY_INDEX[LIST_TYPES[lt]]))
        recs.reason.append(rng.choices(reason_idx, weights=_REASON_WEIGHTS)[0])
    return recs


def write_records_csv(recs: Records, path: Path, key: dict[str, Any]) -> bool:
    """Write the import file (design.md §6 columns); False when an identical one was already there."""
    if _stamp_ok(path, key):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    ids: dict[int, str] = {}
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            (
                "record_id",
                "list_type",
                "subject_id",
                "subject_name",
                "subject_type",
                "authority",
                "document_no",
                "listed_on",
                "expires_on",
                "status",
                "reason",
            )
        )
        for i in range(len(recs)):
            s = recs.subject[i]
            sid = ids.get(s)
            if sid is None:
                sid = ids[s] = recs.subject_id(s)
            kind = recs.subject_types[s]
            name = f"张某{s}" if kind == "natural_person" else f"郑州某某{s}有限公司"
            expires = recs.expires_on[i]
            w.writerow(
                (
                    recs.record_id(i),
                    LIST_TYPES[recs.list_type[i]],
                    sid,
                    name,
                    kind,
                    _AUTHORITY_LIST[recs.authority[i]],
                    recs.document_no(i),
                    dt.date.fromordinal(recs.listed_on[i]).isoformat(),
                    dt.date.fromordinal(expires).isoformat() if expires else "",
                    _STATUSES[recs.status[i]],
                    REASONS[recs.reason[i]],
                )
            )
    os.replace(tmp, path)
    _write_stamp(path, key)
    return True


# --- measures -------------------------------------------------------------------------------------

_DEPARTMENTS = (
    "发展改革部门",
    "财政部门",
    "税务部门",
    "市场监管部门",
    "人力资源社会保障部门",
    "住房城乡建设部门",
    "交通运输部门",
    "应急管理部门",
    "公共资源交易中心",
    "有关部门",
)
_MATTER_WEIGHTS = {
    "government_procurement": 14,
    "bidding": 14,
    "administrative_licensing": 12,
    "fiscal_funds": 10,
    "support_policy": 10,
    "qualification_review": 8,
    "honors": 7,
    "central_budget_funds": 5,
    "special_bond": 4,
    "financing_recommendation": 5,
    "pilot_demonstration": 4,
    "civil_servant_hiring": 3,
    "deputy_eligibility": 4,
}
_AMOUNT_THRESHOLDS = (100_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000)


def _measure(rng: random.Random, i: int) -> dict[str, Any]:
    incentive = rng.random() < 0.15
    if incentive:
        kind, effect, mandatory = "incentive", "incentive", False
        lists = rng.sample(INCENTIVE_LISTS, rng.randint(1, 3))
    else:
        kind = "punishment"
        effect = rng.choices(("prohibit", "restrict", "strict_review", "reference"), (25, 45, 20, 10))[0]
        mandatory = rng.random() < (0.8 if effect == "prohibit" else 0.4)
        lists = (
            list(PUNISHMENT_LISTS)
            if rng.random() < 0.12
            else rng.sample(PUNISHMENT_LISTS, rng.choices((1, 2, 3), (55, 30, 15))[0])
        )
    names, weights = zip(*_MATTER_WEIGHTS.items(), strict=True)
    matters: list[str] = []
    for _ in range(rng.choices((1, 2, 3, 4), (40, 30, 20, 10))[0]):
        m = rng.choices(names, weights)[0]
        if m not in matters:
            matters.append(m)
    article = "" if rng.random() < 0.3 else f"第{rng.randint(1, 60)}条"
    m: dict[str, Any] = {
        "id": f"GEN-{i:04d}",
        "name": f"生成措施{i}：对相关失信主体依法依规实施联合惩戒"
        if not incentive
        else f"生成措施{i}：守信激励",
        "kind": kind,
        "effect": effect,
        "mandatory": mandatory,
        "list_types": lists,
        "matter_types": matters,
        "legal_basis": [
            {
                "document": f"关于对失信主体实施联合惩戒的合作备忘录（生成{i % 40}）",
                "number": f"发改财金〔20{10 + i % 15}〕{100 + i % 900}号",
                "article": article,
            }
        ],
        "basis_status": "confirmed" if article and rng.random() < 0.7 else "unconfirmed",
        "implementing_departments": rng.sample(_DEPARTMENTS, rng.randint(1, 3)),
    }
    if not incentive and rng.random() < 0.15:
        m["subject_types"] = rng.sample(SUBJECT_TYPES, rng.randint(1, 3))
    if not incentive and rng.random() < 0.12:
        m["related_party_roles"] = rng.choice(
            (["legal_representative"], ["legal_representative", "principal"], ["principal"])
        )
    if rng.random() < 0.25:
        m["condition"] = _condition(rng)
    r = rng.random()
    day = dt.date.fromordinal
    if r < 0.10:  # took effect in the past
        m["valid_from"] = day(dt.date(2010, 1, 1).toordinal() + rng.randrange(4000))
    elif r < 0.13:  # not yet in force on the check day
        m["valid_from"] = day(_FUTURE + rng.randrange(400))
    elif r < 0.16:  # expired before the check day
        m["valid_to"] = day(dt.date(2019, 1, 1).toordinal() + rng.randrange(1000))
    elif r < 0.20:  # a window around it
        m["valid_from"] = day(dt.date(2012, 1, 1).toordinal() + rng.randrange(1000))
        m["valid_to"] = day(dt.date(2099, 1, 1).toordinal() + rng.randrange(300))
    if rng.random() < 0.3:
        m["tags"] = [f"gen_tag_{i % 17}"]
    return m


def _condition(rng: random.Random) -> str:
    amount = rng.choice(_AMOUNT_THRESHOLDS)
    r = rng.random()
    if r < 0.50:
        return f"matter.amount >= {amount}"
    if r < 0.60:
        return f"matter.amount < {amount}"
    if r < 0.72:
        picked = rng.sample(REASONS[:9], 2)
        return f"record.reason in ['{picked[0]}', '{picked[1]}']"
    if r < 0.82:
        return f"record.authority != '{rng.choice(_AUTHORITY_LIST)}'"
    if r < 0.92:
        return f"matter.amount >= {amount} and record.reason != '{rng.choice(REASONS[:9])}'"
    return f"not (matter.amount < {amount}) or subject.subject_type == 'government_body'"


def _within_engine_limits(measures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The measures with every list type × matter type group kept within what the rule engine takes.

    The loader refuses a group whose rules have too many alternatives (``rules_too_large``), as lint
    counts them; a generated measure leaves out the matter types that would take one of its groups
    over, and is left out itself when none remains, so the generated lists always load.
    """
    from joint_sanctions._compile import MAX_RULESET_ALTERNATIVES, MAX_RULESET_FIRINGS, residual_of
    from joint_sanctions._conditions import alternatives, coincident
    from joint_sanctions._load import load_measure_lists, shipped_measures_dir

    used: dict[tuple[str, str], tuple[int, int]] = {}
    seen: dict[tuple[str, str], set[object]] = {}
    # The generated lists load after the shipped ones, whose rules already fill some groups.
    for shipped in (m for f in load_measure_lists([str(shipped_measures_dir())]) for m in f.measures):
        residual = residual_of(shipped.valid_from, shipped.valid_to, shipped.subject_types,
                               shipped.related_party_roles, shipped.condition, requires_ban=shipped.requires_ban,
                               requires_overdue=shipped.requires_overdue)
        for key in ((lt, mt) for lt in shipped.list_types for mt in shipped.matter_types):
            if residual not in seen.setdefault(key, set()):
                seen[key].add(residual)
                p, f = used.get(key, (0, 0))
                used[key] = p + alternatives(residual), f + coincident(residual)
    kept = []
    for m in measures:
        residual = residual_of(m.get("valid_from"), m.get("valid_to"), m.get("subject_types"),
                               m.get("related_party_roles", ()), m.get("condition"))
        paths, firings = alternatives(residual), coincident(residual)

        def fits(key: tuple[str, str], residual: object = residual, size: tuple[int, int] = (paths, firings)) -> bool:
            if residual in seen.get(key, ()):
                return True  # the compiler shares one rule per distinct residual condition
            p, f = used.get(key, (0, 0))
            return p + size[0] <= MAX_RULESET_ALTERNATIVES and f + size[1] <= MAX_RULESET_FIRINGS

        m["matter_types"] = [mt for mt in m["matter_types"] if all(fits((lt, mt)) for lt in m["list_types"])]
        if not m["matter_types"]:
            continue
        for key in ((lt, mt) for lt in m["list_types"] for mt in m["matter_types"]):
            if residual not in seen.setdefault(key, set()):
                seen[key].add(residual)
                p, f = used.get(key, (0, 0))
                used[key] = p + paths, f + firings
        kept.append(m)
    return kept


def write_measures(params: Params, directory: Path) -> bool:
    """Write ``params.measures`` generated measures, 100 per YAML file; False when already there."""
    key = params.measures_key()
    if _stamp_ok(directory, key):
        return False
    rng = random.Random(params.seed * 1009 + 2)
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        for old in tmp.iterdir():
            old.unlink()
    tmp.mkdir(parents=True, exist_ok=True)
    measures = _within_engine_limits([_measure(rng, i) for i in range(params.measures)])
    for part in range(0, len(measures), 100):
        doc = {
            "edition": "2025",
            "issuer": "基准测试生成（benchmark, synthetic）",
            "region_code": "410100",
            "measures": measures[part : part + 100],
        }
        text = (
            "# Generated by benchmarks/datagen.py: synthetic measures for the benchmark, not policy.\n"
            + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)
        )
        (tmp / f"generated_{part // 100:03d}.yaml").write_text(text, encoding="utf-8")
    if directory.exists():
        for old in directory.iterdir():
            old.unlink()
        directory.rmdir()
    os.replace(tmp, directory)
    _write_stamp(directory, key)
    return True


# --- the check stream -----------------------------------------------------------------------------

_AMOUNT_MATTERS = {
    "central_budget_funds",
    "special_bond",
    "financing_recommendation",
    "government_procurement",
    "bidding",
    "fiscal_funds",
    "support_policy",
}
_AMOUNTS = (50_000, 300_000, 1_000_000, 5_000_000, 20_000_000)


def random_amount(rng: random.Random) -> int:
    """An amount in yuan for a check that names a listed subject: log-uniform from 10,000 to 50,000,000,
    one draw in five on or next to a threshold the generated conditions compare with."""
    if rng.random() < 0.2:
        return rng.choice(_AMOUNT_THRESHOLDS) + rng.choice((-1, 0, 0, 1))
    return round(10 ** rng.uniform(4, 7.7))


@dataclass
class Check:
    subject_id: str
    matter_type: str
    amount: int | None
    related_role: str | None
    related_id: str | None
    listed: bool  # the subject or its related party has an active record
    subject_type: str  # what the engine derives: own active records' type, else inferred from the id
    id_kind: str

    def as_row(self) -> list[Any]:
        return [
            self.subject_id,
            self.matter_type,
            self.amount,
            self.related_role,
            self.related_id,
            self.listed,
            self.subject_type,
            self.id_kind,
        ]


@dataclass
class Stream:
    checks: list[Check]
    #: Checks that all name a subject with an active record, distinct subjects, none named by
    #: ``checks``; ``hit_amounts[v][i]`` is check i's amount in draw v (None: a matter without amount).
    hit_checks: list[Check]
    hit_amounts: list[list[int | None]]
    #: Active records (as the store would return them) of every subject or related party that a
    #: listed check names: subject id → [(record_id, list_type, authority, document_no, reason)].
    active: dict[str, list[tuple[str, str, str, str, str]]]
    #: Every subject id with at least one active record (what the dict floor holds).
    listed_ids: list[str]


def _inferred_type(subject_type: str) -> str:
    # design.md §5 inference from a USCC's first characters; what the engine falls back to.
    return {
        "government_body": "government_body",
        "individual_business": "individual_business",
        "natural_person": "natural_person",
    }.get(subject_type, "legal_person")


def generate_stream(params: Params, recs: Records) -> Stream:
    """Checks: ~``listed_share`` name a subject (or related party) with an active record."""
    rng = random.Random(params.seed * 1009 + 3)
    today = REFERENCE_DAY.toordinal()
    n_subjects = len(recs.subject_types)
    active_by_subject: list[bool] = [False] * n_subjects
    any_by_subject: list[bool] = [False] * n_subjects
    for i in range(len(recs)):
        s = recs.subject[i]
        any_by_subject[s] = True
        if recs.is_active(i, today):
            active_by_subject[s] = True
    listed = [s for s in range(n_subjects) if active_by_subject[s]]
    inactive_only = [s for s in range(n_subjects) if any_by_subject[s] and not active_by_subject[s]]
    listed_people = [s for s in listed if recs.subject_types[s] == "natural_person"]
    n = params.checks
    n_listed = round(n * params.listed_share)
    n_inactive = min(round(n * params.inactive_share), len(inactive_only))
    # Listed checks name distinct subjects (so the dict floor can key on the subject id alone, and
    # no answer is the repeat of another's), related parties included.
    n_own = min(round(n_listed * 0.85), len(listed))
    own_subjects = rng.sample(listed, n_own)
    taken = set(own_subjects)
    people = [p for p in listed_people if p not in taken]
    rng.shuffle(people)
    people_iter = iter(people)
    n_via = n_listed - n_own
    inactive_subjects = rng.sample(inactive_only, n_inactive)
    kinds = ["own"] * n_own + ["via"] * n_via + ["inactive"] * n_inactive
    kinds += ["clear"] * (n - len(kinds))
    rng.shuffle(kinds)
    own_iter, inactive_iter = iter(own_subjects), iter(inactive_subjects)
    matter_names, matter_weights = zip(*_MATTER_WEIGHTS.items(), strict=True)
    checks: list[Check] = []
    needed: set[int] = set()
    for i, kind in enumerate(kinds):
        matter = rng.choices(matter_names, matter_weights)[0]
        amount = rng.choice(_AMOUNTS) if matter in _AMOUNT_MATTERS and rng.random() < 0.6 else None
        if amount is not None and kind in ("own", "via"):
            amount = random_amount(rng)  # not one of five values: each listed check its own amount
        role = rel_id = None
        p = next(people_iter, None) if kind in ("own", "via") else None
        if kind == "own":
            s = next(own_iter)
            needed.add(s)
            sid, stype = recs.subject_id(s), recs.subject_types[s]
            if rng.random() < 0.10 and recs.subject_types[s] != "natural_person":
                role = rng.choices(("legal_representative", "principal"), (80, 20))[0]
                if rng.random() < 0.5 and p is not None:
                    needed.add(p)
                    rel_id = recs.subject_id(p)
                else:
                    rel_id = resident_id(REP_OFFSET + i)
            checks.append(Check(sid, matter, amount, role, rel_id, True, stype, _kind_of(stype)))
        elif kind == "via" and p is not None:
            needed.add(p)
            role = rng.choices(("legal_representative", "principal"), (80, 20))[0]
            checks.append(
                Check(
                    uscc(UNLISTED_OFFSET + i),
                    matter,
                    amount,
                    role,
                    recs.subject_id(p),
                    True,
                    "legal_person",
                    "uscc",
                )
            )
        elif kind == "inactive":
            s = next(inactive_iter)
            stype = recs.subject_types[s]
            checks.append(
                Check(
                    recs.subject_id(s),
                    matter,
                    amount,
                    None,
                    None,
                    False,
                    _inferred_type(stype),
                    _kind_of(stype),
                )
            )
        else:
            if rng.random() < params.related_share:
                role = rng.choices(("legal_representative", "principal"), (80, 20))[0]
                rel_id = resident_id(REP_OFFSET + i)
            checks.append(
                Check(uscc(UNLISTED_OFFSET + i), matter, amount, role, rel_id, False, "legal_person", "uscc")
            )
    # The all-hit stream: listed subjects no check above names, each once, amounts drawn per pass.
    used = needed | taken
    fresh = [s for s in listed if s not in used]
    hit_subjects = rng.sample(fresh, min(params.hit_stream, len(fresh)))
    hit_checks: list[Check] = []
    for s in hit_subjects:
        needed.add(s)
        matter = rng.choices(matter_names, matter_weights)[0]
        stype = recs.subject_types[s]
        hit_checks.append(Check(recs.subject_id(s), matter, None, None, None, True, stype, _kind_of(stype)))
    hit_amounts = [[random_amount(rng) if c.matter_type in _AMOUNT_MATTERS else None for c in hit_checks]
                   for _ in range(params.amount_variants)]
    active: dict[str, list[tuple[str, str, str, str, str]]] = {}
    for i in range(len(recs)):
        s = recs.subject[i]
        if s in needed and recs.is_active(i, today):
            active.setdefault(recs.subject_id(s), []).append(
                (
                    recs.record_id(i),
                    LIST_TYPES[recs.list_type[i]],
                    _AUTHORITY_LIST[recs.authority[i]],
                    recs.document_no(i),
                    REASONS[recs.reason[i]],
                )
            )
    for rows in active.values():  # the store's order: (subject_id, list_type, record_id)
        rows.sort(key=lambda r: (r[1], r[0]))
    return Stream(checks=checks, hit_checks=hit_checks, hit_amounts=hit_amounts, active=active, listed_ids=[recs.subject_id(s) for s in listed])


def _kind_of(subject_type: str) -> str:
    return "resident_id" if subject_type == "natural_person" else "uscc"


def sample_indices(n: int, k: int, seed: int) -> list[int]:
    """A sorted random subset of ``range(n)`` of size ``min(k, n)`` (same seed → same subset)."""
    rng = random.Random(seed * 1009 + 4)
    return sorted(rng.sample(range(n), min(k, n)))


def iter_groups(checks: Sequence[Check]) -> Iterator[tuple[tuple[str, int | None], list[int]]]:
    """Check indices grouped by (matter type, amount): the batches ``check_many`` is timed on."""
    groups: dict[tuple[str, int | None], list[int]] = {}
    for i, c in enumerate(checks):
        groups.setdefault((c.matter_type, c.amount), []).append(i)
    yield from sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
