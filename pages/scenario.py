"""Scenario: build the audience and the catalogue, and see what you built before you train on it."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dqn_sim import plots
from dqn_sim.agents.baselines import RandomPolicy
from dqn_sim.assembly import RunConfig, assemble, file_parts, from_preset, parse_config
from dqn_sim.config import ScenarioConfig
from dqn_sim.describe import items_frame, sample, session_frame, users_frame
from dqn_sim.errors import INPUT_ERRORS, one_line
from dqn_sim.presets import describe_presets, preset_title
from dqn_sim.scenarios import ScenarioLibrary
from dqn_sim.sim.env import build_world
from dqn_sim.trace import trace_session
from ui import forms
from ui.calibration import calibration_section
from ui.fmt import compact, inert, plain
from ui.page import header
from ui.state import agent_config, current_scenario, set_scenario, train_config, use_config

SCOPE = "scenario"
SECTIONS = {"catalogue": "Catalogue", "audience": "Audience", "dynamics": "Session dynamics"}
PREVIEW_SEED = 7
UPLOADED = {"scenario": "the scenario", "agent": "the agent settings (on Train)",
            "train": "the training settings (on Train)"}  # what each part of an uploaded file sets


def load_into_form(scenario: ScenarioConfig) -> None:
    forms.load(SCOPE, scenario)
    set_scenario(scenario)


def on_preset() -> None:
    """A preset brings its scenario and its agent settings (the Train form shows them), as the CLI's does."""
    preset = from_preset(st.session_state["scenario:preset"])
    use_config(RunConfig(preset.scenario, preset.agent, train_config()))


def on_upload() -> None:
    """A file is assembled as ``train --preset P --config FILE`` does, over the preset selected here, so the same
    file gives the same run in both: a scenario (complete or partial), or a run's config.json whose agent and
    training settings go to the Train form. Only the parts the file sets are replaced."""
    upload = st.session_state.get("scenario:upload")
    st.session_state.pop("scenario:upload_error", None)
    if upload is None:
        return
    preset = st.session_state["scenario:preset"]
    try:
        data = parse_config(upload.getvalue().decode("utf-8", errors="replace"))
        run, parts = assemble(preset, data), file_parts(data)
    except INPUT_ERRORS as e:  # whatever the file holds (100k-deep JSON, huge numbers): one line, no traceback
        st.session_state["scenario:upload_error"] = f"{inert(upload.name)} was not loaded: {inert(one_line(e))}"
        return
    mine = RunConfig(current_scenario(), agent_config(), train_config())
    use_config(replace(mine, **{part: getattr(run, part) for part in parts}), forms_too=False)
    for part in parts:  # the other forms keep what is typed in them, even a value still to be fixed
        forms.load(part, getattr(run, part))
    loaded = ", ".join(UPLOADED[part] for part in parts)
    st.session_state["scenario:library_note"] = (
        "success", f"Loaded **{plain(upload.name)}** over the {preset_title(preset)} preset: {loaded}.")


def on_library(action: str) -> None:
    """Save, load or delete in the on-disk library; the outcome is shown on the next run."""
    library = ScenarioLibrary()
    try:
        if action == "save":
            saved = library.save(st.session_state[forms.key(SCOPE, "name")], current_scenario())
            load_into_form(saved)
            note = f"Saved as **{plain(saved.name)}**."
        elif action == "load":
            load_into_form(library.load(st.session_state["scenario:saved"]))
            note = f"Loaded **{plain(st.session_state['scenario:saved'])}**."
        else:
            library.delete(st.session_state["scenario:saved"])
            note = f"Deleted **{plain(st.session_state['scenario:saved'])}**."
        st.session_state["scenario:library_note"] = ("success", note)
    except INPUT_ERRORS as e:
        st.session_state["scenario:library_note"] = ("error", inert(one_line(e)))


header(
    "Scenario",
    "A scenario is the world the recommender lives in: a **catalogue** of items, an **audience** of users "
    "in segments, and the **session dynamics** that decide when users click, tire, change their minds and "
    "leave. Start from a preset, tune any knob, and check the previews on the right before you train."
)

scenario = current_scenario()
forms.ensure(SCOPE, scenario)
edited, errors = forms.validate(ScenarioConfig, forms.read(SCOPE, scenario), fallback=scenario)
if edited is not None and edited != scenario:
    set_scenario(edited)
    scenario = edited

st.subheader("1 · Start from a preset", divider="violet")
presets = describe_presets()
st.session_state.setdefault("scenario:preset", scenario.name if scenario.name in presets else next(iter(presets)))
top = st.columns([2, 1, 1])
with top[0]:
    preset = st.selectbox("Preset", list(presets), format_func=preset_title, key="scenario:preset",
                          on_change=on_preset, persist_state="session",
                          help="Loading a preset replaces every knob below, and the agent settings on Train.")
    st.caption(presets[preset])
for col, path in zip(top[1:], ("reward", "world_seed"), strict=True):
    with col:
        forms.knob(SCOPE, path, *forms.leaf(scenario, path), errors.get(path))

with st.expander("Save, load and share scenarios", icon=":material/save:"):
    save_col, load_col, share_col = st.columns(3)
    with save_col:
        forms.knob(SCOPE, "name", *forms.leaf(scenario, "name"), errors.get("name"))
        st.button("Save", on_click=on_library, args=("save",), icon=":material/save:")
    with load_col:
        saved = ScenarioLibrary().names()
        st.selectbox("Saved scenarios", saved, key="scenario:saved", placeholder="none saved yet")
        left, right = st.columns(2)
        left.button("Load", on_click=on_library, args=("load",), disabled=not saved, icon=":material/upload:")
        right.button("Delete", on_click=on_library, args=("delete",), disabled=not saved, icon=":material/delete:")
    with share_col:
        st.download_button("Download JSON", scenario.to_json(), file_name=f"{scenario.name}.json",
                           mime="application/json", icon=":material/download:", on_click="ignore")
        st.file_uploader("Upload JSON", type=["json"], key="scenario:upload", on_change=on_upload)
    if "scenario:library_note" in st.session_state:
        kind, note = st.session_state.pop("scenario:library_note")
        (st.success if kind == "success" else st.error)(note)
calibration_section(load_into_form)
if "scenario:upload_error" in st.session_state:
    st.error(st.session_state["scenario:upload_error"], icon=":material/block:")

flagged = [title for section, title in SECTIONS.items() if any(p.startswith(section + ".") for p in errors)]
if errors:
    where = f" (in {', '.join(flagged)})" if flagged else ""
    st.warning(
        f"{len(errors)} setting(s) need attention{where}; each message sits under its field. Until they are "
        "fixed, the previews and training use the last valid scenario.", icon=":material/warning:",
    )

tune, preview = st.columns([5, 6], gap="large")
with tune:
    st.subheader("2 · Tune the knobs", divider="violet")
    tabs = st.tabs(list(SECTIONS.values()), key="scenario:tab", default=flagged[0] if flagged else None)
    for tab, section in zip(tabs, SECTIONS, strict=True):
        with tab:
            for i, (group, fields) in enumerate(forms.groups(scenario, f"{section}.").items()):
                with st.expander(group.title(), expanded=i == 0 or any(p in errors for p, _, _ in fields)):
                    forms.knob_grid(SCOPE, fields, errors)

with preview:
    st.subheader("3 · What you built", divider="violet")
    world = build_world(scenario)
    cat, aud = world.catalogue, world.audience
    cols = st.columns(4)
    cols[0].metric("Items", compact(cat.n_items), help="Catalogue size")
    cols[1].metric("Topics", cat.n_topics)
    cols[2].metric("Users", compact(aud.n_users), help=f"in {aud.n_segments} segment(s)")
    cols[3].metric("Slate", scenario.dynamics.slate_size, help="Items recommended per step")
    st.plotly_chart(plots.topic_mix_chart(cat.topics_IK, cat.clickbait_I, scenario.catalogue.topic_names))
    left, right = st.columns(2)
    left.plotly_chart(plots.quality_chart(cat.quality_I, cat.clickbait_I))
    right.plotly_chart(plots.popularity_chart(cat.popularity_I))
    st.plotly_chart(plots.interest_heatmap(aud.profile_SK, aud.names, aud.share_S, scenario.catalogue.topic_names))

# the samples under both columns, full width: in the preview column (~500 px at 1440 px) their columns were cut off
items_tab, users_tab, session_tab = st.tabs(["Sample items", "Sample users", "Sample session"])
with items_tab:
    st.caption("Quality and clickbait are hidden from the recommender; it sees a noisy quality signal at most.")
    st.dataframe(items_frame(world, sample(cat.n_items, 12, PREVIEW_SEED)), hide_index=True)
with users_tab:
    st.caption("Interests run from -1 (dislikes) to +1 (loves); the budget is the user's patience.")
    st.dataframe(users_frame(world, sample(aud.n_users, 12, PREVIEW_SEED)), hide_index=True)
with session_tab:
    trace = trace_session(scenario, RandomPolicy(PREVIEW_SEED), seed=PREVIEW_SEED, max_steps=15)
    st.caption(
        f"User {trace.user} ({trace.segment_name}) under a **random** policy: {trace.clicks} click(s), "
        f"return {trace.total_return:.1f} in {trace.length} step(s); {trace.end}. "
        "The Train page shows whether a DQN does better."
    )
    st.dataframe(session_frame(world, trace.steps), hide_index=True)

st.page_link("pages/train.py", label="Next: train a DQN on this scenario", icon=":material/arrow_forward:")
