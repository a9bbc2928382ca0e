"""perplex explain softmax / entropy / cosine: hand-computed values, every format, bad input."""

import functools
import json
import math

import pytest

from perplex.errors import PerplexError
from perplex.explain.elementary import cosine_worked, entropy_worked, softmax_worked
from perplex.explain.worked import render
from tests.cli_runner import every_format, run_perplex


def run(capsys, *argv):
    return run_perplex(capsys, "explain", *argv)


def test_softmax_of_1_0_by_hand():
    w = softmax_worked([1.0, 0.0])
    p = w.data["softmax"]
    assert [round(x, 3) for x in p] == [0.731, 0.269]
    assert p[0] == pytest.approx(1 / (1 + math.exp(-1)), abs=1e-15)
    assert w.data["exp"] == [1.0, pytest.approx(math.exp(-1))]
    assert w.data["sum"] == pytest.approx(1 + math.exp(-1))


def test_softmax_subtracts_the_max_so_large_scores_do_not_overflow():
    w = softmax_worked([1000.0, 999.0])
    assert w.data["max"] == 1000.0 and w.data["shifted"] == [0.0, -1.0]
    assert w.data["softmax"] == pytest.approx(softmax_worked([1.0, 0.0]).data["softmax"], abs=1e-15)
    assert "largest" in " ".join(w.notes)


def test_softmax_of_three_scores_sums_to_one():
    p = softmax_worked([2.0, 1.0, 0.1]).data["softmax"]
    assert p == pytest.approx([0.659001, 0.242433, 0.0985659], abs=1e-6)
    assert sum(p) == pytest.approx(1.0, abs=1e-15)


def test_entropy_of_a_half_and_two_quarters_is_1_5_bits():
    w = entropy_worked([0.5, 0.25, 0.25])
    assert w.data["entropy_bits"] == 1.5
    assert w.data["terms_bits"] == [0.5, 0.5, 0.5]
    assert w.data["max_bits"] == pytest.approx(math.log2(3))
    assert w.data["perplexity"] == pytest.approx(2**1.5)


def test_entropy_uses_the_toolkits_function_and_zero_log_zero():
    from perplex.eval import entropy

    w = entropy_worked([2, 1, 1, 0], normalize=True)
    assert w.data["probabilities"] == [0.5, 0.25, 0.25, 0.0]
    assert w.data["entropy_bits"] == entropy([0.5, 0.25, 0.25, 0.0]) == 1.5
    assert w.data["max_bits"] == 2.0
    uniform = entropy_worked([0.25] * 4)
    assert uniform.data["entropy_bits"] == uniform.data["max_bits"] == 2.0


@pytest.mark.parametrize("probs, message", [
    ([0.5, 0.25, 0.2], "sum to 0.95, not 1"),
    ([0.5, 0.6, -0.1], "probability 3 is negative"),
])
def test_entropy_refuses_what_is_not_a_distribution(probs, message):
    with pytest.raises(PerplexError, match=message):
        entropy_worked(probs)


def test_cosine_by_hand():
    w = cosine_worked([1.0, 0.0], [0.6, 0.8])
    assert w.data["dot"] == pytest.approx(0.6) and w.data["norm_u"] == 1.0 and w.data["norm_v"] == pytest.approx(1.0)
    assert w.data["cosine"] == pytest.approx(0.6)
    assert w.data["angle_degrees"] == pytest.approx(math.degrees(math.acos(0.6)))
    assert cosine_worked([1.0, 2.0], [-2.0, -4.0]).data["cosine"] == pytest.approx(-1.0)


def test_cosine_refuses_zero_and_mismatched_vectors():
    with pytest.raises(PerplexError, match="zero vector"):
        cosine_worked([0.0, 0.0], [1.0, 0.0])
    with pytest.raises(PerplexError, match="2 and 3 components"):
        cosine_worked([1.0, 0.0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("argv", [["softmax", "2", "1", "0.1"], ["entropy", "0.5", "0.25", "0.25"],
                                  ["cosine", "1,0", "0.6,0.8"]])
def test_cli_prints_text_md_latex_and_json(capsys, argv):
    text, _ = every_format(functools.partial(run, capsys), argv)
    assert text.splitlines()[0] and "=" in text
    assert json.loads(run(capsys, *argv, "--json")[1])["kind"] == argv[0]


def test_cli_numbers_in_french_are_the_same(capsys):
    code, en, _ = run(capsys, "entropy", "0.5", "0.25", "0.25", "--json")
    code, fr, _ = run(capsys, "entropy", "0.5", "0.25", "0.25", "--json", "--lang", "fr")
    en, fr = json.loads(en), json.loads(fr)
    assert en["data"] == fr["data"] and en["data"]["entropy_bits"] == 1.5
    assert fr["title"] == "Entropie d'une distribution sur 3 issues"
    assert [s["value"] for s in en["steps"]] == [s["value"] for s in fr["steps"]]
    code, text, _ = run(capsys, "softmax", "1", "0", "--lang", "fr")
    assert "probabilité 1" in text and "0.731059" in text


def test_entropy_normalize_option(capsys):
    code, out, err = run(capsys, "entropy", "2", "1", "1", "--normalize", "--json")
    assert code == 0, err
    assert json.loads(out)["data"]["entropy_bits"] == 1.5


@pytest.mark.parametrize("argv, message", [
    (["entropy", "0.5", "0.25", "0.2"], "--normalize"),
    (["entropy", "0.5", "x"], "'x' is not a number"),
    (["softmax", "1", "nan"], "not a finite number"),
    (["cosine", "1,0", "1,0,0"], "same dimension"),
    (["cosine", "0,0", "1,0"], "zero vector"),
])
def test_bad_input_is_one_error_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("perplex: error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err


def test_render_of_the_library_result_is_the_cli_text(capsys):
    code, out, _ = run(capsys, "cosine", "1,0", "0.6,0.8")
    assert out == render(cosine_worked([1.0, 0.0], [0.6, 0.8]), "text") + "\n"


def test_pasted_latex_typesets_in_a_plain_article():
    """What a teacher pastes compiles with pdflatex's defaults (OT1 fonts, amsmath only), and the
    course's <s>, | and French guillemets come out as themselves rather than as ¡, ¿ and —."""
    from perplex.explain.worked import Step, Worked
    from tests.latex import PDFLATEX, compile_errors

    w = Worked("x", "P(the | <s>)", [Step("« c(<s> the) », noté c(h w)", "a | b", 1.0)])
    tex = render(w, "latex")
    assert r"\paragraph{P(the \textbar{} \textless{}s\textgreater{})}" in tex
    assert r"\text{`` c(\textless{}s\textgreater{} the) '', noté c(h w)}" in tex
    if PDFLATEX is None:
        pytest.skip("no pdflatex to typeset with (CI installs Debian's texlive-latex-base)")
    assert compile_errors(tex) == []
    assert compile_errors(render(softmax_worked([2.0, 1.0, 0.1], lang="fr"), "latex")) == []
