"""Big lists in measure lists (design.md §9 "Hostile input"): linted in linear time, bounded in size."""

from __future__ import annotations

from pathlib import Path

from joint_sanctions._load import ERROR_CODES, MAX_LIST_ITEMS, lint

HEAD = 'edition: "2024"\nissuer: 测试信用办\nregion_code: "410100"\nmeasures:\n'


def measure(n: int, departments: str) -> str:
    return (f"  - id: BIG-{n:03d}\n    name: 测试措施\n    kind: punishment\n    effect: restrict\n"
            "    mandatory: false\n    list_types: [court_defaulter]\n    matter_types: [honors]\n"
            "    legal_basis:\n      - {document: 测试文件, number: \"\", article: 第一条}\n"
            f"    basis_status: unconfirmed\n    implementing_departments:{departments}\n")


def aliased(items: list[str], measures: int = 10) -> str:
    """One block list of ``items`` anchored in the first measure and reused by alias in the others."""
    block = " &D\n" + "".join(f"      - {item}\n" for item in items)
    return HEAD + measure(0, block.rstrip("\n")) + "".join(measure(n, " *D") for n in range(1, measures))


def test_the_limit_is_a_stable_code() -> None:
    """list_too_long is one of the stable lint codes, and the limit is generous."""
    assert "list_too_long" in ERROR_CODES and MAX_LIST_ITEMS >= 1000


def test_a_list_over_the_limit_is_a_located_error(tmp_path: Path) -> None:
    """A list longer than MAX_LIST_ITEMS is reported at the list's file:line:col, once per measure using it."""
    path = tmp_path / "big.yaml"
    path.write_text(aliased([f"部门{i}" for i in range(MAX_LIST_ITEMS + 1)], measures=3), encoding="utf-8")
    problems = lint([path])
    # The anchored list starts where its value does: line 15, column 31 (its anchor).
    assert [f"{p.path}:{p.line}:{p.col}: {p.code}" for p in problems] == [f"{path}:15:31: list_too_long"] * 3
    assert str(MAX_LIST_ITEMS) in problems[0].message and " / " in problems[0].message
    assert "BIG-000" in problems[0].message


def test_a_big_legal_list_reused_by_alias_lints_clean(tmp_path: Path) -> None:
    """A list at the limit, reused by alias in ten measures, lints without a problem."""
    path = tmp_path / "big.yaml"
    path.write_text(aliased([f"部门{i}" for i in range(MAX_LIST_ITEMS)]), encoding="utf-8")
    assert lint([path]) == []


def test_a_repeat_in_a_big_list_is_still_found(tmp_path: Path) -> None:
    """The duplicate check still names the repeated item, at its own line, in a list at the limit."""
    items = [f"部门{i}" for i in range(MAX_LIST_ITEMS - 1)] + ["部门7"]
    path = tmp_path / "big.yaml"
    path.write_text(aliased(items, measures=1), encoding="utf-8")
    problems = lint([path])
    assert [(p.line, p.col, p.code) for p in problems] == [(16 + MAX_LIST_ITEMS - 1, 9, "duplicate_value")]
    assert f"item {MAX_LIST_ITEMS} repeats" in problems[0].message
