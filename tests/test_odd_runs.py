"""Every page with stored runs in odd states, through AppTest: a young run (baselines evaluated, no DQN evaluation yet),
a failed one, a diverged one (its model from another world_seed), one killed after a checkpoint, one stored with odd
values (NaN returns, a zero baseline return, a 200-character name of Markdown and ANSI escapes, a model of other
shapes) and one whose model names networks too big to build. Each page renders without exception; names show as
text; Inspect says in one line why a model cannot be replayed, and warns of another world."""

from __future__ import annotations

import io
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from dqn_sim import memory
from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.sim.env import VecRecEnv
from dqn_sim.store import RunStore
from dqn_sim.vocab import EVALUATION, TRAINING
from tests.test_app import APP, TIMEOUT, texts
from ui.state import registry

NAN = math.nan
ODD_NAME = ("![img](https://example.invalid/pixel.png) \x1b[31m**run**\x1b[0m :red[x] <b>" + "x" * 200)[:200]
SCENARIO = get_preset("video")
AGENT = AgentConfig(hidden_sizes=[16])
TRAIN = TrainConfig(total_steps=3000, n_envs=16, eval_every=1500, eval_episodes=16)
BASELINES = ["random", "popularity", "greedy", "oracle", "patient-oracle"]
# every page: Scenario, the default, is drawn by the first run
PAGES = ["pages/train.py", "pages/inspect.py", "pages/compare.py", "pages/sweep.py", "pages/runs.py"]


def metric_rows(steps: list[int], value: float = 1.0) -> list[dict]:
    return [{name: float(step) if name == "step" else value for name in TRAINING.names} for step in steps]


def eval_rows(step: int, policies: list[str], value: float = 10.0, split: str = "validation") -> list[dict]:
    rows = []
    for policy in policies:
        row = {name: value for name in EVALUATION.names}
        rows.append({**row, "step": step, "policy": policy, "split": split, "return_lo": value - 1,
                     "return_hi": value + 1, "ctr": 0.1, "ctr_lo": 0.05, "ctr_hi": 0.15})
    return rows


def save_model(path: Path, scenario: ScenarioConfig, agent: AgentConfig = AGENT) -> None:
    env = VecRecEnv(scenario, 1, 0)
    DQNAgent(obs_dim=env.obs_dim, n_items=env.n_items, item_features_IF=env.item_features_IF,
             slate_size=env.slate_size, config=agent, seed=0).save(path, scenario)


def oversize(path: Path) -> None:
    """The checkpoint at ``path``, its configuration now naming 40 layers of 4096 (its weights unchanged)."""
    payload = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
    payload["agent_config"] = AgentConfig(hidden_sizes=[4096] * 40).to_json()
    torch.save(payload, path)


def seed_store(home: Path) -> dict[str, str]:
    """The odd runs, written as the engine and hand edits would; returns name -> run id."""
    ids = {}
    with RunStore(home) as store:
        def run(name: str, status: str, *, error: str | None = None, summary: dict | None = None,
                metrics: list[dict] = (), evals: list[dict] = (), model: ScenarioConfig | None = None) -> str:
            run_id = ids[name] = store.create_run(name=name, scenario=SCENARIO, agent=AGENT, train=TRAIN, seed=0,
                                                  source="cli")
            store.append_metrics(run_id, list(metrics))
            store.append_evals(run_id, list(evals))
            if summary is not None:
                store.set_summary(run_id, summary)
            if model is not None:
                save_model(store.checkpoint_path(run_id), model)
            if status != "running":
                store.set_status(run_id, status, error=error)
            return run_id

        run("young", "running", metrics=metric_rows([500, 1000]), evals=eval_rows(0, BASELINES))
        run("failed", "failed", error="RuntimeError: simulated failure", metrics=metric_rows([500]))
        run("diverged", "diverged", error="training diverged: the TD loss became nan at step 1000",
            metrics=metric_rows([500, 1000], NAN), evals=eval_rows(0, BASELINES) + eval_rows(500, ["dqn"], NAN),
            model=SCENARIO.with_overrides({"world_seed": 3}))
        run("interrupted", "interrupted", summary={"checkpoint_step": 800}, metrics=metric_rows([500, 1000]),
            evals=eval_rows(0, BASELINES) + eval_rows(1500, ["dqn"]), model=SCENARIO)
        odd = run(ODD_NAME, "finished", metrics=metric_rows([500, 1000, 1500], NAN),
                  evals=eval_rows(0, BASELINES, 0.0) + eval_rows(1500, ["dqn"], NAN)
                  + eval_rows(3000, ["dqn", *BASELINES], NAN, split="test"),
                  summary={"dqn_return": NAN, "dqn_return_ci": [NAN, NAN], "best_baseline": "oracle",
                           "best_baseline_return": 0.0, "steps": 3000, "wall_time": NAN, "sps": NAN,
                           "kept": {"rule": "best", "step": 1500}, "survival": {"dqn": [1.0, NAN]}},
                  model=SCENARIO.with_overrides({"catalogue.n_items": 300}))
        store.set_segment_results(odd, [{"policy": "dqn", "segment": 0, "segment_name": ODD_NAME, "episodes": 0,
                                         "return_mean": NAN, "return_lo": NAN, "return_hi": NAN}])
        huge = run("huge model", "stopped", evals=eval_rows(0, BASELINES) + eval_rows(1500, ["dqn"]), model=SCENARIO)
        oversize(store.checkpoint_path(huge))
    return ids


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    home = tmp_path_factory.mktemp("odd_runs")
    return home, seed_store(home)


@pytest.fixture
def ids(template: tuple[Path, dict[str, str]], isolated_home: Path, monkeypatch) -> Iterator[dict[str, str]]:
    shutil.copytree(template[0], isolated_home)
    monkeypatch.setenv(memory.LIMIT_ENV, "1000")  # the huge model needs 7.3 GB: refused on any machine
    st.cache_resource.clear()
    st.cache_data.clear()
    yield template[1]
    registry().stop_all()
    st.cache_resource.clear()


@pytest.mark.parametrize("name", ["young", "failed", "diverged", "interrupted", ODD_NAME, "huge model"],
                         ids=["young", "failed", "diverged", "interrupted", "odd values", "huge model"])
def test_every_page_renders_a_run_in_an_odd_state(ids: dict[str, str], name: str) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["run"] = ids[name]
    at.run()
    assert not at.exception
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    at.selectbox(key="runs:pick").select(ids[name]).run()
    assert not at.exception
    if name == ODD_NAME:  # the name is shown as text: no image, no escape sequence, no colour
        shown = " ".join(texts(at.markdown) + texts(at.caption) + texts(at.error))
        assert "!\\[img\\](https" in shown and "![img](" not in shown and "\x1b" not in shown


def inspect(ids: dict[str, str], name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["run"] = ids[name]
    at.run()
    at.switch_page("pages/inspect.py").run()
    assert not at.exception
    return at


def test_inspect_warns_of_a_model_from_another_world(ids: dict[str, str]) -> None:
    at = inspect(ids, "diverged")
    assert any("was trained on world_seed 3, this scenario has world_seed 0" in w for w in texts(at.warning))
    assert at.selectbox(key="inspect:a").value == "dqn"  # replayed all the same


@pytest.mark.parametrize(("name", "reason"), [
    (ODD_NAME, "was trained with obs_dim=27, n_items=300; this scenario has obs_dim=27, n_items=200"),
    ("huge model", "would need about 7.3 GB of memory, above the limit of 1,000 MB"),
], ids=["other shapes", "too big"])
def test_inspect_says_why_a_model_cannot_be_replayed(ids: dict[str, str], name: str, reason: str) -> None:
    at = inspect(ids, name)
    assert any(e.startswith("This run's model cannot be replayed: ") and reason in e for e in texts(at.error))
    assert at.selectbox(key="inspect:a").value != "dqn"  # two baselines instead
