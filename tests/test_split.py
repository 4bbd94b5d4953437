"""Validation and test users: evaluations during training choose the checkpoint, the test judges it once."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.describe import final_results
from dqn_sim.policies import evaluated_in_training
from dqn_sim.presets import get_preset
from dqn_sim.splits import final_rows, has_test_result, validation_rows
from dqn_sim.train import trainer as trainer_module
from dqn_sim.train.evaluate import evaluate_policy
from dqn_sim.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SCENARIO = get_preset("video").with_overrides({"audience.n_users": 500})
AGENT = AgentConfig(hidden_sizes=[32], batch_size=32)


def _trained(keep: str, steps: int = 2400) -> Trainer:
    trainer = Trainer(SCENARIO, AGENT, TrainConfig(total_steps=steps, n_envs=16, learning_starts=64, log_every=400,
                                                   eval_every=400, eval_episodes=20, keep=keep, seed=1))
    trainer.evaluate_baselines()
    while not trainer.done:
        trainer.step()
    return trainer


def _frame(trainer: Trainer) -> pd.DataFrame:
    return pd.DataFrame(trainer.evals)


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_kept_checkpoint_and_every_baseline_are_judged_on_test_users_and_that_is_the_result():
    trainer = _trained("best")
    summary = trainer.finish()
    evals = _frame(trainer)
    test = evals[evals.split == "test"]
    assert sorted(test.policy) == sorted(["dqn", *evaluated_in_training()])
    assert set(evals.split) == {"validation", "test"}
    dqn = test[test.policy == "dqn"].iloc[0]
    assert summary["dqn_return"] == dqn.return_mean and summary["dqn_return_ci"] == [dqn.return_lo, dqn.return_hi]
    assert has_test_result(summary) and len(summary["dqn_test_returns"]) == 20
    assert np.mean(summary["dqn_test_returns"]) == pytest.approx(dqn.return_mean, abs=1e-5)
    for name in evaluated_in_training():
        assert summary[f"{name}_return"] == test[test.policy == name].return_mean.iloc[0]
    assert summary["best_baseline_return"] == test[test.policy == summary["best_baseline"]].return_mean.iloc[0]
    assert {r["policy"] for r in trainer.segments} == set(test.policy)  # per-segment results of the test
    # the test users are not the validation users: the same policy scores differently on them
    validation = evals[evals.split == "validation"]
    assert (validation[validation.policy == "random"].return_mean.iloc[0]
            != test[test.policy == "random"].return_mean.iloc[0])


def test_keep_best_picks_the_best_validation_step_and_restores_its_weights(monkeypatch):
    """Validation returns are scripted (the real evaluation runs, its mean is replaced), so the best comes early."""
    scripted, weights = iter([1.0, 9.0, 2.0, 3.0, 4.0, 5.0, 6.0]), []

    def evaluate(policy, scenario, episodes, seed, **kw):
        result = evaluate_policy(policy, scenario, episodes, seed, **kw)
        if seed != trainer.validation_seed:
            return result
        weights.append(policy.copy_weights())
        return dataclasses.replace(result, return_mean=next(scripted))

    trainer = Trainer(SCENARIO, AGENT, TrainConfig(total_steps=2400, n_envs=16, learning_starts=64, log_every=400,
                                                   eval_every=400, eval_episodes=20, seed=1))
    monkeypatch.setattr(trainer_module, "evaluate_policy", evaluate)
    trainer.evaluate_baselines()
    while not trainer.done:
        trainer.step()
    summary = trainer.finish()
    dqn = validation_rows(_frame(trainer)).query("policy == 'dqn'")
    assert list(dqn.return_mean) == [1.0, 9.0, 2.0, 3.0, 4.0, 5.0]
    assert summary["kept"] == {"rule": "best", "step": 800, "validation_return": 9.0, "evaluations": 6}
    assert _same_weights(trainer.agent.online.state_dict(), weights[1])  # model.pt will hold the kept one
    assert not _same_weights(weights[1], weights[-1])


def test_keep_last_reports_the_final_weights():
    trainer = _trained("last")
    final = trainer.agent.copy_weights()
    summary = trainer.finish()
    dqn = validation_rows(_frame(trainer)).query("policy == 'dqn'")
    assert summary["kept"] == {"rule": "last", "step": trainer.step_count,
                               "validation_return": dqn.return_mean.iloc[-1], "evaluations": len(dqn)}
    assert _same_weights(trainer.agent.online.state_dict(), final)


def test_before_the_test_the_summary_reports_the_latest_validation():
    trainer = _trained("best", steps=800)
    summary = trainer.summary()
    assert not has_test_result(summary)
    assert summary["dqn_return"] == _frame(trainer).query("policy == 'dqn'").return_mean.iloc[-1]


def _rows(policy: str, split: str | None, ret: float, step: int) -> dict:
    return {"step": step, "policy": policy, "return_mean": ret, "return_lo": ret - 1, "return_hi": ret + 1,
            "split": split}


def test_final_rows_prefer_test_rows_and_old_rows_without_a_split_are_validation():
    old = pd.DataFrame([_rows("oracle", None, 5.0, 0), _rows("dqn", None, 3.0, 10), _rows("dqn", None, 4.0, 20)])
    assert list(final_rows(old).return_mean) == [5.0, 4.0]
    assert len(validation_rows(old)) == 3 and len(validation_rows(old.drop(columns="split"))) == 3
    new = pd.concat([old, pd.DataFrame([_rows("dqn", "test", 6.0, 20), _rows("oracle", "test", 4.5, 20)])])
    assert dict(zip(final_rows(new).policy, final_rows(new).return_mean, strict=True)) == {"dqn": 6.0, "oracle": 4.5}
    assert len(validation_rows(new)) == 3
    table = final_results(new)
    assert list(table.policy) == ["dqn", "oracle"] and table.vs_best_baseline.iloc[0] == pytest.approx(6.0 / 4.5 - 1)
