"""The Train page's live chart: a Plotly figure redrawn in place rather than remounted each refresh.

``st.plotly_chart`` gives a chart a new identity whenever its figure changes, so a live chart is torn down and
built again (a full ``newPlot`` and a React mount) every second; on two shared cores that work delayed clicks
by a few hundred milliseconds. This component keeps one frame mounted under a stable key and hands each new
figure to ``Plotly.react``, which redraws only what changed and keeps the reader's zoom (``uirevision``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path

import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from streamlit.components.v1 import declare_component

FRONTEND = Path(__file__).resolve().parent.parent / "assets" / "live_chart" / "index.html"


@cache
def served_dir() -> Path:
    """The component's files: our page beside the plotly.js that the installed ``plotly`` package bundles
    (copied, not linked: Streamlit refuses to serve a symlink that leaves the component's folder). The folder's
    name carries a digest of both, so an upgrade or an edit never serves stale files."""
    page = FRONTEND.read_bytes()
    digest = hashlib.sha256(page + plotly.__version__.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"dqn_sim-live-chart-{digest}"
    folder.mkdir(exist_ok=True)
    for name, content in (("plotly.min.js", get_plotlyjs().encode()), ("index.html", page)):
        target = folder / name
        if not target.exists():
            partial = folder / f".{name}.{os.getpid()}"
            partial.write_bytes(content)
            partial.replace(target)  # atomic: a browser never reads half a file
    return folder


def live_chart(fig: go.Figure, *, key: str) -> None:
    """Draw ``fig``; later calls with the same ``key`` update that chart in place."""
    # declared per call: registration goes to the runtime of the running script (AppTest makes one per test)
    component = declare_component("live_chart", path=served_dir())
    component(figure=fig.to_json(), config={"displaylogo": False}, key=key, default=None)
