"""The layers of docs/architecture.md, read from the source: which package imports which.

Every import counts, also one inside a function (importing late to dodge a cycle still makes
the cycle). Only an import under ``if TYPE_CHECKING:`` does not: it never runs."""

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
    typing_only = {id(inner) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for statement in node.body for inner in ast.walk(statement)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
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


# ---- the layer order, declared once ------------------------------------------------------------

# Top to bottom: a module imports modules of its own layer or of a layer below it, never above.
# ``app``, ``cli`` and ``demo`` start the app; ``extensions`` and ``config`` are the bottom.
LAYERS = (
    ("app", "cli", "demo"),
    ("blueprints",),
    ("jobs",),
    ("workflow",),
    ("quickbooks_online",),
    ("models",),
    ("extensions", "config"),
)
# The one import against the order, and why: an RQ work horse starts with no app, so the job
# context builds the worker's one app with the app factory (jobs/context.py).
UPWARD_ALLOWED = {("jobs.context", "app")}


def app_modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the layers."""
    found = {}
    for names in LAYERS:
        for top in names:
            if (ROOT / f"{top}.py").exists():
                found[top] = ROOT / f"{top}.py"
                continue
            for path in sorted((ROOT / top).rglob("*.py")):
                found[".".join(path.relative_to(ROOT).with_suffix("").parts)
                      .removesuffix(".__init__")] = path
    return found


def module_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module → the app modules it imports. ``from pkg import name`` is an edge to the module
    ``pkg.name`` if there is one, else to ``pkg``. A package's ``__init__`` importing its own
    modules to assemble itself (a blueprint's routes, attached to its ``bp``) is not an edge:
    those modules import the package for its ``bp``, and Python runs that order by design."""
    modules = app_modules() if modules is None else modules
    graph = {}
    for module, path in modules.items():
        own_package = path.name == "__init__.py"
        targets = set()
        for name in imports_of_resolved(path, module, modules):
            if name == module or (own_package and name.startswith(module + ".")):
                continue
            targets.add(name)
        graph[module] = targets
    return graph


def imports_of_resolved(path: Path, module: str, modules) -> set[str]:
    resolved = set()
    for name in imports_of(path):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            resolved.add(name)
    return resolved


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another round a loop (strongly connected
    components of more than one module), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def test_imports_follow_the_layer_order():
    upward = sorted(f"{module} imports {name}" for module, names in module_graph().items()
                    for name in names if layer_of(name) < layer_of(module)
                    and (module, name) not in UPWARD_ALLOWED)
    assert upward == []


def test_no_import_cycle_between_modules():
    assert cycles(module_graph()) == []


def test_the_cycle_finder_sees_a_loop_through_a_late_import(tmp_path, monkeypatch):
    package = tmp_path / "workflow"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from workflow import b\n")
    (package / "b.py").write_text("def late():\n    from workflow.c import x\n")
    (package / "c.py").write_text("import workflow.a\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from workflow import a\n")
    (package / "e.py").write_text("from workflow import d\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    modules = {f"workflow.{n}": package / f"{n}.py" for n in "abcde"}
    modules["workflow"] = package / "__init__.py"
    assert cycles(module_graph(modules)) == [["workflow.a", "workflow.b", "workflow.c"]]


def test_settings_come_in_one_declared_way():
    """The workflow reads the app's settings through workflow/settings.py, which create_app
    installs (it never imports Flask: see above). The QuickBooks client and the models run
    inside an app context (a request or a job) and read ``flask.current_app.config``; from
    Flask they take that and nothing else (``models/people.py`` also ``flask_login``'s
    ``UserMixin``). The built-in sandbox's door (quickbooks_online/builtin.py) is WSGI
    plumbing that create_app mounts: it alone handles requests."""
    allowed = {"flask", "flask.current_app", "flask_login", "flask_login.UserMixin"}
    for package in ("quickbooks_online", "models"):
        assert offenders(package, lambda name: (in_package(name, "flask")
                                                or name.startswith("flask_"))
                         and name not in allowed) in ([], [
            "quickbooks_online.builtin imports flask.Flask",
            "quickbooks_online.builtin imports flask.g",
            "quickbooks_online.builtin imports flask_login.current_user"])
