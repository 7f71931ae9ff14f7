"""The caller of a check (the HTTP key's name) is kept with the case the check opens (design.md §11)."""

from __future__ import annotations

from joint_sanctions import case_book_for

from .conftest import CO, CO2, Database, loop_engine


def test_a_check_with_a_caller_stores_it_with_the_case_it_opens(database: Database) -> None:
    """``Engine.check(..., caller=NAME)`` opens a case whose JSON carries ``caller``; without one it is null."""
    engine = loop_engine(database)
    named = engine.check(CO, "government_procurement", caller="trading-platform")
    anonymous = engine.check(CO2, "government_procurement", application_no="A-2")
    book = case_book_for(engine.store)
    assert named.case_id is not None and anonymous.case_id is not None
    assert book.get(named.case_id).caller == "trading-platform"
    assert book.get(named.case_id).summary()["caller"] == "trading-platform"
    assert book.get(anonymous.case_id).summary()["caller"] is None
    engine.close()


def test_check_many_with_a_caller_stores_it_with_every_case(database: Database) -> None:
    """``Engine.check_many(..., caller=NAME)`` records the caller on each case it opens."""
    engine = loop_engine(database)
    results = engine.check_many([CO, CO2], "government_procurement", caller="funds-system")
    book = case_book_for(engine.store)
    opened = [r.case_id for r in results if r.case_id is not None]
    assert opened
    assert {book.get(case_id).caller for case_id in opened} == {"funds-system"}
    engine.close()
