"""Issue 15's "tracebacks instead of the one-line contract", case by case through the CLI: each bad input exits 2
with one line of at most 300 characters that names the field or the file it refuses (the seeded fuzz test in
test_cli_fuzz.py covers generated inputs; these are the cases the issue names, plus the ones its check found)."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from dqn_sim.cli import main
from dqn_sim.errors import MAX_ERROR_CHARS
from dqn_sim.store import SCHEMA_VERSION, RunStore
from tests.test_memory import forged_checkpoint

EVALUATE = ["evaluate", "--policy", "random", "--episodes", "2"]


def refusal(capsys, args: list[str]) -> str:
    """The one error line of ``python -m dqn_sim ARGS``, which must exit 2."""
    code = main(args)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err[-500:]
    assert len(lines[0]) <= MAX_ERROR_CHARS + len("error: ")
    return lines[0]


def test_a_number_of_400_or_5000_digits_names_the_field(capsys) -> None:
    assert "agent.lr must be a number in [1e-07, 1], got an integer of about 400 digits" in refusal(
        capsys, [*EVALUATE, "--set", "agent.lr=1" + "0" * 400])
    # Python itself refuses to read an integer of more than 4300 digits (its message named sys.set_int_max_str_digits)
    assert "agent.lr must be a number in [1e-07, 1], got '1000" in refusal(
        capsys, [*EVALUATE, "--set", "agent.lr=1" + "0" * 5000])


@pytest.mark.parametrize(("content", "says"), [
    ('{"agent": {"lr": 1' + "0" * 5000 + "}}", "cannot read JSON (a number of more than 4300 digits)"),
    ("[" * 100_000 + "]" * 100_000, "cannot read JSON (maximum recursion depth exceeded"),
    ('{"agent": 5}', "agent must be a JSON object"),
    (json.dumps({"agent": {"lr": "x" * 50_000_000}}), "agent.lr must be a number in [1e-07, 1], got 'xxx"),
], ids=["5000 digits", "100k deep", "agent not an object", "50 MB value"])
def test_a_bad_config_file_is_refused_in_one_line(capsys, tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    line = refusal(capsys, [*EVALUATE, "--config", str(path)])
    assert says in line


def test_a_zip_with_a_5000_digit_number_names_its_member(capsys, tmp_path: Path) -> None:
    path = tmp_path / "digits.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for member in ("manifest.json", "summary.json", "metrics.csv"):
            zf.writestr(member, json.dumps({"format": "dqn_sim-run", "version": 1}) if member == "manifest.json"
                        else "{}" if member == "summary.json" else "step\n")
        zf.writestr("config.json", '{"seed": 1' + "0" * 5000 + "}")
    assert "config.json is not valid JSON: a number of more than 4300 digits" in refusal(capsys, ["import", str(path)])


def test_an_unusable_store_is_one_line_naming_it(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("DQN_SIM_HOME", str(tmp_path / "file"))
    assert f"cannot use the run store at {tmp_path / 'file'}" in refusal(capsys, ["runs"])
    newer = tmp_path / "newer"
    RunStore(newer).close()
    with sqlite3.connect(newer / "runs.sqlite3") as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    monkeypatch.setenv("DQN_SIM_HOME", str(newer))
    assert "has schema version" in refusal(capsys, ["delete", "abcd", "--yes"])


def test_a_corrupt_store_is_moved_aside_with_a_warning(capsys, isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True)
    (isolated_home / "runs.sqlite3").write_bytes(b"\x00" * 5000)
    assert main(["runs"]) == 0
    out = capsys.readouterr()
    assert out.err.startswith(f"warning: the run store {isolated_home / 'runs.sqlite3'} could not be read")
    assert out.err.count("\n") == 1 and out.out.startswith("no runs yet")


@pytest.mark.parametrize(("shapes", "says"), [
    # torch's error, then a traceback
    ({"obs_dim": -5}, "is a damaged checkpoint: shapes.obs_dim must be an integer in [1, 1000000000], got -5"),
    ({"slate_size": 0}, "is a damaged checkpoint: shapes.slate_size must be an integer in [1, 1000000000], got 0"),
    ({"slate_size": 3}, "recommends slates of 3 items; this scenario's dynamics.slate_size is 1"),  # a reshape error
], ids=["negative obs_dim", "empty slate", "other slate size"])
def test_a_checkpoint_with_odd_shapes_names_the_file_and_the_shape(capsys, tmp_path: Path, shapes: dict,
                                                                   says: str) -> None:
    path = forged_checkpoint(tmp_path / "model.pt", **shapes)
    line = refusal(capsys, ["evaluate", "--policy", f"dqn:{path}", "--episodes", "5"])
    assert str(path) in line and says in line
