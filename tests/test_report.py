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
    from tests.browser import CHROMIUM, render

    if CHROMIUM is None:
        pytest.skip("no chromium installed (CI installs Debian's chromium)")
    pytest.importorskip("playwright")
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
