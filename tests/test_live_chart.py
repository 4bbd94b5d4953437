"""The live chart's frame is served from a folder holding our page and the installed plotly.js."""

from __future__ import annotations

from plotly.offline import get_plotlyjs

from ui.live_chart import FRONTEND, served_dir


def test_served_folder_has_the_page_and_the_bundled_plotly() -> None:
    folder = served_dir()
    assert (folder / "index.html").read_bytes() == FRONTEND.read_bytes()
    assert (folder / "plotly.min.js").read_text() == get_plotlyjs()
    assert '<script src="plotly.min.js">' in FRONTEND.read_text()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no partial copies left behind
