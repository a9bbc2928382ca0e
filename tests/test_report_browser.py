"""The report's HTML in a real headless browser (Chromium driven by Playwright):
it renders, every image decodes, every table has rows.  CI installs Debian's
chromium; where no Chromium is installed this test is skipped and says so."""

import shutil
from pathlib import Path

import pytest

import cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def render(html_path: Path, screenshot: Path) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(html_path.resolve().as_uri())
        page.wait_for_load_state("load")
        facts = page.evaluate("""() => ({
            images: document.images.length,
            decoded: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 100).length,
            tables: document.querySelectorAll('table').length,
            empty_tables: Array.from(document.querySelectorAll('table')).filter(t => t.tBodies[0].rows.length == 0).length,
            title: document.title,
            height: document.body.scrollHeight,
        })""")
        page.screenshot(path=str(screenshot), full_page=False)
        browser.close()
    return facts


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (CI installs Debian's chromium)")
def test_report_renders_in_headless_chromium(tmp_path, ptb):
    pytest.importorskip("playwright")
    train = tmp_path / "train.txt"
    train.write_text("\n".join(" ".join(s) for s in ptb.sentences["train"][:2000]) + "\n")
    assert cli.main(["report", "--quick", "--train", str(train), "--split", "80/10/10", "--out", str(tmp_path / "r")]) == 0
    shot = tmp_path / "shot.png"
    facts = render(tmp_path / "r" / "report.html", shot)
    assert facts["title"].startswith("perplex")
    assert facts["images"] >= 1 and facts["decoded"] == facts["images"]
    assert facts["tables"] >= 3 and facts["empty_tables"] == 0
    assert facts["height"] > 900
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
