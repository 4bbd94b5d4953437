"""Run history that outlasts the process: an embedded SQLite store of runs, metric rows and checkpoints.

``runs`` holds ``RunStore``, the one entry point; the other modules each hold one concern of it: ``database``
opens the file (and moves a damaged one aside), ``schema`` its tables (migrations, and columns that follow
``dqn_sim.vocab``), ``rows`` and ``validate`` the rules every stored value meets, ``listing`` the run list that
survives any row, ``transfer`` export zips and their careful reading, ``owner`` which process trains a live run.
"""

from dqn_sim.store.errors import RunIdTaken, RunImportError, RunNotFound, StoreError, StoreVersionError
from dqn_sim.store.runs import RunStore, default_home
from dqn_sim.store.schema import SCHEMA_VERSION
from dqn_sim.vocab import LIVE_STATES, STORED_STATES

STATUSES = STORED_STATES
LIVE_STATUSES = LIVE_STATES

__all__ = [
    "LIVE_STATUSES", "SCHEMA_VERSION", "STATUSES", "RunIdTaken", "RunImportError", "RunNotFound", "RunStore",
    "StoreError", "StoreVersionError", "default_home",
]
