"""perplex explain similar / analogy: the explained cosines and scores are the queries' own,
in the same order, and each is the dot product over the norms a class computes by hand."""

from __future__ import annotations

import math

import numpy as np

import pytest

from perplex.embeddings.queries import analogy, most_similar
from perplex.embeddings.vectors import load_vectors
from perplex.explain.vectors import explain_analogy, explain_similar
from perplex.explain.worked import render
from tests.cli_runner import every_format, explain_topic_runner

# Hand-made vectors: royalty, maleness, femaleness, fruitiness.
WORDS = {
    "king": [0.9, 0.8, 0.1, 0.2],
    "man": [0.1, 0.9, 0.1, 0.1],
    "woman": [0.1, 0.1, 0.9, 0.2],
    "queen": [0.9, 0.1, 0.8, 0.3],
    "prince": [0.8, 0.7, 0.2, 0.1],
    "apple": [0.1, 0.3, 0.2, 0.9],
    "girl": [0.1, 0.2, 0.8, 0.1],
}


def _cos(u: str, v: str) -> float:
    """The board's cosine: dot product over the product of the norms, in float64."""
    x, y = np.array(WORDS[u]), np.array(WORDS[v])
    return float(x @ y / math.sqrt((x @ x) * (y @ y)))


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vectors") / "royal.txt"  # word2vec text format
    lines = [f"{len(WORDS)} 4"] + [f"{w} {' '.join(map(str, v))}" for w, v in WORDS.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def kv(vectors_file):
    return load_vectors(vectors_file)


@pytest.fixture
def run_cli(monkeypatch, capsys):
    return explain_topic_runner(monkeypatch, capsys, "perplex.explain.vectors")


# ------------------------------------------------------------------------ analogy
def test_a_hand_computed_cosine():
    # queen·king = 0.81 + 0.08 + 0.08 + 0.06 = 1.03; |queen|² = 1.55, |king|² = 1.50
    assert _cos("queen", "king") == pytest.approx(1.03 / math.sqrt(1.55 * 1.50), abs=1e-12)
    assert _cos("queen", "king") == pytest.approx(0.675501, abs=1e-6)


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy_scores_and_order_are_the_querys(kv, method):
    w = explain_analogy(kv, "king", "man", "woman", method=method, top=5)
    ranking = analogy(kv, "king", "man", "woman", method, 5)
    assert [w for w, _ in ranking] == ["queen", "girl", "prince", "apple"]
    assert w.data[method] == [[word, score] for word, score in ranking]
    assert w.data["answer"] == "queen"
    first = w.sections[0]  # the chosen method comes first and gives the answer
    assert first.kind == f"analogy-{method}"
    candidates = [s for s in first.steps if s.label.startswith("candidate")]
    assert [s.value for s in candidates] == [score for _, score in ranking]
    assert [s.expr.split("(")[1].split(")")[0] for s in candidates] == [word for word, _ in ranking]
    assert first.steps[-1].expr == "queen" and first.steps[-1].value == ranking[0][1]
    # the other method is explained too, with its own ranking
    other = "3cosmul" if method == "3cosadd" else "3cosadd"
    assert w.sections[1].kind == f"analogy-{other}"
    assert w.data[other] == [[word, s] for word, s in analogy(kv, "king", "man", "woman", other, 5)]
    assert w.data["max_difference"] < 1e-6


def test_analogy_cosines_by_hand(kv):
    w = explain_analogy(kv, "king", "man", "woman")
    cosines = w.data["cosines"]
    for d in ("queen", "girl", "prince", "apple"):
        for q in ("king", "man", "woman"):
            assert cosines[d][q] == pytest.approx(_cos(d, q), abs=1e-6)
    add = _cos("queen", "king") - _cos("queen", "man") + _cos("queen", "woman")
    assert add == pytest.approx(1.179154, abs=1e-6)
    assert w.data["3cosadd"][0][1] == pytest.approx(add, abs=1e-6)
    mul = (1 + _cos("queen", "king")) / 2 * (1 + _cos("queen", "woman")) / 2 / ((1 + _cos("queen", "man")) / 2 + 0.001)
    assert w.data["3cosmul"][0][1] == pytest.approx(mul, abs=1e-6)
    # the cosine written out in full: queen·king = 1.03 over the norms
    full = [s for s in w.steps if s.expr.startswith(("queen·king", "cos(queen, king)"))]
    assert [round(s.value, 6) for s in full] == [1.03, round(_cos("queen", "king"), 6)]
    assert w.data["norms"]["king"] == pytest.approx(math.sqrt(1.50))
    # the query direction king/|king| - man/|man| + woman/|woman|
    x = sum(s * np.array(WORDS[v]) / np.linalg.norm(WORDS[v]) for s, v in ((1, "king"), (-1, "man"), (1, "woman")))
    assert w.data["query_direction_norm"] == pytest.approx(np.linalg.norm(x), abs=1e-6)


def test_analogy_says_which_query_words_were_left_out(kv):
    w = explain_analogy(kv, "king", "man", "woman")
    excluded = {e["word"]: e for e in w.data["excluded"]}
    assert set(excluded) == {"king", "man", "woman"}
    # woman's own 3CosAdd score: cos(woman, king) - cos(woman, man) + 1
    would = _cos("woman", "king") - _cos("woman", "man") + 1
    assert excluded["woman"]["would_score"] == pytest.approx(would, abs=1e-6)
    assert would == pytest.approx(1.016961, abs=1e-6)
    assert excluded["woman"]["would_rank"] == 2  # between queen (1.179) and girl (0.963)
    assert excluded["king"]["would_rank"] == 4  # 0.514: below prince (0.594), above apple (0.447)
    section = w.section("analogy-excluded")
    assert [s.expr for s in section.steps] == ["3CosAdd(king)", "3CosAdd(man)", "3CosAdd(woman)"]


def test_similar_cosines_are_the_querys(kv):
    w = explain_similar(kv, "king", top=5)
    ranking = most_similar(kv, "king", 5)
    assert [word for word, _ in ranking] == ["prince", "man", "queen", "apple", "girl"]
    assert w.data["ranking"] == [[word, s] for word, s in ranking]
    rows = [s for s in w.sections[0].steps if s.label.startswith("neighbour")]
    assert [s.value for s in rows] == [s for _, s in ranking]
    for n in w.data["neighbours"]:
        assert n["cosine"] == pytest.approx(_cos("king", n["word"]), abs=1e-6)
        assert n["dot"] == pytest.approx(float(np.dot(WORDS["king"], WORDS[n["word"]])), abs=1e-6)
    assert w.data["neighbours"][0]["dot"] == pytest.approx(0.9 * 0.8 + 0.8 * 0.7 + 0.1 * 0.2 + 0.2 * 0.1)
    assert w.data["excluded"] == ["king"]
    assert w.data["norm"] == pytest.approx(math.sqrt(1.50))


def test_dims_elides_the_rest(kv):
    w = explain_similar(kv, "king", dims=2)
    assert "king = [0.9, 0.8, … 2 more]" in render(w, "text")
    assert r"\left(0.9,\ 0.8,\ \ldots\right)" in render(w, "latex")


# ------------------------------------------------------------------------ the command line
@pytest.mark.parametrize("argv", [["analogy", "king", "man", "woman"], ["similar", "queen"]])
def test_cli_formats_and_languages(run_cli, vectors_file, argv):
    base = ["explain", *argv, "--vectors", vectors_file]
    text, fr_text = every_format(run_cli, base)
    assert text and ("voisin" in fr_text or "candidat" in fr_text)


def test_cli_text_shows_the_ranking(run_cli, vectors_file):
    code, out, _ = run_cli("explain", "analogy", "king", "man", "woman", "--vectors", vectors_file, "--top", "2")
    assert code == 0
    assert "3CosAdd(queen) = 0.6755 - 0.2542 + 0.7578 = 1.17915" in out
    assert "answer" in out and "3CosMul(girl)" in out and "3CosAdd(prince)" not in out
    assert "king - man + woman = [0.9, 0, 0.9, 0.3]" in out  # the float32 residue of 0.8 - 0.9 + 0.1 is 0
    code, out, _ = run_cli("explain", "similar", "king", "--vectors", vectors_file, "--top", "1")
    assert "cos(king, prince) = 1.32 / (1.225 × 1.086) = 0.992173" in out


@pytest.mark.parametrize("argv, mentions", [
    (["analogy", "king", "man", "zebra"], "'zebra' is not in the vocabulary"),
    (["similar", "zebra"], "'zebra' is not in the vocabulary"),
    (["similar", "king", "--top", "0"], "--top must be at least 1"),
    (["analogy", "king", "man", "woman", "--dims", "0"], "--dims must be at least 1"),
])
def test_bad_input_is_one_line(run_cli, vectors_file, argv, mentions):
    code, out, err = run_cli("explain", *argv, "--vectors", vectors_file)
    assert code == 1 and out == ""
    assert err.startswith("perplex: error: ") and err.count("\n") == 1 and mentions in err


def test_missing_or_bad_vectors_file(run_cli, tmp_path):
    code, _, err = run_cli("explain", "similar", "king", "--vectors", tmp_path / "none.bin")
    assert code == 1 and err.startswith("perplex: error: vectors file not found") and err.count("\n") == 1
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not a vectors file\n")
    code, _, err = run_cli("explain", "analogy", "a", "b", "c", "--vectors", bad)
    assert code == 1 and err.startswith("perplex: error: ") and err.count("\n") == 1


def test_markdown_keeps_a_word_like_unk(run_cli, tmp_path):
    """<unk> (a word of every PTB vectors file) in a Markdown heading would read as an HTML tag."""
    path = tmp_path / "unk.txt"
    path.write_text("3 2\n<unk> 1 0\nthe 1 0.5\na 0 1\n")
    code, md, _ = run_cli("explain", "similar", "<unk>", "--vectors", path, "--format", "md")
    assert code == 0 and md.splitlines()[0] == "### Nearest neighbours of &lt;unk> by cosine"
    assert "`cos(<unk>, the) = 1 / (1 × 1.118) = 0.894427` |" in md
