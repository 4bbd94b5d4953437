"""The Train page's live chart: a Plotly figure redrawn in place rather than remounted each refresh.

``st.plotly_chart`` gives a chart a new identity whenever its figure changes, so a live chart is torn down and
built again (a full ``newPlot`` and a React mount) every second; on two shared cores that work delayed clicks
by a few hundred milliseconds. This component keeps one frame mounted under a stable key and hands each new
figure to ``Plotly.react``, which redraws only what changed and keeps the reader's zoom (``uirevision``).
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from functools import cache
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from streamlit.components.v1 import declare_component

FRONTEND = Path(__file__).resolve().parent.parent / "assets" / "live_chart" / "index.html"


@cache
def served_dir() -> Path:
    """The component's files: our page beside the plotly.js that the installed ``plotly`` package bundles
    (copied, not linked: Streamlit refuses to serve a symlink that leaves the component's folder).

    The folder is this server's own, made fresh (``mkdtemp``: private to this user, mode 0700, an unpredictable
    name) and written by this process: a shared, predictable temp folder could be planted with script by another
    local user before the studio starts. Each file is read back and checked against what was written."""
    folder = Path(tempfile.mkdtemp(prefix="dqn_sim-live-chart-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name, content in (("plotly.min.js", get_plotlyjs().encode()), ("index.html", FRONTEND.read_bytes())):
        target = folder / name
        target.write_bytes(content)
        if hashlib.sha256(target.read_bytes()).digest() != hashlib.sha256(content).digest():
            raise RuntimeError(f"{target} does not hold what was written: refusing to serve it")
    return folder


def live_chart(fig: go.Figure, *, key: str) -> None:
    """Draw ``fig``; later calls with the same ``key`` update that chart in place."""
    # declared per call: registration goes to the runtime of the running script (AppTest makes one per test)
    component = declare_component("live_chart", path=served_dir())
    component(figure=fig.to_json(), config={"displaylogo": False}, key=key, default=None)
