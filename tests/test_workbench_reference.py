"""The policy staff's reference tools (issue 14 points 1, 6, 8, 9): ``measures``, ``schema``, ``vocab``
and the public check-character helpers for integrators."""

from __future__ import annotations

import pytest

import joint_sanctions as js

USCC = "91410100MA0000015B"
RESIDENT_ID = "11010519491231002X"


# --- check characters (point 9) -------------------------------------------------------------------

def test_uscc_check_char_completes_a_code() -> None:
    """``uscc_check_char`` returns the 18th character of a USCC from its first 17."""
    assert js.uscc_check_char(USCC[:17]) == USCC[17]


def test_resident_id_check_char_completes_an_id() -> None:
    """``resident_id_check_char`` returns the 18th character (a digit or X) from the first 17 digits."""
    assert js.resident_id_check_char(RESIDENT_ID[:17]) == "X"


@pytest.mark.parametrize("sequence", ["001", "002", "137", "998"])
def test_only_the_computed_check_char_makes_a_valid_id(sequence: str) -> None:
    """The computed character is the one the checker accepts; every other digit or X is refused."""
    body = RESIDENT_ID[:14] + sequence
    right = js.resident_id_check_char(body)
    assert js.parse_identifier(body + right)[1] == "resident_id"
    for other in set("0123456789X") - {right}:
        assert not js.is_valid_identifier(body + other, kind="resident_id")


def test_check_chars_accept_what_the_checker_accepts() -> None:
    """Full-width and lower-case input is normalised as everywhere else."""
    assert js.uscc_check_char("９１４１０１００ma０００００１５") == "B"


@pytest.mark.parametrize("body", ["9141010", "91410100MA0000015B", "91410100MA00000I5", ""])
def test_uscc_check_char_refuses_a_bad_body(body: str) -> None:
    """A body that is not 17 USCC characters is an IdentifierError, not a wrong answer."""
    with pytest.raises(js.IdentifierError):
        js.uscc_check_char(body)


@pytest.mark.parametrize("body", ["1101051949123100", "1101051949123100A", "110105194912310012"])
def test_resident_id_check_char_refuses_a_bad_body_without_echoing_it(body: str) -> None:
    """A body that is not 17 digits is refused, and the message never shows the digits given."""
    with pytest.raises(js.IdentifierError) as caught:
        js.resident_id_check_char(body)
    assert body not in str(caught.value) and "/" in str(caught.value)


@pytest.mark.parametrize(("text", "valid"), [
    (USCC, True), (RESIDENT_ID, True), (USCC[:17] + "C", False), (RESIDENT_ID[:17] + "1", False),
    ("", False), ("not an id", False), ("11010519491231002x", True),
])
def test_is_valid_identifier_answers_without_raising(text: str, valid: bool) -> None:
    """``is_valid_identifier`` is True exactly when the checker would accept the id."""
    assert js.is_valid_identifier(text) is valid


def test_is_valid_identifier_can_insist_on_a_kind() -> None:
    """With ``kind``, an id valid as the other kind is not accepted."""
    assert js.is_valid_identifier(USCC, kind="uscc")
    assert not js.is_valid_identifier(USCC, kind="resident_id")
    assert js.is_valid_identifier(RESIDENT_ID, kind="resident_id")
    with pytest.raises(ValueError):
        js.is_valid_identifier(USCC, kind="passport")
