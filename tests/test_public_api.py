"""The public API is small and deliberate, and the house keeps its shape.

One façade (``joint_sanctions``) re-exports everything a user of the pipeline touches; four public
namespaces (``stores``, ``vocabulary``, ``testing``, ``adapters``, ``government``) each pin their ``__all__``; every
other module is private (``_name``). Adding a public name is a decision made in this file.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import sysconfig
import typing
from pathlib import Path

import pytest

import joint_sanctions
from joint_sanctions import _case_model, _models, vocabulary

PACKAGE = Path(joint_sanctions.__file__).parent

FACADE = [
    "AmbiguousCaseError", "AppliedMeasure", "AuditEntry", "AuditLog", "AuditProblem", "AuditReport", "BatchError", "BatchSummary", "Case", "CaseBook", "CaseError",
    "CaseRecorder", "CaseStats", "CheckError", "CheckResult", "CompiledMeasures", "CreditRecord",
    "DeliveryError", "DeliveryReport", "Disposal", "DisposalError", "Engine", "Explanation", "FeedbackSink",
    "FeedbackV1",
    "Hit", "HttpSink", "IdentifierError", "ImportReport", "ImportRowError", "JointSanctionsError",
    "JsonlFileSink", "LegalBasis", "Matter", "Measure", "MeasureExplanation", "MeasureListError", "MeasureListFile",
    "MeasureWatcher", "Problem", "RecordError", "RecordStore", "RejectedDeliveryError", "RelatedParty",
    "RescreenReport", "RetryableDeliveryError", "RuleEngineError", "RuleTrial", "StatusChange", "StoreError", "Subject",
    "TransitionError", "UnknownCaseError", "UnreadableRecordError", "build_feedback", "case_book_for",
    "check", "compile_measures", "deliver", "feedback_schema", "import_records", "is_valid_identifier", "lint",
    "load_measure_lists", "mask_text", "open_batch", "open_store", "parse_identifier", "register_subjects",
    "rescreen", "resident_id_check_char", "run_batch", "uscc_check_char",
]

NAMESPACES = {
    "joint_sanctions.stores": ["DEFAULT_URL", "PostgresStore", "RecordStore", "SqlStore", "SqliteStore",
                               "open_store"],
    "joint_sanctions.vocabulary": ["BAN_LIST_TYPES", "CASE_STATUSES", "CLUE_CHANNELS", "CLUE_STATUSES", "DECISIONS", "DISPOSAL_RESULTS", "EFFECTS",
                                   "ID_KINDS", "INCENTIVE_LIST_TYPES", "KINDS", "LIST_TYPES", "MATTER_TYPES",
                                   "ORGANIZERS", "PUNISHMENT_LIST_TYPES", "RECORD_STATUSES",
                                   "RELATED_PARTY_ROLES", "SUBJECT_TYPES"],
    "joint_sanctions.testing": ["Clock", "FailingSink", "MemoryStore", "RecordingSink", "SequentialIds"],
    "joint_sanctions.government": ["DIMENSIONS", "WEIGHTS", "Clearance", "Clue", "ClueEvent", "Contract",
                                   "ContractImport", "District", "DistrictActivity", "DistrictError", "Districts",
                                   "GovError", "Payment", "ScoreImport", "add_clue", "add_payment", "clearance",
                                   "contract", "district_activity", "district_report", "get_clue",
                                   "import_contracts", "import_scores", "list_clues", "load_districts",
                                   "render_html", "transfer_clue", "verify_clue", "write_xlsx"],
    "joint_sanctions.adapters": ["VERDICTS", "AdapterError", "AdapterInputError", "Reason",
                                 "ServiceItemsError", "UnknownServiceItemError", "Verdict"],
}

# Packages whose modules the library proper (everything but these) must never import.
OUTSIDE_THE_CORE = ("joint_sanctions.adapters", "joint_sanctions.testing", "adapters", "examples", "tests",
                    "benchmarks")


def test_the_facade_is_pinned_and_sorted() -> None:
    """``joint_sanctions.__all__`` is exactly the documented names, sorted."""
    assert joint_sanctions.__all__ == sorted(FACADE)


@pytest.mark.parametrize("name", sorted(NAMESPACES))
def test_each_public_namespace_pins_its_names(name: str) -> None:
    """Each public namespace exports exactly its pinned names, and nothing else public is lying about."""
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(NAMESPACES[name])
    stray = {n for n in vars(module) if not n.startswith("_") and n not in module.__all__
             and type(vars(module)[n]).__name__ != "module" and n != "annotations"}
    assert not stray, f"public by accident in {name}: {sorted(stray)}"


def test_every_public_name_resolves_and_is_documented() -> None:
    """Every exported class and function carries a docstring a user can read with help()."""
    exported = [(joint_sanctions, n) for n in FACADE]
    exported += [(importlib.import_module(m), n) for m, names in NAMESPACES.items() for n in names]
    for module, name in exported:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"{module.__name__}.{name} has no docstring"


def test_only_the_namespaces_are_public_modules() -> None:
    """Every module of the library is private (``_name``) except the public namespaces."""
    public = {name.rsplit(".", 1)[-1] for name in NAMESPACES}
    for info in pkgutil.iter_modules(joint_sanctions.__path__):
        assert info.name.startswith("_") or info.name in public, f"joint_sanctions.{info.name} is public"


def test_check_is_the_function_however_much_is_imported() -> None:
    """``joint_sanctions.check`` stays the function after every module of the package is imported."""
    for info in pkgutil.walk_packages(joint_sanctions.__path__, "joint_sanctions."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    assert callable(joint_sanctions.check) and joint_sanctions.check.__module__ == "joint_sanctions._check"


def test_the_repository_root_is_not_a_package_path() -> None:
    """Only the package folder is on ``__path__``: ``joint_sanctions.joint_sanctions`` does not import."""
    assert [Path(p).resolve() for p in joint_sanctions.__path__] == [PACKAGE.resolve()]
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("joint_sanctions.joint_sanctions")


def test_adapters_and_measure_lists_are_part_of_the_package() -> None:
    """The wheel's and the checkout's layouts agree: adapters and measure lists sit inside the package."""
    from joint_sanctions.adapters import trading

    assert Path(trading.__file__).parent.resolve() == (PACKAGE / "adapters").resolve()
    assert sorted((PACKAGE / "measure_lists").glob("*.yaml"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_modules() -> dict[str, Path]:
    """The library proper: every module of the package but the adapters and the test kit."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if not name.startswith(OUTSIDE_THE_CORE[:2]):
            found[name] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports anywhere in its text: top level, in functions, or for type checking."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_core_imports_no_adapter_test_kit_example_or_benchmark() -> None:
    """The library never reaches outwards: adapters, the test kit, examples and tests build on it."""
    for name, path in _core_modules().items():
        outward = sorted(m for m in _imports(name, path) if m.startswith(OUTSIDE_THE_CORE))
        assert not outward, f"{name} imports {outward}"


def test_there_is_no_import_cycle_in_the_core() -> None:
    """No module of the library imports, even lazily or for typing only, a module that imports it back."""
    modules = _core_modules()
    # Importing a module runs its parent packages first anyway: an edge to an ancestor is not a choice.
    graph = {name: {m for m in _imports(name, path)
                    if m in modules and m != name and not name.startswith(m + ".")}
             for name, path in modules.items()}
    cycles = []
    for start in sorted(graph):
        trails = [[start]]
        reached = {start}
        while trails:
            trail = trails.pop()
            for nxt in sorted(graph[trail[-1]]):
                if nxt == start:
                    cycles.append(" → ".join(trail + [start]))
                elif nxt not in reached:
                    reached.add(nxt)
                    trails.append(trail + [nxt])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize(("literal", "table"), [
    (_models.SubjectType, vocabulary.SUBJECT_TYPES),
    (_models.IdKind, vocabulary.ID_KINDS),
    (_models.ListType, vocabulary.LIST_TYPES),
    (_models.MatterType, vocabulary.MATTER_TYPES),
    (_models.Effect, vocabulary.EFFECTS),
    (_models.Kind, vocabulary.KINDS),
    (_models.Role, vocabulary.RELATED_PARTY_ROLES),
    (_models.Organizer, vocabulary.ORGANIZERS),
    (_models.RecordStatus, vocabulary.RECORD_STATUSES),
    (_models.Decision, vocabulary.DECISIONS),
])
def test_the_literal_types_agree_with_the_vocabulary(literal: object, table: dict[str, str]) -> None:
    """The ids a model accepts are exactly the ids the vocabulary names (design.md §3), in its order."""
    assert list(typing.get_args(literal)) == list(table)


def test_case_statuses_and_disposal_results_agree_with_the_vocabulary() -> None:
    """The case status and disposal result types accept exactly the ids the vocabulary names."""
    assert list(typing.get_args(_case_model.CaseStatus)) == list(vocabulary.CASE_STATUSES)
    assert list(typing.get_args(_case_model.DisposalResult)) == list(vocabulary.DISPOSAL_RESULTS)


def test_importing_the_library_loads_no_test_kit_or_adapter() -> None:
    """A fresh interpreter importing the façade loads neither the test kit nor any adapter."""
    code = ("import sys, joint_sanctions; "
            "print(sorted(m for m in sys.modules if m.startswith(('joint_sanctions.testing', "
            "'joint_sanctions.adapters'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_wheel_ships_the_adapters_and_measure_lists(tmp_path: Path) -> None:
    """A built wheel holds the package with its adapters and measure lists, and nothing of the checkout."""
    import zipfile

    root = PACKAGE.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(root)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("joint_sanctions-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "joint_sanctions/adapters/trading.py" in names
    assert "joint_sanctions/measure_lists/national.yaml" in names
    assert "joint_sanctions/measure_lists/schemas/measures.schema.json" in names
    assert "joint_sanctions/testing/simulator.py" in names
    assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/", "adapters/"))]
    # Built with a C compiler here: the compiled helpers of the check path (tests/test_accel.py) go with it.
    assert [n for n in names if n.startswith("joint_sanctions/_speedups")] == [
        f"joint_sanctions/_speedups{sysconfig.get_config_var('EXT_SUFFIX')}"]


def test_the_examples_use_only_the_public_api() -> None:
    """The examples are what a user copies: they import the façade and the public namespaces only."""
    examples = PACKAGE.parent / "examples"
    for path in sorted(examples.glob("*.py")):
        private = sorted(m for m in _imports(path.stem, path)
                         if m.startswith("joint_sanctions") and any(p.startswith("_") for p in m.split(".")[1:]))
        assert not private, f"{path.name} imports {private}"
