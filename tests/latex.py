"""Compiling LaTeX the way a teacher would paste it: into a plain ``article`` with amsmath,
through Debian's pdflatex (texlive-latex-base; the tests that use it skip without it)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

PDFLATEX = shutil.which("pdflatex")
PREAMBLE = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"


def compile_errors(body: str) -> list[str]:
    """The errors and missing-character warnings pdflatex reports for ``body`` in a plain
    article (the default OT1 font encoding, no other package): [] when it typesets cleanly."""
    with tempfile.TemporaryDirectory() as folder:
        tex = Path(folder) / "pasted.tex"
        tex.write_text(PREAMBLE + body + "\n\\end{document}\n", encoding="utf-8")
        subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=folder,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        log = (Path(folder) / "pasted.log").read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in log if line.startswith("!") or "Missing character" in line]
