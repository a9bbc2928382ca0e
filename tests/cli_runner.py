"""Running the ``perplex`` command in-process, as the tests of several parts do."""

import functools
import json

from perplex import cli


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
    (Markdown tables of three bars a row, balanced LaTeX with no character pdflatex lacks,
    JSON whose numbers do not change with the language).  Returns (English text, French text)."""
    code, text, err = run_cli(*argv)
    assert code == 0 and err == "", err
    code, md, _ = run_cli(*argv, "--format", "md")
    assert code == 0 and md.startswith("### ")
    assert all(line.count("|") == 3 for line in md.splitlines() if line.startswith("|"))  # a | in a cell splits it
    code, tex, _ = run_cli(*argv, "--format", "latex")
    assert code == 0 and tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") > 0
    assert not set(tex) & set("√‖…ᵀΣ·×²")  # pdflatex cannot typeset these without extra packages
    en, fr = (json.loads(run_cli(*argv, "--json", *lang)[1]) for lang in ([], ["--lang", "fr"]))
    assert en["data"] == fr["data"] and en["title"] != fr["title"]  # the numbers do not change with the prose
    code, fr_text, _ = run_cli(*argv, "--lang", "fr")
    assert code == 0
    return text, fr_text
