"""The user documentation (README files and docs/) is shipped, linked, true to the code and runnable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from joint_sanctions import vocabulary

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MARKDOWN = sorted([README, *DOCS.glob("*.md"), *(ROOT / d / "README.md" for d in
                                                ("measure_lists", "examples", "benchmarks"))])
# Text a user reads: documentation, docstrings and help texts of the library and the adapters, the
# shipped schemas and service-item data.
SHIPPED = sorted([*MARKDOWN, *(ROOT / "joint_sanctions").rglob("*.py"), *(ROOT / "joint_sanctions").rglob("*.json"),
                  *(ROOT / "adapters").rglob("*.py"), *(ROOT / "adapters").rglob("*.yaml")])
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_no_user_facing_text_points_at_a_file_the_repository_does_not_ship() -> None:
    """No README, doc page, docstring, help text or shipped data file cites design.md."""
    citing = [str(p.relative_to(ROOT)) for p in SHIPPED if "design.md" in p.read_text(encoding="utf-8")]
    assert citing == []


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file(page: Path) -> None:
    """Each relative Markdown link of the documentation names a file that exists in the repository."""
    targets = [t.split("#", 1)[0] for t in LINK.findall(page.read_text(encoding="utf-8"))
               if "://" not in t and not t.startswith("#")]
    assert [t for t in targets if not (page.parent / t).exists()] == []


def test_docs_index_links_every_page() -> None:
    """docs/README.md links every page of docs/, and the main README links docs/."""
    index = DOCS / "README.md"
    linked = set(LINK.findall(index.read_text(encoding="utf-8")))
    assert {p.name for p in DOCS.glob("*.md")} - {"README.md"} <= linked
    assert "docs/README.md" in README.read_text(encoding="utf-8")


def test_vocabulary_page_gives_every_id_with_its_chinese_name() -> None:
    """Every stable id of joint_sanctions.vocabulary appears in docs/vocabulary.md beside its Chinese name."""
    rows = {line for line in (DOCS / "vocabulary.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| `")}
    tables = (vocabulary.SUBJECT_TYPES, vocabulary.ID_KINDS, vocabulary.LIST_TYPES, vocabulary.MATTER_TYPES,
              vocabulary.EFFECTS, vocabulary.KINDS, vocabulary.RELATED_PARTY_ROLES, vocabulary.RECORD_STATUSES,
              vocabulary.DECISIONS, vocabulary.ORGANIZERS)
    missing = [(i, name) for table in tables for i, name in table.items()
               if not any(row.startswith(f"| `{i}` | {name} |") for row in rows)]
    assert missing == []


def test_readme_python_example_imports_records_and_checks(tmp_path: Path) -> None:
    """The README's first Python example runs as written from a fresh folder: it creates a database,
    imports the sample records and answers 'restricted' for the listed company (its procurement ban's
    basis is unconfirmed, so only the court-defaulter restriction binds)."""
    text = README.read_text(encoding="utf-8")
    snippet = next(b.split("```", 1)[0] for b in text.split("```python\n")[1:] if "import_records" in b)
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # written for the repository root
    done = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "14 records stored, 0 rows refused"
    assert "restricted" in lines and (tmp_path / "credit.db").exists()
    assert re.fullmatch(r"[0-9a-f]{32}", lines[-1]), lines[-1]  # the case id


def test_simulator_options_in_the_docs_are_the_simulator_s_own() -> None:
    """docs/cli.md documents the simulator's command and exactly the options it accepts."""
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    section = page[page.index("python -m joint_sanctions.testing.simulator"):]
    documented = set(re.findall(r"^\| `(--[a-z-]+)", section, flags=re.MULTILINE))
    usage = subprocess.run([sys.executable, "-m", "joint_sanctions.testing.simulator", "--help"], capture_output=True,
                           text=True, timeout=60, check=True).stdout
    accepted = set(re.findall(r"(--[a-z][a-z-]+)", usage)) - {"--help"}
    assert documented == accepted
