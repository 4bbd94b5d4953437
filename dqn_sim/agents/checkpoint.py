"""Checkpoint bytes of the rival learners: plain dicts of tensors, numbers and JSON text, so that reading one back
needs nothing but ``torch.load(weights_only=True)`` (no pickled classes, nothing that runs code)."""

from __future__ import annotations

import io
import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch

from dqn_sim import memory
from dqn_sim.agents.dqn import CheckpointError, checked_shapes, format_of
from dqn_sim.config import AgentConfig, Config, ScenarioConfig, TrainConfig

VERSION = 1


def pack(kind: str, *, config: Config, scenario: ScenarioConfig | None, shapes: dict[str, int], seed: int,
         item_features_IF: np.ndarray, state: dict[str, torch.Tensor]) -> bytes:
    """The content of a ``kind`` checkpoint (e.g. ``"linucb"``)."""
    buffer = io.BytesIO()
    torch.save({
        "format": format_of(kind), "format_version": VERSION, "config": config.to_json(),
        "scenario": scenario.to_json() if scenario is not None else None, "shapes": dict(shapes), "seed": seed,
        "item_features_IF": torch.from_numpy(np.ascontiguousarray(item_features_IF, dtype=np.float32)),
        "state": state,
    }, buffer)
    return buffer.getvalue()


def unpack(content: bytes, kind: str, source: str) -> dict[str, Any]:
    """What ``pack`` stored, with ``scenario`` as a dict; raises CheckpointError, in plain words, for anything else."""
    try:
        data = torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for bad files; all mean "not readable"
        raise CheckpointError(f"{source} is not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != format_of(kind):
        raise CheckpointError(f"{source} is not a dqn_sim {kind} checkpoint")
    if data.get("format_version") != VERSION:
        raise CheckpointError(f"{source} has checkpoint format version {data.get('format_version')!r}; this version "
                              f"of dqn_sim reads version {VERSION}")
    try:
        scenario = json.loads(data["scenario"]) if data["scenario"] is not None else None
        return {**data, "scenario": scenario, "item_features_IF": data["item_features_IF"].numpy()}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{source} is a damaged checkpoint: {e}") from None


class Packed(ABC):
    """``to_bytes``/``from_bytes`` of a rival learner, written once: a learner is rebuilt from its constructor's
    sizes, its item features, config and seed, then given its weights. A subclass names its ``config_type``, the
    sizes it stores (``SHAPE_MIN``: its constructor's integer arguments, and ``n_items``, which its item features
    imply) and what building one of given sizes allocates (``model_bytes``)."""

    name: ClassVar[str]
    config_type: ClassVar[type[Config]]
    SHAPE_MIN: ClassVar[dict[str, int]]
    config: Config
    seed: int
    n_items: int
    item_features_IF: np.ndarray

    @classmethod
    @abstractmethod
    def model_bytes(cls, dims: dict[str, int], config: Any, sizing: memory.Sizing = memory.LOADING) -> dict[str, float]:
        """Bytes that one of these checked sizes (``checked_shapes``) holds, by part, each part naming the field that
        sizes it: built from a checkpoint (``memory.LOADING``), or training (``memory.training_sizing``)."""

    @abstractmethod
    def copy_weights(self) -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def load_weights(self, weights: dict[str, torch.Tensor]) -> None: ...

    @classmethod
    def loading(cls, source: str, dims: dict[str, int], header: dict[str, Any]) -> memory.Estimate:
        return memory.loaded(source, cls.model_bytes(dims, cls.config_type.from_json(header["config"])),
                             dims["n_items"], dims["n_features"])

    @classmethod
    def training_bytes(cls, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig) -> dict[str, float]:
        """The same parts, sized by the run's config and counted as training holds them (one sizing for both, so
        what a checkpoint may load and what a run may train stay the same model)."""
        from dqn_sim.policies import label

        return cls.model_bytes(memory.config_dims(scenario, train), getattr(train, cls.name),
                               memory.training_sizing(label(cls.name)))

    def to_bytes(self, scenario: ScenarioConfig | None = None) -> bytes:
        return pack(self.name, config=self.config, scenario=scenario,
                    shapes={key: getattr(self, key) for key in self.SHAPE_MIN}, seed=self.seed,
                    item_features_IF=self.item_features_IF, state=self.copy_weights())

    @classmethod
    def from_bytes(cls, content: bytes, source: str = "the checkpoint") -> tuple[Any, dict[str, Any] | None]:
        data = unpack(content, cls.name, source)
        try:
            dims = checked_shapes(data, cls.SHAPE_MIN)
            learner = cls(**{key: dims[key] for key in cls.SHAPE_MIN if key != "n_items"},  # type: ignore[call-arg]
                          item_features_IF=data["item_features_IF"], config=cls.config_type.from_json(data["config"]),
                          seed=int(data["seed"]))
            learner.load_weights(data["state"])
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
            raise CheckpointError(f"{source} is a damaged checkpoint: {e}") from None
        return learner, data["scenario"]
