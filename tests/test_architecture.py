"""The layers of docs/architecture.md, read from the source: which package imports which.

Every import counts, also one inside a function (importing late to dodge a cycle still makes
the cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    """The dotted names of the modules a file imports, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            # "from workflow import history" imports the module workflow.history
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def package_imports(package: str) -> dict[str, set[str]]:
    """Module name → what it imports, for every module of ``package``."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[module.removesuffix(".__init__")] = imports_of(path)
    return found


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(importer: str, imported) -> list[str]:
    return sorted(f"{module} imports {name}" for module, names in package_imports(importer).items()
                  for name in names if imported(name))


def test_the_import_reader_sees_late_and_relative_imports(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from . import b\n\ndef late():\n    from flask import request\n    import jobs.queue\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert imports_of(package / "a.py") >= {"pkg", "pkg.b", "flask", "flask.request",
                                            "jobs.queue"}


def test_workflow_never_imports_flask_or_the_blueprints():
    def web(name: str) -> bool:
        return (in_package(name, "flask") or name.startswith("flask_")
                or in_package(name, "blueprints"))

    assert offenders("workflow", web) == []


def test_jobs_never_import_the_blueprints():
    assert offenders("jobs", lambda name: in_package(name, "blueprints")) == []


def test_workflow_never_imports_jobs():
    """The jobs call the workflow; the workflow queues them through workflow/queue.py."""
    assert package_imports("jobs"), "the jobs package was not found"
    assert any(in_package(name, "workflow") for names in package_imports("jobs").values()
               for name in names)
    assert offenders("workflow", lambda name: in_package(name, "jobs")) == []


@pytest.mark.parametrize("first, second", [("workflow.change_events", "workflow.change_orders")])
def test_no_cycle_between_workflow_modules(first, second):
    modules = package_imports("workflow")
    first_uses_second = any(in_package(name, second) for name in modules[first])
    second_uses_first = any(in_package(name, first) for name in modules[second])
    assert not (first_uses_second and second_uses_first), \
        f"{first} and {second} import each other"


@pytest.mark.parametrize("package", ["quickbooks_online", "models"])
def test_lower_layers_never_import_jobs_or_the_blueprints(package):
    """The QuickBooks client and the models sit under the workflow and the jobs: importing
    either from them would close a cycle (jobs → quickbooks_online → jobs)."""
    assert package_imports(package), f"the {package} package was not found"
    assert offenders(package, lambda name: in_package(name, "jobs")
                     or in_package(name, "blueprints")) == []


def test_the_sandbox_stands_alone():
    """qbo_sandbox emulates QuickBooks; it never reaches into the app it is tested against."""
    app_packages = ("models", "workflow", "jobs", "blueprints", "quickbooks_online", "app")
    assert offenders("qbo_sandbox", lambda name: any(in_package(name, p)
                                                     for p in app_packages)) == []
