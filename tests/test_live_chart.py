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


def test_the_folder_is_private_and_not_a_predictable_shared_one(tmp_path) -> None:
    """Regression: files went to <tmp>/dqn_sim-live-chart-<digest> and were reused if present, so another local
    user could plant script there before the studio started."""
    folder = served_dir()
    assert folder.stat().st_mode & 0o077 == 0  # only this user may read, list or write it
    served_dir.cache_clear()
    try:
        assert served_dir() != folder  # a fresh, unpredictable folder per server, never one found lying around
    finally:
        served_dir.cache_clear()
