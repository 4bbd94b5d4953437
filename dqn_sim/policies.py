"""Every policy the studio knows, declared once: the CLI's choices, the charts' colours and labels, the pages'
wording and which policies are evaluated beside training all read this registry.

Adding a baseline is its class (in ``dqn_sim.agents``) plus one ``PolicySpec`` here; adding a learner is its
``Learner`` class, one ``PolicySpec`` naming it, and its name in ``config.LEARNERS`` (``TrainConfig.algo``'s choices).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dqn_sim.agents import baselines
from dqn_sim.agents.policy import Policy

if TYPE_CHECKING:
    from dqn_sim.agents.learner import Learner

KINDS = {  # kind -> what it means to a reader
    "learner": "trained by this studio",
    "baseline": "a heuristic or online ranker a product team could ship",
    "oracle": "reads the simulator's true click model: a myopic upper bound no real ranker reaches",
    "ceiling": "reads the true model and plans ahead: how much is left to earn, not a rival",
}


@dataclass(frozen=True)
class PolicySpec:
    name: str
    label: str
    color: str
    kind: str  # one of KINDS
    description: str
    factory: Callable[[int], Policy] | None = None  # seed -> a fresh policy (None: a learner, trained instead)
    in_training: bool = True  # evaluated beside every training run on the same held-out users
    learner: str = ""  # a learner's class as "module:Class", imported on use (torch stays out of light imports)

    @property
    def rival(self) -> bool:
        """Counts as a competitor to beat ("best baseline"); a ceiling only shows what is left."""
        return self.kind in ("baseline", "oracle")


POLICIES: dict[str, PolicySpec] = {p.name: p for p in (
    PolicySpec("dqn", "DQN", "#6D28D9", "learner",
               "Deep Q-Network: learns the value of the whole session that follows a recommendation",
               learner="dqn_sim.agents.dqn_learner:DQNLearner"),
    PolicySpec("linucb", "LinUCB", "#16A34A", "learner",
               "Contextual bandit (Li et al. 2010): a reward model per item with an upper confidence bound; myopic "
               "but exploring", learner="dqn_sim.agents.linucb:LinUCBAgent"),
    PolicySpec("thompson", "Thompson sampling", "#C026D3", "learner",
               "Linear Thompson sampling (Agrawal & Goyal 2013): ranks a draw from each item's posterior reward model",
               learner="dqn_sim.agents.thompson:ThompsonAgent"),
    PolicySpec("reinforce", "REINFORCE top-K", "#92400E", "learner",
               "Policy gradient with the top-K off-policy correction (Chen et al. 2019, YouTube): a softmax policy "
               "trained on the discounted return", learner="dqn_sim.agents.reinforce:ReinforceAgent"),
    PolicySpec("random", "Random", "#9CA3AF", "baseline", "Uniform over the recommendable items",
               factory=lambda seed: baselines.RandomPolicy(seed)),
    PolicySpec("popularity", "Popularity", "#F59E0B", "baseline",
               "Most-clicked items so far; the catalogue's popularity prior breaks ties",
               factory=lambda seed: baselines.PopularityPolicy()),
    PolicySpec("greedy", "Greedy ranker", "#0EA5E9", "baseline",
               "A production-style myopic ranker: an online model of the next reward, never plans",
               factory=lambda seed: baselines.GreedyPolicy(seed=seed)),
    PolicySpec("oracle", "Myopic oracle", "#E11D48", "oracle",
               "Knows the true click model and maximises the next expected reward, blind to the future",
               factory=lambda seed: baselines.OraclePolicy()),
    PolicySpec("patient-oracle", "Patient oracle (ceiling)", "#111827", "ceiling",
               "Knows the true model and also weighs how a recommendation lengthens or shortens the session",
               factory=lambda seed: baselines.PatientOraclePolicy()),
)}
OTHER_COLOR = "#64748B"


def spec(name: str) -> PolicySpec | None:
    return POLICIES.get(name)


def label(name: str) -> str:
    p = POLICIES.get(name)
    return p.label if p else name


def color(name: str) -> str:
    p = POLICIES.get(name)
    return p.color if p else OTHER_COLOR


def fixed_policies() -> list[str]:
    """Policies that need no training (baselines, oracle, ceiling): what ``evaluate --policy`` takes by name."""
    return [p.name for p in POLICIES.values() if p.factory is not None]


def evaluated_in_training() -> list[str]:
    """Policies every training run evaluates on its held-out users, beside the learner."""
    return [p.name for p in POLICIES.values() if p.factory is not None and p.in_training]


def rivals() -> list[str]:
    """The policies a learner must beat: baselines and the myopic oracle."""
    return [p.name for p in POLICIES.values() if p.rival]


def learners() -> list[str]:
    """Policies this studio trains (``TrainConfig.algo``), the DQN first."""
    return [p.name for p in POLICIES.values() if p.kind == "learner"]


def learner_class(name: str) -> type[Learner]:
    """The ``Learner`` class that trains ``name`` (and reads its checkpoints)."""
    p = POLICIES.get(name)
    if p is None or not p.learner:
        raise KeyError(f"learner must be one of {', '.join(learners())}, got {name!r}")
    module, _, cls = p.learner.partition(":")
    return getattr(importlib.import_module(module), cls)


def trained(names: Iterable[str]) -> str:
    """Which learner a run trained, from the policies its evaluation rows name (a run trains one); the DQN when
    none is named (a run that never evaluated its learner)."""
    return next((n for n in names if n in POLICIES and POLICIES[n].kind == "learner"), "dqn")


def trained_in(summary: Mapping) -> str:
    """The learner a run's summary reports (its ``<learner>_return``)."""
    return trained(key.removesuffix("_return") for key in summary if key.endswith("_return"))


def make_policy(name: str, seed: int = 0) -> Policy:
    p = POLICIES.get(name)
    if p is None or p.factory is None:
        raise KeyError(f"policy must be one of {', '.join(fixed_policies())}, got {name!r}")
    return p.factory(seed)


def baseline_phrase() -> str:
    """The pages' wording of what a run is judged against, e.g. "four baselines (random, …) and a ceiling (…)"."""
    judged = evaluated_in_training()
    rival = [POLICIES[n].label.lower() for n in judged if POLICIES[n].rival]
    ceiling = [POLICIES[n].label.lower().split(" (")[0] for n in judged if POLICIES[n].kind == "ceiling"]
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
    text = f"{words.get(len(rival), len(rival))} baselines ({', '.join(rival[:-1])} and {rival[-1]})"
    return text + (f" and a ceiling ({', '.join(ceiling)})" if ceiling else "")
