"""Learning tests of the rival learners on video: the bandits learn the myopic signal the greedy ranker learns, with
exploration, and beat it (#13's target "LinUCB >= greedy"). Each trains for well under a minute on the CPU."""

import pytest
import torch

from dqn_sim.config import TrainConfig
from dqn_sim.presets import get_preset, preset_agent
from dqn_sim.train.trainer import Trainer

pytestmark = pytest.mark.learning
STEPS = 20_000


@pytest.mark.parametrize("algo", ["linucb", "thompson"])
def test_a_bandit_beats_the_greedy_ranker_on_video_with_intervals_apart(algo: str) -> None:
    torch.set_num_threads(1)
    trainer = Trainer(get_preset("video"), preset_agent("video"),
                      TrainConfig(total_steps=STEPS, eval_every=10_000, algo=algo, seed=0))
    trainer.evaluate_baselines()
    while not trainer.done:
        trainer.step()
    trainer.finish()
    test = {e["policy"]: (e["return_mean"], e["return_lo"], e["return_hi"]) for e in trainer.evals
            if e["split"] == "test"}
    print({k: tuple(round(x, 2) for x in v) for k, v in test.items()})
    assert test[algo][1] > test["greedy"][2], f"{algo} {test[algo]} vs greedy {test['greedy']}"
