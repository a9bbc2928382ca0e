"""Rendering an HTML page in a real headless browser (Debian's Chromium driven by
Playwright) and reading back what a person would see: used by the report tests."""

import contextlib
import shutil
from pathlib import Path


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def require_browser() -> None:
    """Skip the calling test, saying why, where Chromium or Playwright is missing."""
    import pytest

    if CHROMIUM is None:
        pytest.skip("no chromium installed (CI installs Debian's chromium)")
    pytest.importorskip("playwright")


def render(html_path: Path, screenshot: Path) -> dict:
    with open_page(html_path) as (page, _):
        facts = page.evaluate("""() => ({
            images: document.images.length,
            decoded: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 100).length,
            tables: document.querySelectorAll('table').length,
            empty_tables: Array.from(document.querySelectorAll('table')).filter(t => t.tBodies[0].rows.length == 0).length,
            title: document.title,
            height: document.body.scrollHeight,
        })""")
        page.screenshot(path=str(screenshot), full_page=False)
    return facts


@contextlib.contextmanager
def open_page(html_path: Path, javascript: bool = True):
    """The page loaded in headless Chromium, for a test to click and read: yields (page, seen),
    ``seen`` collecting every URL the page requested and every script error it raised."""
    from playwright.sync_api import sync_playwright

    seen = {"requests": [], "errors": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, java_script_enabled=javascript)
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.goto(html_path.resolve().as_uri())
            page.wait_for_load_state("load")
            yield page, seen
        finally:
            browser.close()


def widget_data(page, kind: str) -> dict:
    """The numbers a widget of the page was drawn from (its JSON)."""
    import json

    return json.loads(page.locator(f"[data-widget={kind}] script[type='application/json']").text_content())
