"""Replay buffers (ring, prioritized) and n-step accumulation."""

from __future__ import annotations

import numpy as np
import pytest

from dqn_sim.agents.replay import NStepAccumulator, PrioritizedReplayBuffer, ReplayBuffer, SumTree


def transitions(start: int, n: int, n_items: int = 13, slate_size: int = 2) -> tuple[np.ndarray, ...]:
    """``n`` transitions numbered ``start..start+n-1``; the number is written into every field."""
    k = np.arange(start, start + n)
    mask_BI = (k[:, None] + np.arange(n_items)[None, :]) % 3 == 0
    return (
        np.repeat(k[:, None], 4, axis=1).astype(np.float32),
        np.repeat(k[:, None], slate_size, axis=1) % n_items,
        np.repeat(k[:, None], slate_size, axis=1).astype(np.float32),
        np.repeat(-k[:, None], 4, axis=1).astype(np.float32),
        mask_BI,
        k % 2 == 0,
        np.full(n, 0.9, dtype=np.float32),
    )


def test_ring_buffer_wraps_and_keeps_the_newest() -> None:
    buf = ReplayBuffer(capacity=5, obs_dim=4, n_items=13, slate_size=2, seed=0)
    buf.add(*transitions(0, 3))
    assert len(buf) == 3
    slots = buf.add(*transitions(3, 4))
    assert slots.tolist() == [3, 4, 0, 1]
    assert len(buf) == 5 and buf.pos == 2
    assert sorted(buf.obs_CO[:, 0].tolist()) == [2, 3, 4, 5, 6]  # 0 and 1 overwritten

    buf.add(*transitions(7, 12))  # larger than the capacity: only the newest 5 survive
    assert sorted(buf.obs_CO[:, 0].tolist()) == [14, 15, 16, 17, 18]
    assert len(buf) == 5


def test_sampled_rows_are_consistent_and_masks_round_trip() -> None:
    buf = ReplayBuffer(capacity=50, obs_dim=4, n_items=13, slate_size=2, seed=1)
    buf.add(*transitions(0, 20))
    batch = buf.sample(64)
    k = batch.obs_BO[:, 0].astype(int)
    assert set(k) <= set(range(20)) and len(set(k)) > 10
    ref = transitions(0, 20)
    np.testing.assert_array_equal(batch.next_obs_BO, ref[3][k])
    np.testing.assert_array_equal(batch.next_mask_BI, ref[4][k])  # 13 items: not a multiple of 8 bits
    np.testing.assert_array_equal(batch.terminated_B, ref[5][k])
    np.testing.assert_array_equal(batch.slate_BS, ref[1][k])
    assert batch.next_mask_BI.dtype == bool and batch.weight_B.tolist() == [1.0] * 64
    np.testing.assert_array_equal(batch.index_B, k)  # slot i holds transition i (no wrap yet)


def test_uniform_sampling_is_seeded() -> None:
    a, b = (ReplayBuffer(100, 4, 13, 2, seed=7) for _ in range(2))
    for buf in (a, b):
        buf.add(*transitions(0, 60))
    np.testing.assert_array_equal(a.sample(32).index_B, b.sample(32).index_B)


def test_sum_tree_prefix_search_skips_empty_leaves() -> None:
    tree = SumTree(6)
    tree.set(np.arange(6), np.array([0.0, 1.0, 0.0, 2.0, 0.0, 3.0]))
    assert tree.total == 6.0
    found = tree.find(np.array([0.0, 0.5, 0.999, 1.0, 2.9, 3.0, 5.999]))
    assert found.tolist() == [1, 1, 1, 3, 3, 5, 5]


def test_per_sampling_frequencies_follow_priorities() -> None:
    buf = PrioritizedReplayBuffer(16, 4, 13, 2, seed=3, alpha=0.5, beta0=0.4, eps=0.0)
    buf.add(*transitions(0, 8))
    td = np.array([1.0, 4.0, 9.0, 16.0, 0.25, 1.0, 0.0, 36.0])
    buf.update_priorities(np.arange(8), td)
    expected = np.sqrt(td) / np.sqrt(td).sum()  # alpha = 0.5
    counts = np.bincount(np.concatenate([buf.sample(64).index_B for _ in range(300)]), minlength=8)
    n = counts.sum()
    assert counts[6] == 0  # zero priority is never drawn
    keep = expected > 0
    chi2 = (((counts - n * expected)[keep]) ** 2 / (n * expected[keep])).sum()
    assert chi2 < 24.3  # 99.9% quantile of chi-square with 7 degrees of freedom


def test_per_weights_formula_and_beta_annealing() -> None:
    buf = PrioritizedReplayBuffer(16, 4, 13, 2, seed=4, alpha=1.0, beta0=0.4, eps=1e-3)
    buf.add(*transitions(0, 10))
    buf.update_priorities(np.arange(10), np.arange(10, dtype=float))
    batch = buf.sample(32, beta=0.7)
    p_B = (np.arange(10)[batch.index_B] + 1e-3) / (np.arange(10) + 1e-3).sum()
    w_B = (10 * p_B) ** -0.7
    np.testing.assert_allclose(batch.weight_B, w_B / w_B.max(), rtol=1e-5)
    assert buf.beta_at(0.0) == pytest.approx(0.4)
    assert buf.beta_at(0.5) == pytest.approx(0.7)
    assert buf.beta_at(2.0) == pytest.approx(1.0)


def test_new_transitions_enter_at_max_priority() -> None:
    buf = PrioritizedReplayBuffer(16, 4, 13, 2, seed=5, alpha=0.6, beta0=0.4, eps=1e-3)
    buf.add(*transitions(0, 4))
    assert buf.tree.get(np.arange(4)).tolist() == [1.0] * 4
    buf.update_priorities(np.array([0, 1]), np.array([10.0, 0.0]))
    top = (10.0 + 1e-3) ** 0.6
    assert buf.max_priority == pytest.approx(top)
    buf.update_priorities(np.array([0]), np.array([0.0]))  # the max is "seen so far", it does not drop
    slots = buf.add(*transitions(4, 3))
    np.testing.assert_allclose(buf.tree.get(slots), top)


# ------------------------------------------------------------------------------------------- n-step


def step_args(t: int, n_envs: int, reward_U, pos_U, terminated_U=None, truncated_U=None) -> dict:
    """One VecRecEnv-like step at time ``t``: obs = (t, env), next obs = (t + 1, env) negated."""
    u = np.arange(n_envs)
    obs_UO = np.stack([np.full(n_envs, t), u], axis=1).astype(np.float32)
    return dict(
        obs_UO=obs_UO,
        slate_US=np.stack([u, u + 1], axis=1),
        reward_U=np.asarray(reward_U, dtype=np.float32),
        clicked_pos_U=np.asarray(pos_U),
        next_obs_UO=-(obs_UO + [1, 0]),
        next_mask_UI=np.ones((n_envs, 5), dtype=bool),
        terminated_U=np.zeros(n_envs, bool) if terminated_U is None else np.asarray(terminated_U),
        truncated_U=np.zeros(n_envs, bool) if truncated_U is None else np.asarray(truncated_U),
    )


def by_start(out) -> dict[float, tuple]:
    """Emitted transitions keyed by the time step they start at (single env)."""
    return {float(o[0]): (r.tolist(), float(d), bool(term), float(nx[0]))
            for o, r, d, term, nx in zip(out.obs_BO, out.reward_BS, out.discount_B, out.terminated_B,
                                         out.next_obs_BO, strict=True)}


def test_nstep_window_then_termination_without_bootstrap() -> None:
    acc = NStepAccumulator(n_envs=1, n=3, gamma=0.5)
    rewards, pos = [1.0, 2.0, 4.0, 8.0], [0, 1, -1, 1]
    assert len(acc.push(**step_args(0, 1, [rewards[0]], [pos[0]])).obs_BO) == 0
    assert len(acc.push(**step_args(1, 1, [rewards[1]], [pos[1]])).obs_BO) == 0
    out = by_start(acc.push(**step_args(2, 1, [rewards[2]], [pos[2]])))
    # starts at t=0, clicked position 0: 1 + 0.5*2 + 0.25*4 = 3; position 1 gets the future only: 2
    assert out == {0.0: ([3.0, 2.0], 0.125, False, -3.0)}

    out = by_start(acc.push(**step_args(3, 1, [rewards[3]], [pos[3]], terminated_U=[True])))
    assert out == {
        1.0: ([0.5 * 4 + 0.25 * 8, 2 + 0.5 * 4 + 0.25 * 8], 0.125, True, -4.0),
        2.0: ([0.5 * 8, 0.5 * 8], 0.25, True, -4.0),  # nothing clicked at t=2: its 4 is lost
        3.0: ([0.0, 8.0], 0.5, True, -4.0),
    }
    assert acc.count_U.tolist() == [0]


def test_nstep_truncation_bootstraps_from_final_obs_with_gamma_k() -> None:
    acc = NStepAccumulator(n_envs=1, n=4, gamma=0.9)
    acc.push(**step_args(0, 1, [1.0], [0]))
    out = by_start(acc.push(**step_args(1, 1, [2.0], [1], truncated_U=[True])))
    assert out == {
        0.0: ([pytest.approx(1 + 0.9 * 2), pytest.approx(0.9 * 2)], pytest.approx(0.81), False, -2.0),
        1.0: ([0.0, 2.0], pytest.approx(0.9), False, -2.0),
    }
    # the slot starts afresh: the next episode does not mix with the old one
    assert len(acc.push(**step_args(2, 1, [5.0], [0])).obs_BO) == 0


def test_one_step_is_a_passthrough() -> None:
    acc = NStepAccumulator(n_envs=3, n=1, gamma=0.8)
    args = step_args(0, 3, [1.0, 2.0, 3.0], [0, -1, 1], terminated_U=[False, True, False],
                     truncated_U=[False, False, True])
    out = acc.push(**args)
    assert out.reward_BS.tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 3.0]]
    assert out.discount_B.tolist() == pytest.approx([0.8] * 3)
    assert out.terminated_B.tolist() == [False, True, False]
    assert out.next_obs_BO is args["next_obs_UO"]


def reference_nstep(steps: list[dict], n: int, gamma: float) -> dict[tuple, tuple]:
    """Per-env, per-step Python version of the n-step rules, keyed by (start time, env)."""
    n_envs = len(steps[0]["reward_U"])
    pending: list[list[tuple]] = [[] for _ in range(n_envs)]
    out: dict[tuple, tuple] = {}

    def emit(u: int, j: int, step: dict, terminated: bool) -> None:
        t0, r0, p0 = pending[u][j]
        future = sum(gamma ** (m - j) * pending[u][m][1] for m in range(j + 1, len(pending[u])))
        rewards = [future + (r0 if p0 == s else 0.0) for s in range(2)]
        out[(t0, u)] = (rewards, gamma ** (len(pending[u]) - j), terminated, step["next_obs_UO"][u, 0])

    for t, step in enumerate(steps):
        for u in range(n_envs):
            pending[u].append((t, float(step["reward_U"][u]), int(step["clicked_pos_U"][u])))
            if step["terminated_U"][u] or step["truncated_U"][u]:
                for j in range(len(pending[u])):
                    emit(u, j, step, bool(step["terminated_U"][u]))
                pending[u] = []
            elif len(pending[u]) == n:
                emit(u, 0, step, False)
                pending[u].pop(0)
    return out


@pytest.mark.parametrize("n", [2, 3, 5])
def test_nstep_matches_a_per_env_reference(n: int) -> None:
    rng = np.random.default_rng(n)
    n_envs, gamma = 6, 0.7
    steps = []
    for t in range(40):
        done = rng.random(n_envs) < 0.15
        term = done & (rng.random(n_envs) < 0.5)
        steps.append(step_args(t, n_envs, rng.integers(0, 5, n_envs), rng.integers(-1, 2, n_envs),
                               terminated_U=term, truncated_U=done & ~term))
    acc = NStepAccumulator(n_envs, n, gamma)
    got = {}
    for step in steps:
        out = acc.push(**step)
        for o, r, d, term, nx in zip(out.obs_BO, out.reward_BS, out.discount_B, out.terminated_B,
                                     out.next_obs_BO, strict=True):
            got[(int(o[0]), int(o[1]))] = (r.tolist(), float(d), bool(term), float(nx[0]))
    ref = reference_nstep(steps, n, gamma)
    assert got.keys() == ref.keys()
    for key, (rewards, discount, term, next_t) in ref.items():
        assert got[key][0] == pytest.approx(rewards, rel=1e-5)
        assert got[key][1] == pytest.approx(discount, rel=1e-5)
        assert got[key][2:] == (term, next_t)
