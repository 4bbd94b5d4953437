"""The Ray path against a real local head: trials run as Ray tasks and report to the same study and run store.

Ray maps 127.0.0.1 to the machine's primary address, and tests here may talk to loopback only, so the head and the
sweep run inside a network namespace of their own with only loopback (``unshare -n``, as root); the head is stopped
by its pid (SIGTERM drains it), never by the CLI's stop-all command, which kills by name (ARCHITECTURE.md).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dqn_sim.store import RunStore, default_home
from dqn_sim.sweep import study as studies
from tests.test_sweep import TINY_ARGS
from tests.test_sweep import pytestmark as sweep_marks

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORT = 6379  # the namespace is the head's alone: any port is free there

# In the namespace: loopback up, the head in the background, the sweep through its address, the head stopped by pid.
SCRIPT = r"""
ip link set lo up
"$BIN/ray" start --head --block --port $PORT --num-cpus 2 --include-dashboard false --disable-usage-stats \
    --temp-dir "$RAY_TEMP" > "$RAY_TEMP/head.log" 2>&1 &
head=$!
until (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do
    kill -0 $head 2>/dev/null || { echo "the Ray head exited: $(tail -3 "$RAY_TEMP/head.log")" >&2; exit 3; }
    sleep 0.2
done
"$BIN/python" -m dqn_sim sweep "$@" --ray-address 127.0.0.1:$PORT --json
rc=$?
kill -TERM $head
wait $head
exit $rc
"""


def _no_unshare() -> str | None:
    """Why a private network namespace cannot be made here (None when it can)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare and ip (util-linux, iproute2) to give the Ray head a loopback-only network"
    probe = subprocess.run(["unshare", "-n", "--fork", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare -n fails here (needs root): {probe.stderr.strip()}"
    return None


pytestmark = [*sweep_marks, pytest.mark.skipif(_no_unshare() is not None, reason=str(_no_unshare()))]


def test_a_sweep_through_a_ray_head_runs_its_trials_as_ray_tasks():
    ray_temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 characters
    env = {**os.environ, "BIN": str(BIN), "PORT": str(PORT), "RAY_TEMP": ray_temp, "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    args = [*TINY_ARGS, "--param", "agent.lr=1e-4:3e-3:log", "--trials", "2", "--steps", "1024", "--parallel", "1",
            "--name", "on-ray"]
    try:
        done = subprocess.run(["unshare", "-n", "--fork", "bash", "-c", SCRIPT, "ray-sweep", *args], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=240)
    finally:
        shutil.rmtree(ray_temp, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["executor"] == "ray" and [t["state"] for t in result["trials"]] == ["complete", "complete"]

    study, _ = studies.load("on-ray", studies.default_storage(default_home()))
    ran_on = [t.user_attrs["ran_on"] for t in study.get_trials()]
    assert all(r["executor"] == "ray" and len(r["node_id"]) == 56 and r["worker_id"] for r in ran_on)
    assert len({r["node_id"] for r in ran_on}) == 1  # the head is the cluster's one node
    store = RunStore()
    for t in result["trials"]:
        run = store.get_run(t["run_ids"][0])
        assert run["status"] == "finished" and run["notes"] == f"sweep=on-ray trial={t['number']}"
