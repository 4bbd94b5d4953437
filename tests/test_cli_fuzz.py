"""The CLI's error contract under generated bad input: exit 2, one line of at most 300 characters, no traceback.

A seeded generator (reproducible, no extra dependency) mutates config files, --set overrides and run zips; every
case must be refused by the contract, never crash past it.
"""

from __future__ import annotations

import io
import json
import random
import zipfile

import pytest

from dqn_sim.cli import main
from dqn_sim.errors import MAX_ERROR_CHARS

CASES = 60


def nasty_value(rng: random.Random) -> object:
    return rng.choice([
        10 ** rng.randint(20, 500), -(10 ** 30), float("1e308") * 10, "x" * rng.randint(1, 5000), None, True, [],
        [1] * rng.randint(1, 2000), {"a": {"b": [1, {"c": "d"}]}}, "\x1b[31mred\x1b[0m", "![img](http://x)", -1, 0,
        1.5, "", "🙂" * 10,
    ])


def deep(n: int) -> str:
    return "[" * n + "]" * n


def bad_config(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return deep(rng.randint(2000, 100_000))
    if kind == 1:
        return json.dumps({rng.choice(["agent", "train", "scenario"]): nasty_value(rng)})
    if kind == 2:
        part = rng.choice(["agent", "train"])
        key = rng.choice(["lr", "gamma", "n_envs", "total_steps", "hidden_sizes", "batch_size", "nope"])
        return json.dumps({part: {key: nasty_value(rng)}})
    if kind == 3:
        return json.dumps({"catalogue": {"n_items": nasty_value(rng)}})
    if kind == 4:
        return "{" + "\"a\": 1," * rng.randint(1, 100)  # truncated
    return json.dumps(nasty_value(rng))


def bad_zip(rng: random.Random) -> bytes:
    if rng.random() < 0.3:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 2000)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in rng.sample(["manifest.json", "config.json", "summary.json", "metrics.csv", "model.pt",
                                "../evil", "evals.csv"], rng.randint(0, 6)):
            content = rng.choice([bad_config(rng), "step,episode\n" + "1,2\n" * rng.randint(0, 50),
                                  json.dumps({"format": "dqn_sim-run", "version": 1}), ""])
            zf.writestr(name, content)
    return buf.getvalue()


def assert_contract(code: int, err: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err[-500:]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-500:]
    assert len(lines[0]) <= MAX_ERROR_CHARS + len("error: ") and "Traceback" not in err


@pytest.mark.parametrize("case", range(CASES))
def test_bad_configs_overrides_and_zips_get_the_one_line_refusal(case: int, tmp_path, capsys) -> None:
    rng = random.Random(case)
    kind = case % 3
    if kind == 0:
        path = tmp_path / "bad.json"
        path.write_text(bad_config(rng))
        args = ["evaluate", "--config", str(path), "--policy", "random", "--episodes", "2"]
    elif kind == 1:
        key = rng.choice(["agent.lr", "agent.gamma", "train.n_envs", "agent.hidden_sizes", "catalogue.n_items",
                          "dynamics.slate_size", "agent", "nope.x", ""])
        args = ["evaluate", "--set", f"{key}={json.dumps(nasty_value(rng))}", "--policy", "random", "--episodes",
                "2"]
    else:
        path = tmp_path / "bad.zip"
        path.write_bytes(bad_zip(rng))
        args = ["import", str(path)]
    code = main(args)
    out = capsys.readouterr()
    assert_contract(code, out.err)
