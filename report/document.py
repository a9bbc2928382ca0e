"""A report as plain data (sections of paragraphs, tables and figures) and its
two renderings: Markdown beside PNG files, and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class Banner:
    """A notice the reader must not miss (a quick run's caveat), shown as a box."""

    text: str


@dataclass
class Interactive:
    """A part of the page a reader works with (click, hover, search): its ``data`` goes into
    the HTML page as JSON for the page's own script (``report/interactive.js``, inlined, so the
    page needs no other file and no network).  ``what`` says what it does ("clicking a word
    shows ..."): the Markdown report says it is in the HTML page, and the page without
    JavaScript says it needs it; ``markdown`` is shown in the Markdown report after that."""

    kind: str  # which widget of interactive.js draws it: attention, words, map
    data: dict
    what: str = ""
    markdown: str = ""


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)  # str (Markdown paragraph), Table, Figure, Banner, Interactive

    def add(self, *blocks) -> "Section":
        self.blocks.extend(blocks)
        return self


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"  # a bare | would end the cell


def md_table(t: Table) -> str:
    lines = [_md_row(t.header), "|" + "|".join(" --- " for _ in t.header) + "|"]
    lines += [_md_row(row) for row in t.rows]
    return ("*" + t.caption + "*\n\n" if t.caption else "") + "\n".join(lines)


def to_markdown(title: str, sections: list[Section], out_dir: Path) -> str:
    parts = [f"# {title}"]
    for s in sections:
        if s.title:
            parts.append(f"## {s.title}")
        for b in s.blocks:
            if isinstance(b, Table):
                parts.append(md_table(b))
            elif isinstance(b, Figure):
                parts.append(f"![{b.caption}]({Path(b.path).relative_to(out_dir)})\n\n*{b.caption}*")
            elif isinstance(b, Banner):
                parts.append("> " + b.text.replace("\n", "\n> "))
            elif isinstance(b, Interactive):
                parts += [f"In the HTML page (report.html), {b.what}."] if b.what else []
                parts += [b.markdown] if b.markdown else []
            else:
                parts.append(str(b))
    return "\n\n".join(parts) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left;white-space:nowrap}table.facts td{text-align:left}figure{margin:1em 0}img{max-width:100%}
figcaption,.caption{color:#555;font-style:italic}.banner{border:2px solid #d08000;background:#fff6e0;padding:.6em 1em;margin:1em 0}code{background:#f4f4f4;padding:0 3px}pre{background:#f4f4f4;padding:.6em;overflow-x:auto}
.widget{border:1px solid #ccc;border-radius:4px;padding:.6em 1em;margin:1em 0;background:#fcfcfc}.hint{color:#666;font-size:.9em}
.token,.suggestion{margin:2px;padding:2px 6px;border:1px solid #aaa;border-radius:3px;background:#fff;cursor:pointer;font:inherit}
.token.selected,.word.selected{background:#1f77b4;color:#fff}.word{cursor:help;padding:1px 2px;border-radius:2px}
.word:hover{background:#dde9f5}.word.oov{text-decoration:underline dotted}.sentence{line-height:1.8}
table.attention td{min-width:3.5em}ol.path .p{font-weight:bold}ol.path .how{color:#555;font-family:monospace;font-size:.85em}
svg.map{width:100%;max-width:860px;border:1px solid #ddd;background:#fff}svg.map .labels text{font-size:9px;fill:#555}
svg.map .query circle{fill:#d62728}svg.map .neighbour circle{fill:#ff7f0e}svg.map .neighbour line{stroke:#ff7f0e;stroke-width:1}
svg.map .marks text{font-size:12px;font-weight:bold;paint-order:stroke;stroke:#fff;stroke-width:3px}
input.search{font:inherit;padding:3px 6px;width:16em}tr.reference td{font-weight:bold}
"""


def _inline(text: str) -> str:
    """Minimal Markdown for paragraphs: `code`, **bold**, and lists/pre kept readable."""
    import re

    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)
    if escaped.startswith("```"):
        body = escaped.strip("`").split("\n", 1)[-1]
        return f"<pre>{body}</pre>"
    if all(line.startswith("- ") for line in escaped.splitlines() if line.strip()):
        items = "".join(f"<li>{line[2:]}</li>" for line in escaped.splitlines() if line.strip())
        return f"<ul>{items}</ul>"
    return f"<p>{escaped}</p>"


def to_html(title: str, sections: list[Section]) -> str:
    """One HTML page with the PNG figures embedded as data URIs (no other files needed)."""
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for s in sections:
        if s.title:
            out.append(f"<h2>{html.escape(s.title)}</h2>")
        for b in s.blocks:
            if isinstance(b, Table):
                if b.caption:
                    out.append(f"<p class='caption'>{html.escape(b.caption)}</p>")
                head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
                body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in b.rows)
                if any(b.header):
                    out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
                else:  # a table of facts (the summary): no header row, text left-aligned
                    out.append(f"<table class='facts'><tbody>{body}</tbody></table>")
            elif isinstance(b, Banner):
                out.append(f"<div class='banner'>{_inline(b.text)}</div>")
            elif isinstance(b, Interactive):
                # Without JavaScript the box says what it would do rather than stay empty.
                fallback = _inline(f"With JavaScript on, {b.what}." if b.what else "This part needs JavaScript.")
                out.append(f"<div class='widget' data-widget='{html.escape(b.kind)}'><noscript>{fallback}</noscript>"
                           f"<script type='application/json'>{page_json(b.data)}</script></div>")
            elif isinstance(b, Figure):
                data = base64.b64encode(Path(b.path).read_bytes()).decode()
                out.append(f"<figure><img alt='{html.escape(b.caption)}' src='data:image/png;base64,{data}'>"
                           f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            else:
                out.append(_inline(str(b)))
    if any(isinstance(b, Interactive) for s in sections for b in s.blocks):
        out.append(f"<script>{_script()}</script>")
    out.append("</body></html>")
    return "\n".join(out)


def page_json(data) -> str:
    """``data`` as JSON that can sit inside a <script> element: every ``<`` escaped, so no
    text in it (a word such as ``</script>``) can end the element; non-finite numbers (a
    log-probability of a zero probability) become null."""
    return json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _script() -> str:
    """The widgets' code, shipped beside this module (package data)."""
    return (Path(__file__).with_name("interactive.js")).read_text(encoding="utf-8")
