"""Identifiers: USCC and resident-id validation, kind inference and masking (domain.md §6)."""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from joint_sanctions import _identifiers as identifiers
from joint_sanctions._errors import IdentifierError
from joint_sanctions._identifiers import (
    infer_subject_type,
    mask,
    mask_text,
    normalize_resident_id,
    normalize_uscc,
    parse_identifier,
)

TODAY = dt.date(2024, 6, 1)

DOMAIN_USCCS = [
    "91350100M000100Y43",
    "91110000600037341L",
    "91410100MA0000015B",
    "91410184MA12345A1R",
    "124101064100000117",
    "52410105MJ0000AB32",
]
DOMAIN_RESIDENT_IDS = [
    "11010519491231002X",
    "410102199003071230",
    "410184198512240020",
    "410106200002290512",
]

# --- independent reference implementations -------------------------------------------------------
# Written differently from the library on purpose: weights as powers, check values by formula.

USCC_ALPHABET = "".join(c for c in string.digits + string.ascii_uppercase if c not in "IOSVZ")
USCC_FIRST = "123456789ANY"


def uscc_check(body: str) -> str:
    """Check character of a 17-character USCC body; the weights are 3^i mod 31."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return USCC_ALPHABET[-total % 31]


def id_check(body: str) -> str:
    """ISO 7064 MOD 11-2 check character of a 17-digit body; the weights are 2^(17-i) mod 11."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_id(body17: str) -> str:
    return body17 + id_check(body17)


def is_valid_resident_id(text: str) -> bool:
    try:
        normalize_resident_id(text)
    except IdentifierError:
        return False
    return True


uscc_bodies = st.builds(
    lambda first, rest: first + "".join(rest),
    st.sampled_from(USCC_FIRST),
    st.lists(st.sampled_from(USCC_ALPHABET), min_size=16, max_size=16),
)
valid_usccs = uscc_bodies.map(lambda body: body + uscc_check(body))
valid_resident_ids = st.builds(
    lambda region, born, seq: make_id(f"{region:06d}{born:%Y%m%d}{seq:03d}"),
    st.integers(0, 999_999),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)


def with_check(body17: str) -> str:
    """A USCC built from a body with its correct check character."""
    return body17 + uscc_check(body17)


# --- USCC ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", DOMAIN_USCCS)
def test_domain_usccs_are_accepted(code: str) -> None:
    """Every USCC example of domain.md §6 is valid and comes back unchanged."""
    assert normalize_uscc(code) == code


def test_uscc_is_normalised_from_full_width_lower_case_and_padding() -> None:
    """Full-width characters, lower case and surrounding (ideographic) spaces are normalised away."""
    assert normalize_uscc("\u3000 ９１３５０１００ｍ０００１００ｙ４３\t") == "91350100M000100Y43"
    assert normalize_uscc("91410100ma0000015b") == "91410100MA0000015B"


@pytest.mark.parametrize("first", ["A", "N", "Y"])
def test_uscc_may_start_with_a_letter_department(first: str) -> None:
    """Codes registered by departments A, N and Y are valid (python-stdnum wrongly rejects them)."""
    code = with_check(first + "1410100MA0000015")
    assert normalize_uscc(code) == code


def test_uscc_organisation_code_check_is_not_enforced() -> None:
    """The embedded organisation-code check at position 17 is not verified (real codes break it)."""
    code = with_check("91410100MA0000015")
    code_other = with_check("91410100MA0000016")
    assert normalize_uscc(code) == code
    assert normalize_uscc(code_other) == code_other


@pytest.mark.parametrize("text, found", [("91350100M000100Y4", 17), ("91350100M000100Y433", 19), ("", 0)])
def test_uscc_wrong_length_names_the_length(text: str, found: int) -> None:
    """A code that is not 18 characters long is rejected with the length found."""
    with pytest.raises(IdentifierError, match=f"USCC must be 18 characters, found {found}$") as info:
        normalize_uscc(text)
    assert "统一社会信用代码长度错误" in str(info.value)


@pytest.mark.parametrize("bad", ["I", "O", "S", "V", "Z", "-", "中"])
def test_uscc_character_not_allowed_names_char_and_position(bad: str) -> None:
    """A character outside the GB 32100 alphabet is rejected, naming the character and its position."""
    code = "91350100" + bad + "000100Y43"
    with pytest.raises(IdentifierError) as info:
        normalize_uscc(code)
    message = str(info.value)
    assert f"USCC character {bad!r} at position 9 is not allowed" in message
    assert f"统一社会信用代码第9位字符{bad!r}不允许" in message


@pytest.mark.parametrize("first", ["0", "B", "M", "X"])
def test_uscc_unknown_registration_department_is_rejected(first: str) -> None:
    """Position 1 must be one of 1-9, A, N, Y even when the check character fits."""
    code = with_check(first + "1350100M000100Y4")
    with pytest.raises(IdentifierError, match=f"position 1 \\(registration department\\) {first!r}"):
        normalize_uscc(code)


def test_uscc_wrong_check_character_says_expected_and_found() -> None:
    """A wrong check character is rejected with the expected and the found character."""
    with pytest.raises(IdentifierError) as info:
        normalize_uscc("91350100M000100Y44")
    assert str(info.value) == (
        "统一社会信用代码校验位错误 / USCC check character is wrong: expected '3', found '4'"
    )


@settings(deadline=None, max_examples=300)
@given(code=valid_usccs)
def test_generated_usccs_are_accepted(code: str) -> None:
    """Any code with an allowed department, allowed characters and the right check is accepted."""
    assert normalize_uscc(code) == code
    assert normalize_uscc(code.lower()) == code


@settings(deadline=None, max_examples=300)
@given(code=valid_usccs, pos=st.integers(0, 17), replacement=st.sampled_from(USCC_ALPHABET))
def test_any_single_substitution_in_a_uscc_is_rejected(code: str, pos: int, replacement: str) -> None:
    """Changing any one character to another allowed character makes the code invalid.

    True for every substitution: the sum changes by w·d with 1 ≤ w ≤ 30 and 0 < |d| ≤ 30, and 31 is
    prime, so w·d is never 0 mod 31 and the check character changes; a changed check character no
    longer matches the body.
    """
    assume(code[pos] != replacement)
    changed = code[:pos] + replacement + code[pos + 1:]
    with pytest.raises(IdentifierError):
        normalize_uscc(changed)


# --- resident id -----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", DOMAIN_RESIDENT_IDS)
def test_domain_resident_ids_are_accepted(number: str) -> None:
    """Every resident-id example of domain.md §6 is valid and comes back unchanged."""
    assert normalize_resident_id(number, today=TODAY) == number


def test_resident_id_is_normalised_from_full_width_and_lower_case_x() -> None:
    """Full-width digits, a lower-case or full-width x and surrounding spaces are normalised."""
    assert normalize_resident_id(" 11010519491231002x ") == "11010519491231002X"
    assert normalize_resident_id("１１０１０５１９４９１２３１００２ｘ") == "11010519491231002X"


@pytest.mark.parametrize(
    "number, message",
    [
        ("41010219900307123", "resident id must be 18 characters, found 17"),
        ("4101021990030712301", "resident id must be 18 characters, found 19"),
        ("4101021990A3071230", "resident id position 11 must be a digit, found 'A'"),
        ("41010219900307123Y", "resident id position 18 must be a digit or X, found 'Y'"),
        (make_id("41010219900230123"), "birth date (positions 7-14) is not a real calendar date"),
        (make_id("41010219900229123"), "birth date (positions 7-14) is not a real calendar date"),
        (make_id("41010219000229123"), "birth date (positions 7-14) is not a real calendar date"),
        (make_id("41010219901301123"), "birth date (positions 7-14) is not a real calendar date"),
        (make_id("41010220240602123"), "resident id birth date is after today"),
        (make_id("41010218991231123"), "resident id birth date is before 1900-01-01"),
        ("410102199003071231", "check character is wrong: expected '0', found '1'"),
    ],
)
def test_resident_id_rejections_name_the_rule(number: str, message: str) -> None:
    """Each broken rule (length, digit, date incl. Feb 29 of 1990 and 1900, future, check) is named."""
    with pytest.raises(IdentifierError, match=re.escape(message)) as info:
        normalize_resident_id(number, today=TODAY)
    assert "居民身份证号码" in str(info.value)
    assert number not in str(info.value)


def test_resident_id_born_today_is_accepted_and_leap_day_2000_too() -> None:
    """A birth date equal to today passes, and 2000-02-29 is a real date (2000 is a leap year)."""
    assert normalize_resident_id(make_id("41010220240601123"), today=TODAY).startswith("410102")
    assert normalize_resident_id("410106200002290512", today=TODAY) == "410106200002290512"


def test_resident_id_message_masks_the_id() -> None:
    """Rejection messages show the id only masked."""
    with pytest.raises(IdentifierError) as info:
        normalize_resident_id("410102199003071231", today=TODAY)
    assert "4101**********1231" in str(info.value)
    assert "199003071" not in str(info.value)


@settings(deadline=None, max_examples=300)
@given(number=valid_resident_ids)
def test_generated_resident_ids_are_accepted(number: str) -> None:
    """Any id with a real birth date in range and the right check character is accepted."""
    assert normalize_resident_id(number.lower(), today=TODAY) == number
    assert parse_identifier(number, today=TODAY) == (number, "resident_id")


@settings(deadline=None, max_examples=300)
@given(number=valid_resident_ids, pos=st.integers(0, 17), replacement=st.sampled_from("0123456789X"))
# A typo that makes the id a valid USCC with no date at positions 7-14: it was shown unmasked once.
@example(number="16299219180815000X", pos=12, replacement="4")
def test_any_single_substitution_in_a_resident_id_is_rejected(
    number: str, pos: int, replacement: str
) -> None:
    """Changing any one character to another digit or X makes the id invalid, and no message leaks it.

    True for every substitution: X is refused outside position 18; a digit change alters the sum by
    w·d with w ≢ 0 and 0 < |d| ≤ 9 mod the prime 11, so the check character changes; a changed check
    character no longer matches the body.
    """
    assume(number[pos] != replacement)
    changed = number[:pos] + replacement + number[pos + 1:]
    with pytest.raises(IdentifierError) as info:
        normalize_resident_id(changed, today=TODAY)
    assert changed not in str(info.value)
    try:
        parse_identifier(changed, today=TODAY)
    except IdentifierError as exc:
        assert changed not in str(exc)


# --- parse_identifier and infer_subject_type --------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        *[(c, (c, "uscc")) for c in DOMAIN_USCCS],
        *[(n, (n, "resident_id")) for n in DOMAIN_RESIDENT_IDS],
        ("  ９１４１０１００ｍａ０００００１５ｂ ", ("91410100MA0000015B", "uscc")),
        ("11010519491231002x", ("11010519491231002X", "resident_id")),
    ],
)
def test_parse_identifier_normalises_and_names_the_kind(text: str, expected: tuple[str, str]) -> None:
    """parse_identifier returns the normalised id and its kind."""
    assert parse_identifier(text, today=TODAY) == expected


@pytest.mark.parametrize("text", ["", "   ", "\u3000"])
def test_parse_identifier_rejects_empty_input(text: str) -> None:
    """An empty or blank id is refused with a bilingual 'empty' message."""
    with pytest.raises(IdentifierError, match="subject id is empty") as info:
        parse_identifier(text)
    assert "主体标识为空" in str(info.value)


def test_parse_identifier_wrong_length_is_not_blamed_on_one_kind() -> None:
    """Both kinds are 18 long, so a wrong length is reported for the subject id, with a 15-digit hint."""
    with pytest.raises(IdentifierError, match="subject id must be 18 characters .*found 17$"):
        parse_identifier("41010219900307123")
    with pytest.raises(IdentifierError, match="old 15-digit resident ids are not accepted"):
        parse_identifier("410102900307123")


def test_parse_identifier_gives_the_resident_id_message_for_id_shaped_input() -> None:
    """Eighteen digits with a plausible date get the resident-id message, masked."""
    with pytest.raises(IdentifierError, match="is not a real calendar date") as info:
        parse_identifier(make_id("41010219900229123"), today=TODAY)
    assert "4101**********" in str(info.value)
    with pytest.raises(IdentifierError, match="resident id check character is wrong"):
        parse_identifier("410184198512240021", today=TODAY)


def test_parse_identifier_gives_the_uscc_message_otherwise() -> None:
    """Input that is not id-shaped gets the USCC message."""
    with pytest.raises(IdentifierError, match="USCC check character is wrong: expected '3', found '4'"):
        parse_identifier("91350100M000100Y44")
    with pytest.raises(IdentifierError, match="USCC character 'I' at position 9"):
        parse_identifier("91350100I000100Y43")


@pytest.mark.parametrize(
    "identifier, kind, expected",
    [
        ("410102199003071230", "resident_id", "natural_person"),
        ("11410100MB0000001X", "uscc", "government_body"),
        ("124101064100000117", "uscc", "government_body"),
        ("92410100MA0000001X", "uscc", "individual_business"),
        ("91350100M000100Y43", "uscc", "legal_person"),
        ("93410100MA0000001X", "uscc", "legal_person"),
        ("52410105MJ0000AB32", "uscc", "legal_person"),
    ],
)
def test_infer_subject_type_follows_the_id(identifier: str, kind: str, expected: str) -> None:
    """Resident id → natural person; USCC 1x → government body; 92 → individual business; else legal person."""
    assert infer_subject_type(identifier, kind) == expected


def test_infer_subject_type_refuses_an_unknown_kind() -> None:
    """An unknown identifier kind is an error, not a guess."""
    with pytest.raises(IdentifierError, match="unknown identifier kind 'passport'"):
        infer_subject_type("E12345678", "passport")


# --- masking -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier, expected",
    [
        ("410102199003071230", "4101**********1230"),
        ("11010519491231002x", "1101**********002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "1101**********002X"),
        ("410102900307123", "4101*******7123"),
        ("41010219900230123X", "4101**********123X"),
        ("91350100M000100Y43", "91350100M000100Y43"),
        ("124101064100000117", "124101064100000117"),
        ("4101021", "4101021"),
    ],
)
def test_mask_hides_resident_ids_and_keeps_usccs(identifier: str, expected: str) -> None:
    """Resident-id attempts keep only their first and last four characters; USCCs and short strings stay."""
    assert mask(identifier) == expected


def test_mask_hides_an_id_that_happens_to_be_a_valid_uscc() -> None:
    """An id-shaped USCC whose positions 7-14 are a date is masked: it may be a mistyped resident id."""
    lookalike = "41010219900307123A"  # a valid USCC, yet 17 digits of a resident id
    assert normalize_uscc(lookalike) == lookalike
    assert mask(lookalike) == "4101**********123A"


@settings(deadline=None, max_examples=300)
@given(text=st.text(alphabet="0123456789Xx ABC中", min_size=8, max_size=30))
def test_mask_never_keeps_more_than_eight_characters(text: str) -> None:
    """Unless the input is a valid USCC, mask leaves at most 8 characters visible."""
    result = mask(text)
    if result != text:
        assert len(result.replace("*", "")) <= 8


@settings(deadline=None, max_examples=300)
@given(number=valid_resident_ids)
def test_mask_of_a_resident_id_keeps_four_and_four(number: str) -> None:
    """A valid resident id is always masked to its first four and last four characters."""
    assert mask(number) == number[:4] + "*" * 10 + number[-4:]


def test_mask_text_masks_ids_in_chinese_text_and_keeps_usccs() -> None:
    """Ids written next to Chinese characters are masked; USCCs, including all-digit ones, are kept."""
    text = (
        "法定代表人身份证号410102199003071230，企业代码91410100MA0000015B；"
        "机关代码124101064100000117、旧证410102900307123、小写11010519491231002x。"
    )
    assert mask_text(text) == (
        "法定代表人身份证号4101**********1230，企业代码91410100MA0000015B；"
        "机关代码124101064100000117、旧证4101*******7123、小写1101**********002x。"
    )


def test_mask_text_masks_ids_inside_longer_runs_only_when_valid() -> None:
    """Two ids pasted together are both masked; an invalid id-shape inside a longer run is left alone."""
    assert mask_text("410102199003071230410184198512240020") == (
        "4101**********12304101**********0020"
    )
    assert mask_text("ABC410102199003071230") == "ABC4101**********1230"
    assert mask_text("ref A123456789012345678") == "ref A123456789012345678"


def test_mask_text_masks_full_width_ids() -> None:
    """A resident id typed in full-width digits is masked too."""
    assert mask_text("证号：４１０１０２１９９００３０７１２３０") == "证号：４１０１**********１２３０"


def test_mask_text_masks_all_digit_uscc_that_looks_like_an_id() -> None:
    """An all-digit valid USCC whose positions 7-14 spell a date is masked (it may be a person)."""
    for lookalike in (with_check("41010219900307123"), "41010219900307123A"):
        assert normalize_uscc(lookalike) == lookalike
        assert mask_text(f"代码{lookalike}") == f"代码{lookalike[:4]}{'*' * 10}{lookalike[-4:]}"


fillers = st.text(alphabet="0123456789Xx ABCM，号中-", max_size=8)
pieces = st.one_of(
    valid_resident_ids,
    valid_resident_ids.map(str.lower),
    valid_resident_ids.map(lambda n: n.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})),
    valid_usccs,
    fillers,
)


@settings(deadline=None, max_examples=300)
@given(parts=st.lists(pieces, max_size=6))
def test_mask_text_leaves_no_valid_resident_id(parts: list[str]) -> None:
    """Whatever surrounds them, no valid resident id survives mask_text."""
    result = mask_text("".join(parts))
    for start in range(len(result) - 17):
        assert not is_valid_resident_id(result[start:start + 18])


@settings(deadline=None, max_examples=300)
@given(codes=st.lists(valid_usccs, min_size=1, max_size=4), sep=st.sampled_from([" ", "，", "、", "号"]))
def test_mask_text_keeps_usccs_with_letters(codes: list[str], sep: str) -> None:
    """USCCs that contain a letter before the check character come through mask_text untouched."""
    text = sep.join(codes)
    result = mask_text(text)
    for code in codes:
        if not code[:17].isdigit():
            assert code in result


# --- mask_text: the forms people type (spaced, dashed, full-width, mixed) ------------------------------

_FULL = {ord(c): ord(c) + 0xFEE0 for c in "0123456789Xx"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("410102 199003071230", "4101** ********1230"),
        ("410102 19900307 1230", "4101** ******** 1230"),
        ("4101 0219 9003 0712 30", "4101 **** **** **12 30"),
        ("410102-19900307-1230", "4101**-********-1230"),
        ("410102 - 19900307 - 1230", "4101** - ******** - 1230"),
        ("４１０１０２　１９９００３０７　１２３０", "４１０１**　********　１２３０"),
        ("410102　１９９００３０７－1230", "4101**　********－1230"),
        ("110105 19491231 002X", "1101** ******** 002X"),
        ("110105 19491231 002x", "1101** ******** 002x"),
        ("１１０１０５ １９４９１２３１ ００２ｘ", "１１０１** ******** ００２ｘ"),
        ("１１０１０５　１９４９１２３１　００２Ｘ", "１１０１**　********　００２Ｘ"),
        # A mistyped check character still hides the id: the birth date is what marks it.
        ("410102 19900307 1231", "4101** ******** 1231"),
        # Old 15-digit ids (region, YYMMDD, sequence) in groups.
        ("410102 900307 123", "4101** *****7 123"),
    ],
)
def test_mask_text_masks_spaced_dashed_and_full_width_ids(text: str, expected: str) -> None:
    """An id typed in groups (spaces, dashes, full-width digits and spaces, mixed) keeps only 4 + 4 digits."""
    assert mask_text(f"王某某（身份证{text}）") == f"王某某（身份证{expected}）"


@pytest.mark.parametrize(
    "text",
    [
        "电话 138 0013 8000，座机 0371-6123 4567",
        "13800138000 13900139000 13700137000",
        "金额 1 234 567.89 元，12,345,678,901,234,567",
        "2024-01-01 至 2024-12-31，2024-01-01 2024-12-31",
        "银行卡 6222 0212 3456 7890，6222 0212 3456 7890 123",
        "1234 5678 9012 3456 78",  # 18 digits, no birth date at positions 7-14
        "订单 2024 0101 0000 0000 01",
        "124101 064100 000117",  # an all-digit USCC in groups: positions 7-14 are no date
        "91350100M000100Y43 91110000600037341L 91410100MA0000015B 124101064100000117",
        "事项 4101 0000 1234 5 号",
    ],
)
def test_mask_text_leaves_ordinary_numbers_and_usccs_alone(text: str) -> None:
    """Phone numbers, amounts, dates, card numbers, digit groups without a birth date and USCCs stay."""
    assert mask_text(text) == text


def test_mask_text_on_a_megabyte_of_digits_and_spaces_finishes() -> None:
    """A 1 MiB run of digits and separators is scanned in linear time and keeps its length."""
    for unit in ("1 ", "9\u3000-", "410102 19900307 1230 "):
        text = (unit * (2**20 // len(unit) + 1))[:2**20]
        result = mask_text(text)
        assert len(result) == len(text)
        if "410102" in unit:
            assert "19900307" not in result


def _render(number: str, cuts: list[int], seps: list[str], wide: list[bool]) -> str:
    """``number`` with a separator before each cut position and some characters full-width."""
    chars = [ch.translate(_FULL) if w else ch for ch, w in zip(number, wide, strict=False)]
    chars += list(number[len(chars):])
    out = []
    for i, ch in enumerate(chars):
        if i in cuts:
            out.append(seps[cuts.index(i) % len(seps)])
        out.append(ch)
    return "".join(out)


def _digits(text: str) -> str:
    """The ASCII digits of ``text`` (full-width ones converted), in order."""
    return re.sub(r"[^0-9]", "", text.translate({ord(c) + 0xFEE0: ord(c) for c in "0123456789"}))


no_digits = st.text(alphabet=st.sampled_from(
    "郑州市金水区王某某身份证号码（）：，、。 \u3000-abcXyz!?#;/"), max_size=12)
separators = st.sampled_from([" ", "  ", "-", "－", "\u3000", " - ", "\u00a0", "\t"])


@settings(deadline=None, max_examples=400)
@example(number="410102199003071230", cuts=[6], seps=[" "], wide=[], case="upper",
         before="身份证", after="")
@given(number=valid_resident_ids, cuts=st.lists(st.integers(1, 17), unique=True, max_size=6).map(sorted),
       seps=st.lists(separators, min_size=1, max_size=3), wide=st.lists(st.booleans(), max_size=18),
       case=st.sampled_from(["upper", "lower"]), before=no_digits, after=no_digits)
def test_mask_text_hides_any_rendering_of_a_valid_id(number: str, cuts: list[int], seps: list[str],
                                                     wide: list[bool], case: str, before: str,
                                                     after: str) -> None:
    """A valid id in any grouping, separator, width and case, in any text, keeps at most its 4 + 4 digits."""
    rendered = _render(number if case == "upper" else number.lower(), cuts, seps, wide)
    result = mask_text(before + rendered + after)
    assert len(result) == len(before + rendered + after)
    shown = _digits(result)
    assert number[4:14] not in shown
    assert len(shown) <= 8  # the ten middle digits are gone: the id cannot be recovered


@settings(deadline=None, max_examples=300)
@given(code=valid_usccs, before=no_digits, after=no_digits)
def test_mask_text_keeps_a_public_uscc_readable(code: str, before: str, after: str) -> None:
    """A valid USCC that cannot be a person's id comes through unchanged, whatever text surrounds it."""
    assume(not code[:17].isdigit() or not re.fullmatch(
        r"(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", code[6:14]))
    assert code in mask_text(f"{before}{code}{after}")


def test_mask_text_returns_plain_text_itself() -> None:
    """Text with nothing to mask comes back as the very same object (no copy on the hot path)."""
    name = "郑州市金水区某某建设工程有限公司" * 12
    assert mask_text(name) is name


def test_public_names_are_pinned() -> None:
    """The module exports exactly the eight functions other modules import."""
    assert sorted(identifiers.__all__) == [
        "infer_subject_type", "kind_mismatch", "mask", "mask_text", "normalize_resident_id", "normalize_uscc",
        "parse_identifier", "parse_region_code",
    ]


def _outcome(text: str, **kw: Any) -> tuple[str, str] | str:
    try:
        return parse_identifier(text, **kw)
    except IdentifierError as exc:
        return str(exc)


@settings(deadline=None, max_examples=500)
@given(number=valid_resident_ids, pos=st.integers(0, 17), replacement=st.sampled_from("0123456789Xx"),
       change=st.booleans())
def test_parse_without_a_date_agrees_with_the_full_rules_of_today(number: str, pos: int, replacement: str,
                                                                  change: bool) -> None:
    """parse_identifier as checks call it (no ``today``: its fast paths) gives exactly the answer, or the
    error message, of the full rules run for today in China, for valid ids and one-character typos."""
    text = number[:pos] + replacement + number[pos + 1:] if change else number
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert _outcome(text) == _outcome(text, today=today)


@pytest.mark.parametrize("text", ["410102199003071230", "41010219900307123x", "410102209912310013",
                                  "410102189912310014", "410102199002300018", "４１０１０２１９９００３０７１２３０"])
def test_parse_without_a_date_agrees_on_edge_cases(text: str) -> None:
    """Future, pre-1900 and impossible birth dates, a lower-case x and full-width digits: same answers."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert _outcome(text) == _outcome(text, today=today)


@settings(deadline=None, max_examples=1000)
@given(number=valid_usccs, pos=st.integers(0, 17),
       replacement=st.sampled_from("0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZabcxy_+- !é０"), change=st.booleans())
def test_uscc_fast_path_agrees_with_the_full_rules(number: str, pos: int, replacement: str, change: bool) -> None:
    """The USCC fast path (check character from one base-34 int()) gives exactly the answer, or the error
    message, of the full rules, for valid codes and one-character typos, invalid characters included."""
    text = number[:pos] + replacement + number[pos + 1:] if change else number
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert _outcome(text) == _outcome(text, today=today)
    if not change:
        assert _outcome(text) == (number, "uscc")


@settings(deadline=None, max_examples=500)
@given(number=valid_resident_ids, kind=st.sampled_from(["resident_id", "uscc"]))
def test_mask_parsed_equals_mask_for_every_parsed_id(number: str, kind: str) -> None:
    """mask_parsed, which results use for ids parse_identifier returned, hides exactly what mask hides:
    for any valid resident id, and for a USCC (here one a resident id could be mistaken for)."""
    from joint_sanctions._masking import mask_parsed

    assert mask_parsed(number, kind) == mask(number)
    code = with_check("91" + number[2:17])
    assert mask_parsed(code, "uscc") == mask(code)


def test_mask_parsed_of_a_short_or_odd_resident_id_still_masks() -> None:
    """An id wrongly said to be a resident id (a host's hand-built Subject) is masked as mask would."""
    from joint_sanctions._masking import mask_parsed

    assert mask_parsed("4101021990", "resident_id") == mask("4101021990")
    assert mask_parsed("91350100M000100Y43", "resident_id") == "9135**********0Y43"


def test_today_of_the_hot_path_is_the_day_in_china(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path's remembered day follows the clock across midnight in China (UTC+8), not UTC's."""
    from joint_sanctions import _masking

    last_utc_minute_before_cst_midnight = dt.datetime(2025, 3, 1, 15, 59, tzinfo=dt.UTC).timestamp()
    monkeypatch.setattr(_masking, "_wall_clock", lambda: last_utc_minute_before_cst_midnight)
    assert _masking._today_cst_cached() == dt.date(2025, 3, 1)
    monkeypatch.setattr(_masking, "_wall_clock", lambda: last_utc_minute_before_cst_midnight + 60)
    assert _masking._today_cst_cached() == dt.date(2025, 3, 2)
    monkeypatch.undo()
    assert _masking._today_cst_cached() == dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
