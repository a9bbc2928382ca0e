"""The report end to end on a small corpus: every table filled, every plot a PNG,
numbers equal to the individual commands, and a second run served from the cache."""

import json
import re

import pytest

import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_report(tmp_path_factory, ptb):
    folder = tmp_path_factory.mktemp("report")
    train = folder / "train.txt"
    train.write_text("\n".join(" ".join(s) for s in ptb.sentences["train"][:3000]) + "\n")
    code = cli.main(["report", "--quick", "--train", str(train), "--split", "80/10/10", "--out", str(folder / "out")])
    assert code == 0
    return folder, train


def test_every_table_is_filled_and_every_plot_is_a_png(small_report):
    folder, _ = small_report
    out = folder / "out"
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for heading in ("The n-gram ladder", "All models on the same test tokens", "Conventions, versions, hardware, timings"):
        assert f"## {heading}" in md and heading in html
    # Every Markdown table row has as many filled cells as its header.
    for table in re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.M):
        rows = [r.strip("|").split("|") for r in table.strip().splitlines()]
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
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[6] == f"{record['perplexity']:,.3f}"  # test PPL
    assert cells[2] == f"{record['tokens']:,}"


def test_second_run_uses_the_cache(small_report, capsys):
    folder, train = small_report
    capsys.readouterr()
    cli.main(["report", "--quick", "--train", str(train), "--split", "80/10/10", "--out", str(folder / "out")])
    err = capsys.readouterr().err
    assert err.count("(cached)") == 15  # 5 smoothings x 3 orders
