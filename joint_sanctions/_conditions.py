"""The small, safe condition language of measure lists, and the rule expressions built from it.

A condition is text such as ``matter.amount >= 1000000 and record.authority != '某法院'``.
It is tokenised and parsed by hand (never ``eval``) into a tree of :class:`Compare`, :class:`AnyOf`,
:class:`And` and :class:`Or` nodes over dotted field names. ``not`` is pushed down to the
comparisons while parsing, so the tree has no negation node.

Semantics: a comparison about a field the fact does not carry is false, whatever its operator, and
so is its negation (``not (matter.amount > 5)`` becomes ``matter.amount <= 5``). durable_rules
behaves that way, and :func:`evaluator` reproduces it, so both engines agree by construction.

The same tree is turned into a durable_rules JSON expression (:func:`to_durable`) and into a
Python predicate (:func:`evaluator`), the reference engine and oracle.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ._errors import JointSanctionsError
from ._identifiers import mask_text
from .vocabulary import ORGANIZERS

Scalar: TypeAlias = str | int | float | bool
Op: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]

#: Fields a measure's condition may name, with their value type.
CONDITION_FIELDS: dict[str, type] = {
    "matter.amount": float,
    "matter.item_code": str,
    "matter.region_code": str,
    "matter.department_code": str,
    "matter.organizer": str,
    "subject.subject_type": str,
    "subject.id_kind": str,
    "record.list_type": str,
    "record.authority": str,
    "record.document_no": str,
    "record.reason": str,
}

#: Fields whose value is an id of docs/vocabulary.md: a condition naming another value could never hold.
CONDITION_VALUES: dict[str, Mapping[str, str]] = {"matter.organizer": ORGANIZERS}

#: The largest amount (yuan) a matter may carry, and a condition may name: 10^15, far above any
#: matter (China's yearly GDP is ~1.3 × 10^14), and below 10^16, where a float's shortest form
#: turns to exponent notation that durable_rules cannot read.
AMOUNT_MAX = 1e15
#: Amounts are compared to the fen (0.01 yuan): more decimals in a condition mean nothing, and
#: below 10^-4 a float is written in exponent notation that durable_rules refuses (error 204).
AMOUNT_DECIMALS = 2

_NEGATE: dict[str, Op] = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_DURABLE_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ORDERING = {"<", "<=", ">", ">="}


class ConditionError(JointSanctionsError):
    """A condition that does not parse or is not allowed; ``offset`` is the 0-based column in the text."""

    def __init__(self, code: str, message: str, offset: int) -> None:
        self.code = code
        self.offset = offset
        # Messages quote the condition's text, which may hold a resident id (errors.py: never in clear).
        super().__init__(mask_text(message))


@dataclass(frozen=True)
class Compare:
    field: str
    op: Op
    value: Scalar


@dataclass(frozen=True)
class AnyOf:
    """``field in [...]`` (or, negated, ``field not in [...]``)."""

    field: str
    values: tuple[Scalar, ...]
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


Expr: TypeAlias = Compare | AnyOf | And | Or


def fact_key(field: str) -> str:
    """The flat key a dotted field has in a fact (durable_rules matches top-level keys best)."""
    return field.replace(".", "__")


# --- tokenising and parsing ----------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[()\[\],])
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*)
""", re.VERBOSE)

_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
_MAX_DEPTH = 32      # nested brackets / 'not': far beyond any real measure, far below Python's stack
_MAX_NUMBER_LEN = 30  # digits: beyond this a literal is a typo, and int() would refuse it anyway


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenise(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConditionError("condition_syntax",
                                 f"unexpected character {text[pos]!r} / 无法识别的字符 {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            word = m.group()
            tokens.append(_Tok("kw" if kind == "name" and word in _KEYWORDS else kind, word, pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*; and_expr := unary ('and' unary)*."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenise(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text != text):
            want = text or kind
            found = tok.text or "end of condition"
            raise ConditionError("condition_syntax",
                                 f"expected {want!r}, found {found!r} / 此处应为 {want!r}，实际为 {found!r}",
                                 tok.pos)
        return tok

    def parse(self) -> Expr:
        expr = self.or_expr(negate=False)
        tok = self.peek()
        if tok.kind != "end":
            raise ConditionError("condition_syntax",
                                 f"unexpected {tok.text!r} after a complete condition / 条件末尾多余 {tok.text!r}",
                                 tok.pos)
        return expr

    def or_expr(self, negate: bool) -> Expr:
        items = [self.and_expr(negate)]
        while self.peek().kind == "kw" and self.peek().text == "or":
            self.take()
            items.append(self.and_expr(negate))
        # De Morgan: under negation an 'or' of negated items is an 'and'
        return _join(items, conjunction=negate)

    def and_expr(self, negate: bool) -> Expr:
        items = [self.unary(negate)]
        while self.peek().kind == "kw" and self.peek().text == "and":
            self.take()
            items.append(self.unary(negate))
        return _join(items, conjunction=not negate)

    def unary(self, negate: bool) -> Expr:
        tok = self.peek()
        if tok.kind == "kw" and tok.text == "not" or tok.kind == "punct" and tok.text == "(":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise ConditionError("condition_syntax",
                                     f"nested more than {_MAX_DEPTH} levels deep / 嵌套超过 {_MAX_DEPTH} 层",
                                     tok.pos)
            self.take()
            if tok.text == "not":
                inner = self.unary(not negate)
            else:
                inner = self.or_expr(negate)
                self.expect("punct", ")")
            self.depth -= 1
            return inner
        return self.comparison(negate)

    def comparison(self, negate: bool) -> Expr:
        tok = self.take()
        if tok.kind != "name":
            found = tok.text or "end of condition"
            raise ConditionError("condition_syntax",
                                 f"expected a field such as 'matter.amount', found {found!r} / "
                                 f"此处应为字段名（如 matter.amount），实际为 {found!r}", tok.pos)
        field = tok.text
        if self.peek().kind == "punct" and self.peek().text == "(":
            raise ConditionError("condition_unsafe",
                                 "function calls are not allowed in conditions / 条件中不允许调用函数",
                                 self.peek().pos)
        if field not in CONDITION_FIELDS:
            known = ", ".join(sorted(CONDITION_FIELDS))
            raise ConditionError("condition_unknown_field",
                                 f"unknown field {field!r} (known: {known}) / 未知字段 {field!r}", tok.pos)
        op_tok = self.take()
        if op_tok.kind == "kw" and op_tok.text == "not":
            self.expect("kw", "in")
            return self.membership(field, negated=not negate)
        if op_tok.kind == "kw" and op_tok.text == "in":
            return self.membership(field, negated=negate)
        if op_tok.kind != "op":
            found = op_tok.text or "end of condition"
            raise ConditionError("condition_syntax",
                                 f"expected a comparison (==, !=, <, <=, >, >=, in), found {found!r} / "
                                 f"此处应为比较运算符，实际为 {found!r}", op_tok.pos)
        op: Op = op_tok.text  # type: ignore[assignment]  # the regex admits only the six operators
        value_tok = self.peek()
        value = self.literal()
        _check_type(field, op, value, value_tok.pos)
        return Compare(field, _NEGATE[op] if negate else op, value)

    def membership(self, field: str, negated: bool) -> Expr:
        self.expect("punct", "[")
        values: list[Scalar] = []
        while True:
            pos = self.peek().pos
            value = self.literal()
            _check_type(field, "==", value, pos)
            values.append(value)
            if self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                continue
            self.expect("punct", "]")
            return AnyOf(field, tuple(values), negated)

    def literal(self) -> Scalar:
        tok = self.take()
        if tok.kind == "number":
            if len(tok.text) > _MAX_NUMBER_LEN:
                raise ConditionError("condition_syntax",
                                     f"number longer than {_MAX_NUMBER_LEN} digits / 数字超过 {_MAX_NUMBER_LEN} 位",
                                     tok.pos)
            decimals = tok.text.partition(".")[2]
            number = float(tok.text) if decimals else int(tok.text)
            if len(decimals) > AMOUNT_DECIMALS or abs(number) > AMOUNT_MAX:
                raise ConditionError("condition_number",
                                     f"{tok.text} is not an amount the rules can compare: at most "
                                     f"{AMOUNT_DECIMALS} decimals (fen) and at most {AMOUNT_MAX:.0f} / "
                                     f"{tok.text} 不是可比较的金额：最多 {AMOUNT_DECIMALS} 位小数（分），"
                                     f"绝对值不超过 {AMOUNT_MAX:.0f}", tok.pos)
            return number
        if tok.kind == "string":
            return re.sub(r"\\(.)", r"\1", tok.text[1:-1])
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return tok.text == "true"
        found = tok.text or "end of condition"
        raise ConditionError("condition_syntax",
                             f"expected a number, a quoted string, true or false, found {found!r} / "
                             f"此处应为数字、带引号的文本或 true/false，实际为 {found!r}", tok.pos)


def _check_type(field: str, op: str, value: Scalar, pos: int) -> None:
    want = CONDITION_FIELDS[field]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if want is float and not is_number:
        raise ConditionError("condition_type",
                             f"{field} is a number; {value!r} is not / {field} 是数值，{value!r} 不是数值", pos)
    if want is str and not isinstance(value, str):
        raise ConditionError("condition_type",
                             f"{field} is text; quote the value / {field} 是文本，值需加引号", pos)
    known = CONDITION_VALUES.get(field)
    if known is not None and value not in known:
        ids = ", ".join(known)
        raise ConditionError("condition_type",
                             f"{field} is one of {ids}; {value!r} is not / {field} 只能是 {ids}，{value!r} 不是",
                             pos)
    if want is str and op in _ORDERING:
        raise ConditionError("condition_type",
                             f"{field} is text and cannot be ordered with {op} / 文本字段 {field} 不能用 {op} 比较",
                             pos)


def _join(items: list[Expr], conjunction: bool) -> Expr:
    if len(items) == 1:
        return items[0]
    return And(tuple(items)) if conjunction else Or(tuple(items))


def parse_condition(text: str) -> Expr:
    """Parse a measure condition into a negation-free expression tree.

    Raises:
        ConditionError: with ``code`` (condition_syntax, condition_unknown_field, condition_type,
            condition_unsafe, condition_number) and ``offset`` (0-based column in ``text``).
    """
    if not text.strip():
        raise ConditionError("condition_syntax", "the condition is empty / 条件为空", 0)
    return _Parser(text).parse()


# --- the two back ends ---------------------------------------------------------------------------

#: An ``in`` list with at least this many values is tested beside durable_rules, as a set (see
#: :func:`to_durable`): durable_rules hangs creating a ruleset in which one test node has more than
#: 511 alternatives below it (its fixed 512-slot table fills up, measured with durable_rules 2.0.28),
#: and a long ``in`` list is exactly that.
SET_TEST_MIN = 9


def is_set_test(expr: Expr) -> bool:
    """Whether ``expr`` is an ``in`` list long enough to be tested as a set beside durable_rules."""
    return isinstance(expr, AnyOf) and len(expr.values) >= SET_TEST_MIN


def set_key(expr: AnyOf) -> str:
    """The fact key that carries the outcome of a set test: named by its content, never by its place."""
    blob = json.dumps([expr.field, sorted(map(repr, expr.values)), expr.negated], ensure_ascii=True)
    return "in__" + hashlib.sha1(blob.encode("ascii"), usedforsecurity=False).hexdigest()[:12]


def set_tests(expr: Expr) -> list[AnyOf]:
    """Every set test in ``expr`` (see :func:`is_set_test`)."""
    if is_set_test(expr):
        return [expr]  # type: ignore[list-item]  # is_set_test checked the type
    if isinstance(expr, And | Or):
        return [t for e in expr.items for t in set_tests(e)]
    return []


def alternatives(expr: Expr) -> int:
    """How many alternative paths durable_rules builds for ``expr`` (its ``$or`` branches multiplied out).

    Set tests and ``not in`` lists count one: they are one test, or one chain of tests.
    """
    if isinstance(expr, Compare):
        return 1
    if isinstance(expr, AnyOf):
        return 1 if expr.negated or is_set_test(expr) else len(expr.values)
    if isinstance(expr, And):
        return math.prod(alternatives(e) for e in expr.items)
    return sum(alternatives(e) for e in expr.items)


def coincident(expr: Expr) -> int:
    """At most how many of the alternative paths of ``expr`` one fact can meet at once.

    The values of an ``in`` list exclude each other (one field has one value), so a list counts one.
    """
    if isinstance(expr, Compare):
        return 1
    if isinstance(expr, AnyOf):
        # 1 and 1.0 are one value to Python but may be two paths to durable_rules
        return 1 if expr.negated or is_set_test(expr) else 1 + len(expr.values) - len(set(expr.values))
    if isinstance(expr, And):
        return math.prod(coincident(e) for e in expr.items)
    return sum(coincident(e) for e in expr.items)


def to_durable(expr: Expr, *, sets: bool = False) -> dict[str, Any]:
    """The durable_rules JSON expression for ``expr`` (fact keys flattened with :func:`fact_key`).

    With ``sets``, a long ``in`` list becomes a test of the fact key :func:`set_key`, whose value
    the caller computes with :func:`set_member` before asserting the fact.
    """
    if isinstance(expr, Compare):
        key = fact_key(expr.field)
        if expr.op == "==":
            return {key: expr.value}
        return {_DURABLE_OPS[expr.op]: {key: expr.value}}
    if isinstance(expr, AnyOf):
        if sets and is_set_test(expr):
            return {set_key(expr): True}
        key = fact_key(expr.field)
        if expr.negated:
            parts = [{"$neq": {key: v}} for v in expr.values]
            return parts[0] if len(parts) == 1 else {"$and": parts}
        alts: list[dict[str, Any]] = [{key: v} for v in expr.values]
        return alts[0] if len(alts) == 1 else {"$or": alts}
    if isinstance(expr, And):
        return {"$and": [to_durable(e, sets=sets) for e in expr.items]}
    return {"$or": [to_durable(e, sets=sets) for e in expr.items]}


Predicate: TypeAlias = Callable[[Mapping[str, Any]], bool]

_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def set_member(expr: AnyOf) -> Predicate:
    """The predicate of ``field in [...]``: false when the fact lacks the field, negated or not."""
    key, values, negated = fact_key(expr.field), frozenset(expr.values), expr.negated

    def member(fact: Mapping[str, Any]) -> bool:
        have = fact.get(key)
        return have is not None and ((have in values) != negated)
    return member


def evaluator(expr: Expr) -> Predicate:
    """A Python predicate over a flat fact with the same semantics as :func:`to_durable`."""
    if isinstance(expr, Compare):
        key, value, fn = fact_key(expr.field), expr.value, _PY_OPS[expr.op]

        def compare(fact: Mapping[str, Any]) -> bool:
            have = fact.get(key)
            return have is not None and fn(have, value)
        return compare
    if isinstance(expr, AnyOf):
        return set_member(expr)
    parts = tuple(evaluator(e) for e in expr.items)
    if isinstance(expr, And):
        return lambda fact: all(p(fact) for p in parts)
    return lambda fact: any(p(fact) for p in parts)
