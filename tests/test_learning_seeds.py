"""Learning that holds across training seeds (issue 11): five seeds of video at the default budget, as a run group.

About 3 minutes on 2 cores (five 250k-step runs, two at a time). The numbers are printed (``pytest -s``).
"""

import pytest

from dqn_sim.config import TrainConfig
from dqn_sim.presets import get_preset, preset_agent
from dqn_sim.splits import TEST
from dqn_sim.train.groups import GroupJob

pytestmark = pytest.mark.learning

SEEDS = [0, 1, 2, 3, 4]


def test_video_over_five_seeds_the_dqn_beats_the_myopic_oracle_by_15_percent_and_every_seed_beats_it():
    group = GroupJob(get_preset("video"), preset_agent("video"), TrainConfig(), SEEDS, max_parallel=2)
    assert group.start().join(3600), "the group did not end"
    summary = group.aggregate()
    dqn, oracle = summary["aggregate"]["dqn"], summary["aggregate"]["oracle"]
    print(f"\nvideo, 5 seeds: DQN IQM {dqn['iqm']:.2f} {dqn['iqm_ci']} (seeds {dqn['per_seed']}); "
          f"oracle IQM {oracle['iqm']:.2f} {oracle['iqm_ci']}; ceiling "
          f"{summary['aggregate']['patient-oracle']['iqm']:.2f}")
    ended = {m.train_cfg.seed: (m.status().state, m.status().error) for m in group.members}
    assert dqn["n"] == len(SEEDS), ended
    assert dqn["iqm"] >= 1.15 * oracle["iqm"] and dqn["iqm_ci"][0] > oracle["iqm_ci"][1]
    for member in group.members:  # the worst seed too: above the oracle's interval on its own test users
        snap = member.snapshot()
        test = snap.evals[snap.evals["split"] == TEST].set_index("policy")
        assert test.loc["dqn", "return_mean"] > test.loc["oracle", "return_hi"], (snap.train.seed, test)
