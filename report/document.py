"""A report as plain data (sections of paragraphs, tables and figures) and its
two renderings: Markdown beside PNG files, and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
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
class Section:
    title: str
    blocks: list = field(default_factory=list)  # str (Markdown paragraph), Table, Figure, Banner

    def add(self, *blocks) -> "Section":
        self.blocks.extend(blocks)
        return self


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"  # a bare | would end the cell


def _md_table(t: Table) -> str:
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
                parts.append(_md_table(b))
            elif isinstance(b, Figure):
                parts.append(f"![{b.caption}]({Path(b.path).relative_to(out_dir)})\n\n*{b.caption}*")
            elif isinstance(b, Banner):
                parts.append("> " + b.text.replace("\n", "\n> "))
            else:
                parts.append(str(b))
    return "\n\n".join(parts) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left;white-space:nowrap}table.facts td{text-align:left}figure{margin:1em 0}img{max-width:100%}
figcaption,.caption{color:#555;font-style:italic}.banner{border:2px solid #d08000;background:#fff6e0;padding:.6em 1em;margin:1em 0}code{background:#f4f4f4;padding:0 3px}pre{background:#f4f4f4;padding:.6em;overflow-x:auto}
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
            elif isinstance(b, Figure):
                data = base64.b64encode(Path(b.path).read_bytes()).decode()
                out.append(f"<figure><img alt='{html.escape(b.caption)}' src='data:image/png;base64,{data}'>"
                           f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            else:
                out.append(_inline(str(b)))
    out.append("</body></html>")
    return "\n".join(out)
