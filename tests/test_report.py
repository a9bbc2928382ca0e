"""The report end to end on a small corpus: every table filled, every plot a PNG, a summary
and a quick banner on top, numbers equal to the individual commands', the same numbers
from a second run with a fresh cache, a second run served from its cache, and every tuned
choice labelled with the data that tuned it when no validation data was given."""

import json
import re

import numpy as np
import pytest

from perplex import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEPS = 10  # Transformer steps per run: enough for a five-point curve, cheap on a CPU
HELD_OUT = "valid (the last 10% of the training sentences, held out)"


def _report(out, *data):
    args = ["report", "--quick", "--transformer-steps", STEPS, *data, "--out", out]
    assert cli.main([str(a) for a in args]) == 0
    return (out / "report.md").read_text()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, ptb):
    folder = tmp_path_factory.mktemp("report")
    train = folder / "train.txt"
    train.write_text("\n".join(" ".join(s) for s in ptb.sentences["train"][:3000]) + "\n")
    return folder, train


@pytest.fixture(scope="module")
def small_report(corpus):
    folder, train = corpus
    _report(folder / "out", "--train", train, "--split", "80/10/10")
    return folder, train


@pytest.fixture(scope="module")
def repeated_report(small_report):
    folder, train = small_report
    return _report(folder / "again", "--train", train, "--split", "80/10/10")  # a fresh cache


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip()[1:-1])]


def _table_row(md: str, first_cell: str) -> list[str]:
    """The last table row that starts with ``first_cell`` (for a model: its row in the comparison table)."""
    return [_cells(line) for line in md.splitlines() if line.startswith("|") and _cells(line)[0] == first_cell][-1]


def test_every_table_is_filled_and_every_plot_is_a_png(small_report):
    folder, _ = small_report
    out = folder / "out"
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for heading in ("Summary", "The n-gram ladder", "Word embeddings", "The Transformer",
                    "All models on the same test tokens", "Conventions, versions, hardware, timings"):
        assert f"## {heading}" in md and heading in html
    # Every Markdown table row has as many filled cells as its header (the summary's header is blank).
    for table in re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.M):
        rows = [_cells(r) for r in table.strip().splitlines()]
        body = rows[2:] if all(not c for c in rows[0]) else rows
        assert all(len(r) == len(rows[0]) and all(c for c in r) for r in body), table[:200]
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert images
    for rel in images:
        assert (out / rel).read_bytes()[:8] == PNG_MAGIC
    assert html.count("data:image/png;base64,") == len(images)


def test_the_page_opens_with_a_banner_and_a_summary(small_report):
    folder, train = small_report
    md = (folder / "out" / "report.md").read_text()
    top = md.split("## The n-gram ladder")[0]
    assert "> **Quick run (--quick)" in top and "full run: 1–5" in top  # what was cut, and what a full run does
    assert re.search(r"\| date \| \d{4}-\d\d-\d\d \d\d:\d\d UTC \|", top)
    command = _table_row(top, "command")[1]
    assert command == f"perplex report --quick --transformer-steps {STEPS} --train {train} --split 80/10/10 " \
                      f"--out {folder / 'out'}"
    assert f"each Transformer run {STEPS} optimizer steps" in _table_row(top, "mode and budget")[1]
    best = _table_row(top, "best model (lowest valid perplexity)")[1]
    name = best.split(": test perplexity")[0]
    assert _table_row(md, name)[1] in best  # the comparison table's row of that model, same test perplexity
    assert "<div class='banner'>" in (folder / "out" / "report.html").read_text()


def test_every_layer_has_its_heatmaps_and_every_curve_five_points(small_report):
    folder, _ = small_report
    out = folder / "out"
    md = (out / "report.md").read_text()
    layers = {int(r[0]) for r in (_cells(line) for line in md.splitlines() if line.startswith("| "))
              if len(r) == 4 and r[0].isdigit() and r[1].isdigit()}
    assert layers == {1, 2}
    for layer in layers:
        assert f"(figures/attention_layer{layer}.png)" in md
    curves = []
    for path in (out / "cache").glob("transformer-*.npz"):
        with np.load(path) as z:
            curves.append(json.loads(str(z["meta"]))["extra"]["curve"])
    assert len(curves) == 3 and all(len(c) >= 5 for c in curves)
    assert all([step for step, _, _ in c] == [2, 4, 6, 8, 10] for c in curves)


def test_report_numbers_equal_the_commands(small_report, capsys, tmp_path):
    folder, train = small_report
    md = (folder / "out" / "report.md").read_text()
    data = ["--train", str(train), "--split", "80/10/10", "--json"]

    def test_record(*argv):
        capsys.readouterr()
        assert cli.main(list(argv) + data) == 0
        return next(r for r in json.loads(capsys.readouterr().out) if r["split"] == "test")

    record = test_record("ngram", "--smoothing", "kn", "--order", "3")
    row = next(_cells(line) for line in md.splitlines() if line.startswith("| modified Kneser-Ney | 3 |"))
    assert row[6] == f"{record['perplexity']:,.3f}"  # test PPL
    assert row[2] == f"{record['tokens']:,}"
    record = test_record("transformer", "--steps", str(STEPS), "--seed", "0", "--checkpoint", str(tmp_path / "t.pt"))
    assert _table_row(md, "Transformer")[1] == f"{record['perplexity']:,.3f}"
    record = test_record("embed", "--epochs", "1", "--workers", "1", "--out", str(tmp_path / "v.bin"))
    assert _table_row(md, "SGNS next-word model")[1] == f"{record['perplexity']:,.3f}"


def _numbers_only(md: str) -> str:
    """The page without what legitimately differs between two runs: the date, the output folder, wall times."""
    timed = {"build (s)", "train (s)", "tokens/s", "wall time (s)"}
    lines, drop = [], []
    for line in md.splitlines():
        if not line.startswith("|"):
            drop = []
            lines.append(line)
            continue
        cells = _cells(line)
        if not drop and cells[0] != "---":
            drop = [i for i, c in enumerate(cells) if c in timed]
        if cells[0] not in ("date", "command"):
            lines.append(" | ".join(c for i, c in enumerate(cells) if i not in drop))
    return "\n".join(lines)


def test_the_same_command_gives_the_same_numbers(small_report, repeated_report):
    folder, _ = small_report
    first = _numbers_only((folder / "out" / "report.md").read_text())
    assert _numbers_only(repeated_report) == first
    assert "Transformer (GloVe 256-d embeddings)" in first  # every model is in what was compared


def test_second_run_uses_the_cache(small_report, capsys):
    folder, train = small_report
    capsys.readouterr()
    _report(folder / "out", "--train", train, "--split", "80/10/10")
    err = capsys.readouterr().err
    # 5 smoothings x 3 orders, 3 sets of vectors + 2 at the Transformer's width, 3 Transformer runs
    assert err.count("(cached)") == 15 + 5 + 3
    assert "training for" not in err


def test_without_validation_data_tuned_choices_say_what_tuned_them(corpus, ptb):
    folder, train = corpus
    test = folder / "test.txt"
    test.write_text("\n".join(" ".join(s) for s in ptb.sentences["test"][:300]) + "\n")
    md = _report(folder / "no-valid", "--train", train, "--test", test)
    labels = re.findall(r"(?:tuned|chosen|fitted) on (.{0,%d})" % len(HELD_OUT), md)
    assert len(labels) >= 10  # orders, k, temperatures, the Transformer's checkpoints, the EM weight
    assert all(label == HELD_OUT for label in labels), set(labels)
    assert HELD_OUT in _table_row(md, "tuning data")[1]
    # the last 10% of the 3,000 training sentences became the validation split
    tokens = [len(s) + 1 for s in ptb.sentences["train"][:3000]]
    test_tokens = sum(len(s) + 1 for s in ptb.sentences["test"][:300])
    assert f"tokens: train {sum(tokens[:2700]):,}, valid {sum(tokens[2700:]):,}, test {test_tokens:,}" \
        in _table_row(md, "data")[1]


def test_a_cache_entry_whose_artifact_is_gone_is_computed_again(tmp_path):
    from perplex.corpus import Splits, Vocabulary, encode
    from perplex.eval import UniformModel, evaluate
    from perplex.report.cache import ResultCache

    vocab = Vocabulary.build([["a", "b"]])
    data = Splits(vocab, {"train": encode([["a", "b"]], vocab)}, "toy")
    cache, artifact, calls = ResultCache(tmp_path / "cache", data), tmp_path / "model.bin", []

    def compute():
        calls.append(1)
        artifact.write_bytes(b"weights")
        return [evaluate(UniformModel(vocab), data.train, "train")], {"n": len(calls)}

    first = cache.get_or_compute("step", {"k": 1}, compute, artifact=artifact)
    again = cache.get_or_compute("step", {"k": 1}, compute, artifact=artifact)
    assert (first[2], again[2], len(calls)) == (False, True, 1)
    assert again[0][0].perplexity == first[0][0].perplexity == pytest.approx(4.0)  # uniform: a, b, </s>, <unk>
    artifact.unlink()
    assert cache.get_or_compute("step", {"k": 1}, compute, artifact=artifact)[1:] == ({"n": 2}, False)


def test_interpolation_is_no_worse_than_its_parts_on_valid(small_report):
    folder, _ = small_report
    md = (folder / "out" / "report.md").read_text()
    m = re.search(r"its valid perplexity ([\d,.]+) is no higher than either part's \(([\d,.]+) and ([\d,.]+)\)", md)
    mixed, a, b = (float(x.replace(",", "")) for x in m.groups())
    assert mixed <= min(a, b)


def test_report_renders_in_headless_chromium(small_report):
    from tests.browser import render, require_browser

    require_browser()
    folder, _ = small_report
    shot = folder / "shot.png"
    facts = render(folder / "out" / "report.html", shot)
    assert facts["title"].startswith("perplex")
    assert facts["images"] >= 3 and facts["decoded"] == facts["images"]
    assert facts["tables"] >= 6 and facts["empty_tables"] == 0
    assert facts["height"] > 2000
    assert shot.read_bytes()[:8] == PNG_MAGIC


def test_a_raw_text_report_shows_its_vocabulary_and_rare_words(tmp_path):
    """Raw English text (gensim's Lee news corpus, cased, punctuated, an open vocabulary) read
    with --tokenize --lowercase --min-count 2: the page says how much of the text is rare and
    what each family does with it, how much of each evaluation set the vocabulary covers, and
    its examples use words of that vocabulary."""
    from gensim.test.utils import datapath

    raw = tmp_path / "lee.txt"
    raw.write_text(open(datapath("lee_background.cor"), encoding="utf-8").read())
    md = _report(tmp_path / "out", "--train", raw, "--tokenize", "--lowercase", "--min-count", "2",
                 "--split", "80/10/10")
    rare = _table_row(md, "rare words")[1]
    share = float(re.match(r"([\d.]+)% of the training tokens", rare).group(1))
    assert 5 < share < 40 and "delete them from their training stream" in rare
    assert re.search(r"OOV rate: valid [\d.]+%, test [\d.]+%", _table_row(md, "vocabulary")[1])
    ours = _table_row(md, "SGNS (ours)")
    assert re.fullmatch(r"-?[\d.]+ \(\d+ of 353\)", ours[4]) and re.fullmatch(r"-?[\d.]+ \(\d+ of 999\)", ours[5])
    assert re.fullmatch(r"\d[\d,]* of 19,544", ours[3])
    examples = [line for line in md.split("Example queries")[1].splitlines() if line.startswith("| neighbours of")]
    assert examples and not any("(" in line for line in examples)  # words of the vocabulary, no error messages
    assert "cutoffs sized from the training counts" in md


# --- the interactive page, in a real browser -----------------------------------------------------

@pytest.fixture
def page(small_report):
    """The small report's page in headless Chromium: (page, seen), seen listing every request and script error."""
    from tests.browser import open_page, require_browser

    require_browser()
    folder, _ = small_report
    with open_page(folder / "out" / "report.html") as opened:
        yield opened


def test_clicking_a_word_shows_every_heads_attention_from_it(page):
    """The weights shown are the model's own: the checkpoint the page names, run on the sentence again."""
    from perplex.attention.checkpoint import load_checkpoint
    from perplex.attention.heatmap import attention_maps
    from perplex.report.transformer_section import HEATMAP_SENTENCE
    from tests.browser import widget_data

    page, _ = page
    model, vocab, _ = load_checkpoint(widget_data(page, "attention")["checkpoint"])
    maps = attention_maps(model, vocab, HEATMAP_SENTENCE)
    layers, heads = maps.weights.shape[:2]
    for t in (3, len(maps.tokens) - 1):
        page.locator("[data-widget=attention] .token").nth(t).click()
        assert page.locator("[data-widget=attention] .token.selected").text_content() == maps.tokens[t]
        cells = page.locator("[data-widget=attention] td.weight").evaluate_all(
            "cells => cells.map(c => [+c.dataset.layer, +c.dataset.head, +c.dataset.pos, c.textContent])")
        assert len(cells) == layers * heads * (t + 1)  # positions 0..t: the causal mask hides the rest
        shown = np.full((layers, heads, t + 1), np.nan)
        for layer, head, s, text in cells:
            shown[layer - 1, head - 1, s] = float(text)
        np.testing.assert_allclose(shown, maps.weights[:, :, t, :t + 1], atol=5e-5)  # 4 decimals shown
        np.testing.assert_allclose(shown.sum(axis=-1), 1.0, atol=(t + 1) * 5e-5)


def test_hovering_a_word_shows_its_backoff_path_and_every_models_probability(page, small_report):
    """The path's levels are explain's for the best n-gram, trained again here on the same split, and its
    row of the table is what that model scores; the table lists the comparison table's models."""
    from perplex.cli_common import parse_split
    from perplex.corpus import load_splits
    from perplex.explain.ngram import explain_sentence
    from perplex.explain.worked import number
    from perplex.lm import train
    from tests.browser import widget_data

    page, _ = page
    folder, train_file = small_report
    data = widget_data(page, "words")
    config = data["config"]
    splits = load_splits(train_file, split=parse_split("80/10/10"))
    model = train(splits.train, config["smoothing"], config["order"], config["alpha"])
    test = splits.corpora["test"]
    s = data["sentences_index"][0]
    ids = test.sentence(s)
    explained = [w for w in explain_sentence(model, [test.vocab.tokens[i] for i in ids[:-1]]).sections
                 if w.kind == "ngram-token"]
    log10 = model.log10_probs(test.subset([s]))
    md = (folder / "out" / "report.md").read_text()
    table = md.split("## All models on the same test tokens")[1].split("\n## ")[0]
    compared = [_cells(line)[0] for line in table.splitlines() if line.startswith("| ")][2:]  # past header, ---
    for t in (0, 2, len(ids) - 1):  # the first word (context <s>), one inside, and </s>
        page.locator(f"[data-widget=words] .word[data-sentence='0'][data-pos='{t}']").hover()
        assert page.locator("[data-widget=words] .word.selected").text_content() == test.vocab.tokens[ids[t]]
        levels = page.locator("[data-widget=words] ol.path li").evaluate_all(
            "items => items.map(l => [+l.dataset.order, l.querySelector('.p').textContent])")
        assert levels == [[lv["order"], number(lv["p"])] for lv in reversed(explained[t].data["levels"])]
        assert levels[0][0] == min(t + 2, config["order"])  # the longest context the model reads
        assert float(levels[0][1]) == pytest.approx(10 ** log10[t], rel=1e-5)  # shown to 6 digits
        rows = page.locator("[data-widget=words] table.models tbody tr").evaluate_all(
            "rows => rows.map(r => [r.dataset.model, r.querySelector('.log10').textContent])")
        assert [name for name, _ in rows] == compared
        reference = page.locator("[data-widget=words] tr.reference td.log10").text_content()
        assert float(reference) == pytest.approx(log10[t], abs=5e-7)
        assert all(float(v) <= 0 for _, v in rows if v != "-inf")


def test_searching_the_map_finds_a_word_and_its_neighbours(page):
    """The neighbours listed are perplex similar's (most_similar on the vectors the page names)."""
    from perplex.embeddings.plot import pick_words
    from perplex.embeddings.queries import most_similar
    from perplex.embeddings.vectors import load_vectors
    from tests.browser import widget_data

    page, _ = page
    data = widget_data(page, "map")
    kv = load_vectors(data["vectors"])
    on_map = data["words"][:len(data["xy"])]
    assert on_map == pick_words(kv, top=5000)  # the most frequent words, markers and zero vectors left out
    assert page.locator("[data-widget=map] svg circle").count() == len(on_map)
    search = page.locator("[data-widget=map] input.search")
    for word in (on_map[7], on_map[-1]):
        search.fill(word)
        shown = page.locator("[data-widget=map] ol.neighbours li").evaluate_all(
            "items => items.map(l => [l.querySelector('.w').textContent, +l.querySelector('.cos').textContent])")
        expected = most_similar(kv, word, topn=10)
        assert [w for w, _ in shown] == [w for w, _ in expected]
        np.testing.assert_allclose([c for _, c in shown], [c for _, c in expected], atol=5e-5)
        assert page.locator("[data-widget=map] svg .query").get_attribute("data-word") == word
        assert page.locator("[data-widget=map] svg .neighbour").count() == sum(w in on_map for w, _ in expected)
    search.fill("zzqx")
    assert '"zzqx" is not among the' in page.locator("[data-widget=map] .missing").text_content()
    assert page.locator("[data-widget=map] svg .query").count() == 0
    page.locator("[data-widget=map] button", has_text="whole map").click()
    assert search.input_value() == "" and page.locator("[data-widget=map] ol.neighbours").count() == 0


def test_the_interactive_page_makes_no_network_request(page):
    """Every widget used once: the page asks for nothing but itself (its figures are data: URIs, its script
    inline) and raises no script error."""
    page, seen = page
    page.locator("[data-widget=attention] .token").nth(1).click()
    page.locator("[data-widget=words] .word").nth(1).hover()
    page.locator("[data-widget=map] input.search").fill("the")
    assert page.locator("[data-widget=attention] td.weight").count() > 0
    assert page.locator("[data-widget=words] ol.path li").count() > 0
    assert seen["errors"] == []
    assert seen["requests"] == [page.url]


def test_a_widgets_numbers_cannot_break_out_of_the_page():
    """Words are data: one that spells a closing tag stays inside its widget's JSON, which reads back
    unchanged; a probability of 0 (log10 -inf) becomes null, which the script shows as 0."""
    from perplex.report.document import Interactive, Section, to_html

    evil = "</script><script>alert(1)</script><!--"
    data = {"tokens": [evil, "ok"], "log10": [float("-inf"), -1.5]}
    page = to_html("t", [Section("s").add(Interactive("words", data))])
    assert page.count("</script>") == 2  # the widget's JSON element and the page's script, nothing else
    start = page.index("<script type='application/json'>") + len("<script type='application/json'>")
    assert json.loads(page[start:page.index("</script>", start)]) == {"tokens": [evil, "ok"], "log10": [None, -1.5]}


def test_without_javascript_each_widget_says_what_it_would_do(small_report):
    from tests.browser import open_page, require_browser

    require_browser()
    folder, _ = small_report
    with open_page(folder / "out" / "report.html", javascript=False) as (page, seen):
        notes = page.locator("[data-widget] noscript").all_text_contents()
        assert len(notes) == 3 and all(n.startswith("With JavaScript on, ") for n in notes)
        assert page.locator("[data-widget] .token, [data-widget] .word, [data-widget] svg").count() == 0
        shown = page.locator("[data-widget=attention] p")  # noscript's content, parsed as HTML without scripts
        assert shown.is_visible() and shown.text_content().startswith("With JavaScript on, clicking a word")


def test_word_by_word_picks_readable_sentences_or_falls_back_to_the_first():
    from perplex.corpus import Vocabulary, encode
    from perplex.report.word_by_word import pick_sentences

    sentences = [["a"] * n for n in (3, 8, 30, 6, 25, 7, 26)]
    corpus = encode(sentences, Vocabulary.build(sentences))
    assert pick_sentences(corpus) == [1, 3, 4, 5]  # 6 to 25 words, in order; 3, 30 and 26 words skipped
    assert pick_sentences(corpus, n=2) == [1, 3]
    short = encode([["a"], ["a", "a"]], corpus.vocab)
    assert pick_sentences(short) == [0, 1]  # none long enough: the first ones rather than none
