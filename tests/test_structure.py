"""The package's layering, checked from the source so it cannot quietly erode.

perplex is a ladder: a shared base (``perplex.errors``, ``perplex.fileio``, ...), the
corpus, one evaluation, three model families (n-grams, embeddings, attention) that are
each scored by that evaluation, and a report that puts them side by side. The ladder
only stays readable, and each family only stays usable on its own, if the arrows
between the parts point one way. Nothing at run time notices a wrong arrow (Python
imports whatever it is asked to), so these tests read every ``import`` with :mod:`ast`
instead of importing anything: fast, no torch, and they see imports inside functions
too, which is where the lazy ones hide.

The folder layout is read from ``[tool.setuptools.package-dir]`` in pyproject.toml,
so moving a folder moves the test with it; only the policy (which part may import
which) is written down here.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Iterable, NamedTuple

import pytest

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

ROOT = Path(__file__).resolve().parents[1]

# --- the policy -------------------------------------------------------------------------------

FAMILIES = frozenset({"perplex.lm", "perplex.embeddings", "perplex.attention"})
CORPUS, EVAL, REPORT = "perplex.corpus", "perplex.eval", "perplex.report"
EXPLAIN = "perplex.explain"  # worked examples of every family's numbers: above the families, like the report
BASE = "base"  # modules directly in perplex/ that are not CLI: errors, fileio, ...
ROOT_CLI = "root cli"  # perplex.cli, perplex.cli_*, python -m perplex: the assembly, above all layers

# Which layers each layer may import (its own layer is always allowed).
ALLOWED_LAYERS = {
    BASE: set(),
    CORPUS: {BASE},
    EVAL: {BASE, CORPUS},
    **{family: {BASE, CORPUS, EVAL} for family in FAMILIES},
    EXPLAIN: {BASE, CORPUS, EVAL, *FAMILIES},
    REPORT: {BASE, CORPUS, EVAL, *FAMILIES, EXPLAIN},  # the page shows explain's worked terms
}
# The one arrow between families: attention reads pretrained vectors through the
# embeddings' single vectors reader instead of keeping a second copy of the format.
ALLOWED_CROSSINGS = {("perplex.attention", "perplex.embeddings.vectors")}


# --- the layout, from pyproject.toml ----------------------------------------------------------

@functools.lru_cache(maxsize=None)
def package_dirs() -> dict[str, Path]:
    """Import name -> folder, e.g. ``perplex.lm`` -> ``<root>/lm``."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {package: ROOT / folder for package, folder in mapping.items()}


def root_package() -> str:
    """The one top-level import name (``perplex``): the shortest key of the mapping."""
    return min(package_dirs(), key=len)


def bare_names() -> set[str]:
    """Top-level names that would shadow or collide if imported without ``perplex.``.

    Each mapped folder's own name (``lm``, ``eval``, ``report``, ...) is importable from a
    checkout's root but not once installed, and ``eval``/``report`` are taken by other
    distributions; ``cli`` is the root shim.
    """
    folders = {path.relative_to(ROOT).parts[0] for path in package_dirs().values()}
    return (folders - {root_package()}) | {"cli"}


def module_files() -> dict[str, Path]:
    """Every module of the package: dotted name -> file (``lm/arpa.py`` -> ``perplex.lm.arpa``)."""
    mapped_dirs = set(package_dirs().values())
    modules = {}
    for package, folder in package_dirs().items():
        for path in folder.rglob("*.py"):
            # A subfolder that is itself mapped belongs to its own entry, not to this one.
            between = [path.parent, *path.parent.parents][: len(path.relative_to(folder).parts) - 1]
            if mapped_dirs.intersection(between):
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


# --- reading the imports ----------------------------------------------------------------------

class Arrow(NamedTuple):
    path: str  # the importing file, relative to the repository root
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} -> {self.imported}"


def resolve_relative(name: str | None, level: int, package: str) -> str:
    """``from ..x import y`` inside ``package`` -> the absolute name of ``..x``."""
    if level == 0:
        return name or ""
    parts = package.split(".") if package else []
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, name] if name else base)


def import_module_strings(node: ast.expr, bindings: dict[str, list[str]]) -> list[str]:
    """The names an ``import_module(...)`` argument can stand for.

    A literal, an f-string's constant prefix (``f"perplex.attention.{x}"`` -> the
    ``perplex.attention`` package, the most we can know statically), or a variable bound
    in the same file to such strings (``for name in COMMAND_MODULES: import_module(name)``,
    which is how the CLI loads each family's subcommands).
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        prefix = ""
        for part in node.values:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                break
            prefix += part.value
        return [prefix.rstrip(".")] if prefix.rstrip(".") else []
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [s for element in node.elts for s in import_module_strings(element, bindings)]
    if isinstance(node, ast.Name):
        return bindings.get(node.id, [])
    return []


def string_bindings(nodes: Iterable[ast.AST]) -> dict[str, list[str]]:
    """Names bound to strings by ``NAME = ...`` or ``for NAME in ...`` anywhere in the file.

    Flow-insensitive on purpose: it only has to be good enough to follow a constant list
    into a loop. ast.walk is breadth-first, so a module-level constant is seen before the
    loop inside a function that uses it.
    """
    bindings: dict[str, list[str]] = {}
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.target, ast.Name):
            target, value = node.target, node.iter
        else:
            continue
        bindings.setdefault(target.id, []).extend(import_module_strings(value, bindings))
    return bindings


def is_import_module_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


def imports_in(path: Path, module: str, known: set[str]) -> list[Arrow]:
    """Every import in one file, top level or not, as absolute dotted names.

    ``from A import B`` counts as importing ``A.B`` when that is one of our modules
    (``from perplex import lm`` loads ``perplex.lm``) and as ``A`` otherwise (``B`` is then
    a name defined in ``A``).
    """
    source_text = path.read_text(encoding="utf-8")
    nodes = list(ast.walk(ast.parse(source_text, filename=str(path))))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    rel = path.relative_to(ROOT).as_posix()
    # Following variables costs a second pass; only files that import dynamically need it.
    dynamic = "import_module" in source_text or "__import__" in source_text
    bindings = string_bindings(nodes) if dynamic else {}
    arrows = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = resolve_relative(node.module, node.level, package)
            names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                     for alias in node.names]
        elif dynamic and is_import_module_call(node):
            names = [resolve_relative(s.lstrip("."), len(s) - len(s.lstrip(".")), package)
                     for s in import_module_strings(node.args[0], bindings)]
        else:
            continue
        arrows += [Arrow(rel, node.lineno, module, name) for name in dict.fromkeys(names) if name]
    return arrows


@functools.lru_cache(maxsize=None)
def package_arrows() -> tuple[Arrow, ...]:
    """Every import made by a module of the package (ours and third-party alike)."""
    modules = module_files()
    known = set(modules)
    return tuple(arrow for module, path in sorted(modules.items()) for arrow in imports_in(path, module, known))


def script_arrows() -> list[Arrow]:
    """Imports made by the tests, the benchmarks and the root ``cli.py`` shim."""
    known = set(module_files())
    scripts = [*sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "bench").rglob("*.py")),
               *sorted(ROOT.glob("*.py"))]
    arrows = []
    for path in scripts:
        parts = path.relative_to(ROOT).with_suffix("").parts
        # tests/ is a package (tests.browser); bench/ scripts run as top-level modules.
        module = ".".join(parts) if (path.parent / "__init__.py").exists() else parts[-1]
        arrows += imports_in(path, module, known)
    return arrows


# --- classifying modules ----------------------------------------------------------------------

def is_ours(name: str) -> bool:
    return name == root_package() or name.startswith(root_package() + ".")


def subpackage_of(name: str) -> str | None:
    """The mapped subpackage a module lives in (``perplex.lm.arpa`` -> ``perplex.lm``), None for the root."""
    matches = [p for p in package_dirs() if p != root_package() and (name == p or name.startswith(p + "."))]
    return max(matches, key=len) if matches else None


def is_cli(name: str) -> bool:
    """The command line: ``perplex.cli``, ``perplex.cli_*``, ``perplex.<part>.cli`` and ``__main__``."""
    last = name.rpartition(".")[2]
    if subpackage_of(name) is None:
        return last == "cli" or last.startswith("cli_") or last == "__main__"
    return last in ("cli", "__main__")


def layer_of(name: str) -> str:
    sub = subpackage_of(name)
    if sub is not None:
        return sub  # a family's own cli.py is still part of that family
    return ROOT_CLI if is_cli(name) else BASE


# --- the rules, as functions of the arrows (so they can be tested on made-up arrows) ----------

def layering_violations(arrows: Iterable[Arrow]) -> list[Arrow]:
    """Rule 1: arrows that go sideways between families or up the ladder."""
    bad = []
    for arrow in arrows:
        if not is_ours(arrow.imported):
            continue
        source, target = layer_of(arrow.importer), layer_of(arrow.imported)
        # The root CLI assembles everything, and who may import it is rule 2's business.
        if ROOT_CLI in (source, target) or source == target:
            continue
        if source not in ALLOWED_LAYERS:  # a new subpackage nobody placed on the ladder yet
            bad.append(arrow)
        elif target not in ALLOWED_LAYERS[source] and (source, arrow.imported) not in ALLOWED_CROSSINGS:
            bad.append(arrow)
    return bad


def cli_violations(arrows: Iterable[Arrow]) -> list[Arrow]:
    """Rule 2: a library module that imports the command line (argparse, exits, printing)."""
    return [a for a in arrows if is_ours(a.imported) and is_cli(a.imported) and not is_cli(a.importer)]


def bare_import_violations(arrows: Iterable[Arrow]) -> list[Arrow]:
    """Rule 3: imports of ``lm``, ``eval``, ``cli``, ... instead of ``perplex.lm``, ..."""
    bare = bare_names()
    return [a for a in arrows if a.imported.split(".")[0] in bare]


def fail_with(title: str, violations: list[Arrow]) -> None:
    """One line per offending import, in file order, and nothing else (no repr of the list)."""
    if violations:
        lines = sorted(set(violations), key=lambda a: (a.path, a.line, a.imported))
        pytest.fail(f"{title} ({len(lines)}):\n" + "\n".join(f"  {a}" for a in lines), pytrace=False)


# --- the tests --------------------------------------------------------------------------------

def test_walker_sees_the_package():
    """Guards the rules below: an empty or blind walk would make them pass vacuously."""
    modules = module_files()
    assert len(modules) >= 60, sorted(modules)
    assert {"perplex", "perplex.cli", "perplex.lm.arpa", "perplex.attention.cli", "perplex.report.build"} <= set(modules)
    arrows = {(a.importer, a.imported) for a in package_arrows()}
    assert ("perplex.lm.arpa", "perplex.errors") in arrows
    # Followed through COMMAND_MODULES into importlib.import_module(name).
    assert ("perplex.cli", "perplex.lm.cli") in arrows
    # An f-string's constant prefix, from attention's lazy exports.
    assert ("perplex.attention", "perplex.attention") in arrows
    assert any(a.path.startswith("tests/") for a in script_arrows())


def test_import_resolution():
    assert resolve_relative("arpa", 1, "perplex.lm") == "perplex.lm.arpa"
    assert resolve_relative(None, 2, "perplex.lm") == "perplex"
    assert resolve_relative("errors", 2, "perplex.lm") == "perplex.errors"
    tree = ast.parse("NAMES = ['perplex.lm.cli']\ndef f():\n    for n in NAMES:\n        import_module(n)\n")
    call = next(node for node in ast.walk(tree) if is_import_module_call(node))
    assert import_module_strings(call.args[0], string_bindings(ast.walk(tree))) == ["perplex.lm.cli"]
    prefix = ast.parse('f"perplex.attention.{name}"', mode="eval").body
    assert import_module_strings(prefix, {}) == ["perplex.attention"]


def test_rule_checkers_on_made_up_arrows():
    arrows = [
        Arrow("lm/cli.py", 1, "perplex.lm.cli", "perplex.attention.generate"),
        Arrow("report/steps.py", 2, "perplex.report.steps", "perplex.attention.cli"),
        Arrow("report/steps.py", 3, "perplex.report.steps", "perplex.cli"),
        Arrow("attention/pretrained.py", 4, "perplex.attention.pretrained", "perplex.embeddings.vectors"),
        Arrow("attention/pretrained.py", 5, "perplex.attention.pretrained", "perplex.embeddings.glove"),
        Arrow("corpus/text.py", 6, "perplex.corpus.text", "perplex.eval"),
        Arrow("eval/metrics.py", 7, "perplex.eval.metrics", "perplex.corpus"),
        Arrow("lm/cli.py", 8, "perplex.lm.cli", "perplex.cli_common"),
        Arrow("perplex/cli.py", 9, "perplex.cli", "perplex.lm.cli"),
        Arrow("report/steps.py", 10, "perplex.report.steps", "perplex.lm.arpa"),
        Arrow("tests/test_x.py", 11, "tests.test_x", "lm.arpa"),
        Arrow("tests/test_x.py", 12, "tests.test_x", "tests.browser"),
        Arrow("bench/bench_x.py", 13, "bench_x", "glove_reference"),
    ]
    layering = {(a.importer, a.imported) for a in layering_violations(arrows)}
    assert layering == {("perplex.lm.cli", "perplex.attention.generate"),
                        ("perplex.attention.pretrained", "perplex.embeddings.glove"),
                        ("perplex.corpus.text", "perplex.eval")}
    cli = {(a.importer, a.imported) for a in cli_violations(arrows)}
    assert cli == {("perplex.report.steps", "perplex.attention.cli"), ("perplex.report.steps", "perplex.cli")}
    assert [a.line for a in bare_import_violations(arrows)] == [11]


def test_layering():
    """Families do not import each other; corpus and eval sit below them; the report above."""
    fail_with("imports against the layering", layering_violations(package_arrows()))


def test_only_the_cli_imports_the_cli():
    """Library code must stay importable without argparse, sys.exit and the CLI's side effects."""
    fail_with("library modules importing a CLI module", cli_violations(package_arrows()))


def test_no_bare_top_level_imports():
    """``import lm`` works from a checkout's root only; installed, ``eval``/``report`` are someone else's."""
    fail_with("imports that bypass perplex.", bare_import_violations([*package_arrows(), *script_arrows()]))
