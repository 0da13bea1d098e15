"""Static PNG export of report figures, without downloading a browser.

plotly's own path (``write_image``) needs kaleido, which is not a dependency; when it is
missing, the figures are rendered by plotly.js itself (``Plotly.toImage``) in the system
Chromium driven by playwright. Neither available: a one-line AbkitError says so.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import plotly.graph_objects as go

from abkit.errors import AbkitError

WIDTH = 1100


def chromium_path() -> str | None:
    """The system Chromium: $ABKIT_CHROMIUM, /usr/bin/chromium, or chromium/chrome on PATH."""
    for cand in (os.environ.get("ABKIT_CHROMIUM"), "/usr/bin/chromium"):
        if cand and Path(cand).exists():
            return cand
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _kaleido_ok() -> bool:
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    return True


def export_png(figs: Mapping[str, go.Figure], out_dir: str | Path) -> list[Path]:
    """Write ``<name>.png`` for each figure; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if _kaleido_ok():
        paths = []
        for name, fig in figs.items():
            path = out / f"{name}.png"
            fig.write_image(path, width=WIDTH, height=fig.layout.height or 400, scale=2)
            paths.append(path)
        return paths
    return _export_chromium(figs, out)


def _export_chromium(figs: Mapping[str, go.Figure], out: Path) -> list[Path]:
    exe = chromium_path()
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise AbkitError("--png needs kaleido or playwright (pip install 'abkit[test]') plus a system Chromium") from None
    if exe is None:
        raise AbkitError("--png needs a system Chromium (e.g. apt-get install chromium) or kaleido")
    from plotly.offline import get_plotlyjs

    paths = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            page = browser.new_page()
            page.set_content(f"<html><head><meta charset='utf-8'><script>{get_plotlyjs()}</script></head><body></body></html>")
            for name, fig in figs.items():
                spec = json.loads(fig.to_json())
                url = page.evaluate(
                    "([f, w, h]) => Plotly.toImage({data: f.data, layout: f.layout}, {format: 'png', width: w, height: h, scale: 2})",
                    [spec, WIDTH, int(fig.layout.height or 400)],
                )
                path = out / f"{name}.png"
                path.write_bytes(base64.b64decode(url.split(",", 1)[1]))
                paths.append(path)
            browser.close()
    except PlaywrightError as exc:
        raise AbkitError(f"--png: Chromium failed ({str(exc).splitlines()[0]})") from None
    return paths
