"""Where trials run: on this machine, or as tasks of a Ray cluster.

Both hand back a ``concurrent.futures.Future`` per trial, and in both a trial reports to the study storage and the
run store itself (``trial.run_trial``), so the driver only decides how many run at once.

- ``LocalExecutor``: each trial's seeds train in processes of their own (``TrainingJob``), so the trials are driven
  by threads of this process that mostly wait: one trial per ``slots``. The default is one trial per
  ``cores // seeds`` (one training process per core).
- ``RayExecutor``: with ``--ray-address ADDR`` (or ``RAY_ADDRESS``) each trial is a Ray task that needs one CPU per
  seed. The task opens the storage URL and the run store home it is given. On one machine the default SQLite
  files are shared by every task; a cluster of several machines needs ``--storage`` pointing at a database every
  node reaches (e.g. PostgreSQL) and ``DQN_SIM_HOME`` on a shared disk, and this package installed on each node.
"""

from __future__ import annotations

import os
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from dqn_sim.config import ConfigError
from dqn_sim.sweep.spec import TrialOutcome, TrialTask


def here(executor: str = "local") -> dict[str, Any]:
    """Where a trial runs (recorded with it)."""
    return {"executor": executor, "host": socket.gethostname(), "pid": os.getpid()}


class Executor(Protocol):
    name: str
    slots: int  # trials at once
    here: int  # trials at once on one machine: what its memory must hold (``spec.check_memory``)

    def submit(self, task: TrialTask) -> Future[TrialOutcome]: ...

    def interrupt(self) -> None:
        """Ask running trials to end now (each is failed and queued again)."""

    def close(self) -> None: ...


class LocalExecutor:
    """Trials driven by threads of this process, their training in processes of their own."""

    name = "local"

    def __init__(self, slots: int) -> None:
        self.slots = self.here = slots
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="sweep-trial")
        self._stop = threading.Event()

    def submit(self, task: TrialTask) -> Future[TrialOutcome]:
        from dqn_sim.sweep.trial import run_trial  # the trainer (torch): only where trials run

        return self._pool.submit(run_trial, task, self._stop, here())

    def interrupt(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def ray_trial(task: TrialTask) -> TrialOutcome:
    """A trial as a Ray task: recorded with the node and worker that ran it."""
    import ray

    from dqn_sim.sweep.trial import run_trial

    context = ray.get_runtime_context()
    ran_on = {**here("ray"), "node_id": context.get_node_id(), "worker_id": context.get_worker_id()}
    return run_trial(task, None, ran_on)


class RayExecutor:
    """Trials as tasks of the Ray cluster at ``address``, each asking one CPU per seed."""

    name = "ray"

    def __init__(self, address: str, seeds: int, slots: int | None = None) -> None:
        import ray

        try:
            ray.init(address=address, logging_level="warning", log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": _source_root()}})
        except Exception as e:  # no cluster there, refused authentication, another Ray version
            raise ConfigError(f"--ray-address {address}: cannot connect ({str(e).splitlines()[0][:200]})") from None
        self._ray = ray
        self._remote = ray.remote(ray_trial).options(num_cpus=seeds, max_retries=0)
        self.slots = slots or max(1, int(ray.cluster_resources().get("CPU", 1)) // seeds)
        node_cpus = max((node["Resources"].get("CPU", 1) for node in ray.nodes() if node.get("Alive")), default=1)
        self.here = min(self.slots, max(1, int(node_cpus) // seeds))  # a task asks a CPU per seed of its node
        self._refs: list = []

    def submit(self, task: TrialTask) -> Future[TrialOutcome]:
        ref = self._remote.remote(task)
        self._refs.append(ref)
        return ref.future()

    def interrupt(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref)  # a running task gets a KeyboardInterrupt: its trial is failed and queued again

    def close(self) -> None:
        self._ray.shutdown()


def _source_root() -> str:
    """The folder holding ``dqn_sim`` (and its ``assets``), so tasks on this machine import this very code."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_executor(ray_address: str | None, parallel: int | None, seeds: int) -> Executor:
    """Ray when an address is given (or ``RAY_ADDRESS`` is set), local processes otherwise."""
    address = ray_address or os.environ.get("RAY_ADDRESS")
    if address:
        return RayExecutor(address, seeds, parallel)
    from dqn_sim.train.groups import cores

    return LocalExecutor(parallel or max(1, cores() // seeds))
