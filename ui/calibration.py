"""Scenario page section: calibrate a scenario from interaction logs (an upload, or a path on the server), with a
progress bar, then the fit beside the data and how each quantity was fitted."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from dqn_sim.calibrate.figures import comparison_figure
from dqn_sim.calibrate.fit import FitOptions
from dqn_sim.calibrate.layouts import FORMATS, ROLES, parse_mapping
from dqn_sim.calibrate.pipeline import Calibration, calibrate
from dqn_sim.config import ScenarioConfig
from dqn_sim.errors import INPUT_ERRORS, one_line
from dqn_sim.scenarios import ScenarioLibrary, check_name
from ui.fmt import inert, plain

Source = Path | UploadedFile  # a path on the server, or an upload not yet on disk
UPLOAD_LIMIT_MB = 200  # Streamlit's server.maxUploadSize; larger logs are read from a path on the server
KEY = "calibration"


def calibration_section(load_into_form: Callable[[ScenarioConfig], None] | None = None) -> None:
    """Draw the section; ``load_into_form`` (the page's) puts the fitted scenario into the Scenario form."""
    with st.expander("Calibrate from logs: fit a scenario to your users' interactions",
                     expanded=KEY + ":result" in st.session_state):
        st.caption(
            "Give a MovieLens-format log (100k: `u.data` + `u.item`; latest/25M: `ratings.csv` + `movies.csv`) "
            "or your own CSV/Parquet of interactions (name its columns below). Each row is a recommendation, a "
            "click is a rating at or above the threshold, a session ends after the inactivity gap. The fit is "
            "saved as a scenario by name and simulated beside the data."
        )
        ratings, items = _sources()
        options, fmt, mapping = _options()
        if st.button("Calibrate", type="primary", key=KEY + ":run", disabled=ratings is None):
            _run(ratings, items, fmt, mapping, options)
        result: Calibration | None = st.session_state.get(KEY + ":result")
        if result is not None:
            _report(result, load_into_form)


def _sources() -> tuple[Source | None, Source | None]:
    """The ratings and item files: uploads (written to disk only when Calibrate is pressed, see ``_uploaded``) or
    paths on the server."""
    where = st.radio("Logs", ["Upload", "Path on the server"], horizontal=True, key=KEY + ":where")
    if where == "Upload":
        up = st.file_uploader(f"Ratings file (up to {UPLOAD_LIMIT_MB} MB; larger logs: a path on the server)",
                              key=KEY + ":ratings_upload")
        items_up = st.file_uploader("Item file (optional: genres; MovieLens' u.item or movies.csv)",
                                    key=KEY + ":items_upload")
        return (up, items_up) if up is not None else (None, None)
    ratings = st.text_input("Ratings file path", key=KEY + ":ratings_path").strip()
    items = st.text_input("Item file path (optional)", key=KEY + ":items_path").strip()
    return (Path(ratings) if ratings else None), (Path(items) if items else None)


def _uploaded(source: Source | None, folder: Path) -> Path | None:
    """A path to read: a server path as given, an upload written under ``folder`` in its own sub-folder (the
    ratings and the item file may share a name) under its own name (MovieLens' layout is recognised by it),
    never a path the browser chose."""
    if source is None or isinstance(source, Path):
        return source
    path = folder / str(len(list(folder.iterdir()))) / (Path(source.name).name.strip(".") or "upload")
    path.parent.mkdir()
    path.write_bytes(source.getbuffer())
    return path


def _options() -> tuple[FitOptions, str, str]:
    left, middle, right = st.columns(3)
    fmt = left.selectbox("Layout", FORMATS, key=KEY + ":format", help="auto: recognised from the file")
    mapping = middle.text_input("Columns (generic logs)", key=KEY + ":map", placeholder="user=member,item=sku",
                                help=f"ROLE=COLUMN pairs; roles: {', '.join(ROLES)}")
    name = right.text_input("Scenario name", value="calibrated", key=KEY + ":name")
    a, b, c, d = st.columns(4)
    segments = a.number_input("Segments (0 = suggested)", 0, 32, 0, key=KEY + ":segments")
    gap = b.number_input("Session gap (minutes)", 1.0, 100000.0, 30.0, key=KEY + ":gap")
    threshold = c.number_input("Click = rating at least", value=4.0, step=0.5, key=KEY + ":threshold")
    max_items = d.number_input("Items kept (most interacted)", 2, 20000, 2000, key=KEY + ":max_items")
    options = FitOptions(segments=int(segments) or None, gap_minutes=float(gap), threshold=float(threshold),
                         max_items=int(max_items), name=name.strip())
    return options, fmt, mapping


def _run(ratings: Source, items: Source | None, fmt: str, mapping: str, options: FitOptions) -> None:
    """Calibrate and save; uploads live in a temporary folder for the calibration only (written on every rerun
    of the page, they once left a copy of the log in /tmp per widget change)."""
    bar = st.progress(0.0, text="reading")
    try:
        check_name(options.name)
        with tempfile.TemporaryDirectory(prefix="dqn_sim_calibrate_") as folder:
            result = calibrate(_uploaded(ratings, Path(folder)), _uploaded(items, Path(folder)), fmt,
                               parse_mapping(mapping), options,
                               progress=lambda f, detail: bar.progress(min(f, 1.0), text=detail))
        ScenarioLibrary().save(options.name, result.scenario)
    except INPUT_ERRORS as e:  # DataError is a ValueError: one line naming file and line; never a traceback
        bar.empty()
        st.error(inert(one_line(e)), icon=":material/error:")
        return
    bar.empty()
    st.session_state[KEY + ":result"] = result


def _report(result: Calibration, load_into_form: Callable[[ScenarioConfig], None] | None) -> None:
    scenario = result.scenario
    st.success(f"Saved as **{plain(scenario.name)}**: {result.n_users:,} users, {result.n_items:,} items, "
               f"{result.n_ratings:,} interactions; {scenario.audience.n_segments} segments "
               f"(suggested {result.fit.suggested_segments}).", icon=":material/check_circle:")
    if load_into_form is not None:
        st.button("Open the fitted scenario in the form", key=KEY + ":open", on_click=load_into_form,
                  args=(scenario,))
    comparisons = result.report.comparisons
    for col, c in zip(st.columns(len(comparisons)), comparisons, strict=True):
        col.metric(c.title.split(":")[0].split(" (")[0], f"{c.metric} {c.distance:.3f}",
                   help=f"{c.note}. 0 = the fitted world matches the data; "
                        + ("TV: the most any share differs." if c.metric == "TV"
                           else "KS: the largest gap between the cumulative curves."))
    for tab, c in zip(st.tabs([c.title.split(":")[0].split(" (")[0] for c in comparisons]), comparisons, strict=True):
        with tab:
            st.plotly_chart(comparison_figure(c), key=f"{KEY}:fig:{c.quantity}")
            st.caption(c.note)
    st.markdown("**How each quantity was fitted**")
    st.dataframe(pd.DataFrame([vars(e) for e in result.fit.explanations]), hide_index=True)
