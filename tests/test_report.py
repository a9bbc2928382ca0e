"""The report end to end on a small corpus: every table filled, every plot a PNG,
numbers equal to the individual commands, and a second run served from the cache."""

import json
import re

import pytest

from perplex import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_report(tmp_path_factory, ptb):
    folder = tmp_path_factory.mktemp("report")
    train = folder / "train.txt"
    train.write_text("\n".join(" ".join(s) for s in ptb.sentences["train"][:3000]) + "\n")
    code = cli.main(["report", "--quick", "--transformer-minutes", "0.05", "--train", str(train), "--split", "80/10/10",
                     "--out", str(folder / "out")])
    assert code == 0
    return folder, train


def test_every_table_is_filled_and_every_plot_is_a_png(small_report):
    folder, _ = small_report
    out = folder / "out"
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for heading in ("The n-gram ladder", "Word embeddings", "The Transformer", "All models on the same test tokens",
                    "Conventions, versions, hardware, timings"):
        assert f"## {heading}" in md and heading in html
    # Every Markdown table row has as many filled cells as its header.
    for table in re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.M):
        rows = [re.split(r"(?<!\\)\|", r.strip()[1:-1]) for r in table.strip().splitlines()]
        assert all(len(r) == len(rows[0]) and all(c.strip() for c in r) for r in rows), table[:200]
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert images
    for rel in images:
        assert (out / rel).read_bytes()[:8] == PNG_MAGIC
    assert html.count("data:image/png;base64,") == len(images)
    assert "--quick run" in md


def test_report_numbers_equal_the_ngram_command(small_report, capsys):
    folder, train = small_report
    md = (folder / "out" / "report.md").read_text()
    capsys.readouterr()
    cli.main(["ngram", "--smoothing", "kn", "--order", "3", "--train", str(train), "--split", "80/10/10", "--json"])
    record = [r for r in json.loads(capsys.readouterr().out) if r["split"] == "test"][0]
    row = next(line for line in md.splitlines() if line.startswith("| modified Kneser-Ney | 3 |"))
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip()[1:-1])]
    assert cells[6] == f"{record['perplexity']:,.3f}"  # test PPL
    assert cells[2] == f"{record['tokens']:,}"


def test_second_run_uses_the_cache(small_report, capsys):
    folder, train = small_report
    capsys.readouterr()
    cli.main(["report", "--quick", "--transformer-minutes", "0.05", "--train", str(train), "--split", "80/10/10",
              "--out", str(folder / "out")])
    err = capsys.readouterr().err
    # 5 smoothings x 3 orders, 3 sets of vectors + 2 at the Transformer's width, 3 Transformer runs
    assert err.count("(cached)") == 15 + 5 + 3


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
