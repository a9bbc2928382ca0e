"""The README's Quick start runs exactly as written.

Each command of that block is copied from the README and run, literally, by a shell in a
folder where ``.venv`` is the environment running the tests (as it is in the repository
after the set-up commands). Only the report is left out: it takes minutes on the Penn
Treebank, and tests/test_report.py checks it on a smaller corpus.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLOW = ("perplex report",)  # left out, see above
# What some commands must print: (command prefix, text on stdout).
EXPECTED = {
    ".venv/bin/perplex ngram --smoothing kn --order 5": "141.186",  # KenLM's PTB test perplexity
    ".venv/bin/perplex ngram --smoothing kn --order 3 --arpa": "148.281",
    ".venv/bin/perplex score --arpa ptb3.arpa": "148.281",
    ".venv/bin/perplex similar money": "0.",
    ".venv/bin/perplex explain softmax 2 1 0.1 --format latex": "0.659001",  # e^0 / (e^0 + e^-1 + e^-1.9)
    ".venv/bin/perplex explain analogy king man woman": "Analogie",
}


def quick_start_commands() -> list[str]:
    """The command lines of the README's Quick start code block, comments removed."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_quick_start_block_is_found():
    commands = quick_start_commands()
    assert len(commands) >= 10 and all(c.startswith(".venv/bin/perplex") for c in commands)


def test_quick_start_commands_run_as_written(tmp_path):
    venv = Path(sys.prefix)
    if not (venv / "bin" / "perplex").exists():
        pytest.skip(f"the perplex command is not installed in {venv} (pip install -e . installs it)")
    (tmp_path / ".venv").symlink_to(venv)
    ran = 0
    for command in quick_start_commands():
        if any(command.startswith(f".venv/bin/{slow}") for slow in SLOW):
            continue
        proc = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, command
        for prefix, text in EXPECTED.items():
            if command.startswith(prefix):
                assert text in proc.stdout, f"{command}: {text!r} not in\n{proc.stdout[-2000:]}"
        ran += 1
    assert ran == len(quick_start_commands()) - 1
    assert (tmp_path / "runs" / "quick.pt").exists() and list((tmp_path / "attention_maps").glob("*.png"))
