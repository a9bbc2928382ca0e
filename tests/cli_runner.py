"""Running the ``perplex`` command in-process, as the tests of several parts do."""

import functools
import json

from perplex import cli
from perplex.explain.paste import LATEX_TEXT
from tests.latex import PDFLATEX, compile_errors


def run_perplex(capsys, *argv):
    """(exit status, stdout, stderr) of ``perplex ARGV``; argparse's usage errors give their status."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def explain_topic_runner(monkeypatch, capsys, module: str):
    """``run_perplex`` with only ``perplex explain`` and one topic module registered (a part's
    tests then do not depend on the other topics)."""
    from perplex.explain import cli as explain_cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", ["perplex.explain.cli"])
    monkeypatch.setattr(explain_cli, "TOPIC_MODULES", [module])
    return functools.partial(run_perplex, capsys)


def every_format(run_cli, argv) -> tuple[str, str]:
    """Run ``argv`` in every output format and language; check that each is well formed
    (Markdown tables of three bars a row, LaTeX that pdflatex typesets in a plain article when
    it is installed, JSON whose numbers do not change with the language).  Returns (English text, French text)."""
    code, text, err = run_cli(*argv)
    assert code == 0 and err == "", err
    code, md, _ = run_cli(*argv, "--format", "md")
    assert code == 0 and md.startswith("### ")
    for row in (r for r in md.splitlines() if r.startswith("|")):
        assert row.replace("\\|", "").count("|") == 3, row  # two cells, whatever the prose holds ("P(w | h)")
    code, tex, _ = run_cli(*argv, "--format", "latex")
    assert code == 0 and tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") > 0
    assert not set(tex) & (set("√‖…ᵀΣ·×²") | set(LATEX_TEXT))  # pdflatex cannot typeset these in text
    if PDFLATEX:  # pasted into a plain article, English and French both typeset
        for lang in ([], ["--lang", "fr"]):
            assert compile_errors(run_cli(*argv, "--format", "latex", *lang)[1]) == [], lang
    en, fr = (json.loads(run_cli(*argv, "--json", *lang)[1]) for lang in ([], ["--lang", "fr"]))
    assert en["data"] == fr["data"] and en["title"] != fr["title"]  # the numbers do not change with the prose
    code, fr_text, _ = run_cli(*argv, "--lang", "fr")
    assert code == 0
    return text, fr_text
