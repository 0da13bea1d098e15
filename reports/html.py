"""Assembly of one self-contained HTML page: plotly.js inlined once, every text escaped.

Builders take plain strings (always escaped here) or `Markup` (HTML this module or plotly
produced). Nothing user- or model-written is ever wrapped in `Markup` without escaping.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs


class Markup(str):
    """A string that is already safe HTML."""


Cell = str | Markup | None


def esc(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def tag(name: str, content: Cell | Iterable[Cell] = "", **attrs: Any) -> Markup:
    """<name attr="...">content</name>; attribute values and plain-string content are escaped."""
    parts = [f' {k.rstrip("_").replace("_", "-")}="{html.escape(str(v), quote=True)}"' for k, v in attrs.items() if v is not None]
    if isinstance(content, str | type(None)):
        inner = esc(content)
    else:
        inner = Markup("".join(esc(c) for c in content))
    return Markup(f"<{name}{''.join(parts)}>{inner}</{name}>")


def join(parts: Iterable[Cell]) -> Markup:
    return Markup("".join(esc(p) for p in parts))


def table(headers: Sequence[Cell], rows: Iterable[Sequence[Cell]], *, row_classes: Sequence[str | None] | None = None,
          class_: str = "grid") -> Markup:
    head = tag("tr", [tag("th", h) for h in headers])
    body = []
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes and i < len(row_classes) else None
        body.append(tag("tr", [tag("td", c) for c in row], class_=cls))
    return tag("div", tag("table", [tag("thead", head), tag("tbody", body)], class_=class_), class_="scroll")


def bullets(items: Iterable[Cell]) -> Markup:
    return tag("ul", [tag("li", i) for i in items])


def details(summary: Cell, content: Cell) -> Markup:
    return tag("details", [tag("summary", summary), content])


def section(anchor: str, title: Cell, content: Iterable[Cell]) -> Markup:
    return tag("section", [tag("h2", title), *content], id=anchor)


_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def figure(fig: go.Figure, div_id: str) -> Markup:
    """A plotly figure as a div + script, without plotly.js (the page inlines it once).

    plotly's JSON encoder writes <, > and / as \\u escapes, so no string can close the script.
    """
    out = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)
    return Markup(f'<div class="fig">{out}</div>')


CSS = """
:root { --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --muted:#6e7781; --line:#d0d7de; }
* { box-sizing: border-box; }
body { margin:0; font-family: "Noto Sans CJK SC","PingFang SC","Microsoft YaHei",Helvetica,Arial,sans-serif;
       color:#1f2328; background:#f6f8fa; line-height:1.5; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 20px 60px; }
header.top { display:flex; justify-content:space-between; align-items:baseline; flex-wrap:wrap; gap:8px; }
header.top h1 { font-size: 22px; margin: 4px 0; }
.meta { color: var(--muted); font-size: 13px; }
nav { font-size: 13px; margin: 6px 0 14px; }
nav a { margin-right: 12px; color:#0969da; text-decoration:none; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 18px; margin:14px 0; }
h2 { font-size:18px; margin:2px 0 10px; }
h3 { font-size:15px; margin:14px 0 6px; }
.banner { border-radius:10px; padding:16px 20px; margin:10px 0 14px; color:#fff; }
.banner .action { font-size:28px; font-weight:700; }
.banner .arm { font-size:18px; margin-left:10px; }
.banner ul { margin:8px 0 0 0; padding-left:20px; font-size:15px; }
.banner.ship { background: var(--ok); } .banner.stop { background: var(--bad); }
.banner.keep_running { background: #bf8700; } .banner.no_decision { background: #57606a; }
.rollout { background:#fff; color:#1f2328; border-radius:8px; padding:8px 14px; margin-top:12px; }
.rollout ol { margin:4px 0; padding-left:22px; }
.scroll { overflow-x:auto; }
table.grid { border-collapse:collapse; font-size:13px; width:100%; }
table.grid th, table.grid td { border-bottom:1px solid var(--line); padding:5px 8px; text-align:right; white-space:nowrap; }
table.grid th { background:#f6f8fa; font-weight:600; }
table.grid td:first-child, table.grid th:first-child, td.text { text-align:left; }
table.grid td.text { white-space:normal; }
table.left td, table.left th { text-align:left; } table.left td:last-child { white-space:normal; }
table.grid small { color: var(--muted); font-size: 11px; }
.note-cell { white-space:normal; font-size:12px; max-width:260px; }
tr.sig td { background:#dafbe1; } tr.sig-worse td { background:#ffebe9; }
.verdicts { display:grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap:10px; margin:6px 0 14px; }
.verdict-card { border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.verdict-card.harmful { border-color: var(--bad); background:#ffebe9; }
.verdict-card.ship_candidate { border-color: var(--ok); background:#dafbe1; }
.badge { display:inline-block; border-radius:12px; padding:2px 10px; color:#fff; font-weight:700; background:#57606a; }
.badge.harmful { background: var(--bad); } .badge.ship_candidate { background: var(--ok); }
.badge.keep_running { background:#bf8700; }
.verdict-card ul { margin:6px 0 0 0; padding-left:18px; font-size:13px; } tr.flag td { background:#fff8c5; } tr.bad td { background:#ffebe9; }
.ok { color: var(--ok); font-weight:600; } .bad { color: var(--bad); font-weight:600; } .warn { color: var(--warn); }
.kv { display:grid; grid-template-columns: repeat(auto-fit, minmax(165px, 1fr)); gap:10px; margin-bottom:10px; }
.kv div { background:#f6f8fa; border-radius:6px; padding:8px 10px; }
.kv b { display:block; font-size:18px; }
.fig { margin: 6px 0; }
.note { color: var(--muted); font-size: 13px; }
details { margin: 8px 0; } summary { cursor:pointer; font-weight:600; }
pre { background:#f6f8fa; padding:10px; overflow-x:auto; font-size:12px; border-radius:6px; }
"""


def page(*, title: str, lang: str, header: Markup, nav: Sequence[tuple[str, str]], body: Iterable[Cell]) -> str:
    """The whole document. plotly.js is inlined exactly once, in <head>."""
    links = Markup("".join(tag("a", label, href=f"#{anchor}") for anchor, label in nav))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        "</head><body><main>"
        f"{header}{tag('nav', links)}{join(body)}"
        "</main></body></html>\n"
    )
