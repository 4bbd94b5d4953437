"""Config forms generated from the ``knob()`` metadata, so every field has its help, unit and range.

Widget values live in ``st.session_state`` under ``"<scope>.<dotted path>"``. Pages validate those values
*before* drawing the widgets, so each validation message is drawn right under the field it names, and the
config is only replaced by a valid one: a typo never reaches the simulator and never shows a traceback.

A field that only matters under another field's choice (``knob(when=...)``: an exponential schedule's decay rate)
is hidden while that choice is not made. Streamlit's forms do not rerun on a change inside them, so a page that
applies its settings with a button draws the grid with ``defer=True`` instead of ``st.form``: every knob waits for
the button (``on_change="ignore"``), except the choices other knobs depend on, which rerun at once.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, TypeVar

import streamlit as st

from dqn_sim.config import Config, ConfigError, decided_by, describe_allowed, in_use, leaf_fields, used_when

C = TypeVar("C", bound=Config)
Field = dataclasses.Field
_PATH = re.compile(r"^(?:unknown field )?([A-Za-z_][\w.]*)")
_FIRST_WORDS = {"n": "number of", "eps": "ε", "per": "PER"}  # prefixes: n_items, eps_start, per_alpha
_WORDS = {"lr": "learning rate", "dqn": "DQN"}
_NAMES = {  # the term a practitioner knows, with what it means to a product person
    "n_step": "N-step return (steps summed before bootstrapping)", "gamma": "Discount γ (weight of the future)",
    "tau": "Soft update τ (target network's step)", "mlp": "MLP",
    "n_envs": "Parallel users (n_envs)", "per_alpha": "Replay priority α (PER alpha: 0 = uniform replay)",
    "per_eps": "Priority floor (PER eps)", "log_every": "Log every (user-steps between chart points)",
    "eval_every": "Evaluate every (user-steps)", "eval_episodes": "Evaluation sessions",
    "learning_starts": "Learning starts after (user-steps)", "train_every": "Train every (batch steps)",
    "updates_per_train": "Updates per training step", "buffer_size": "Replay memory (transitions)",
    "batch_size": "Batch size (transitions per update)", "max_grad_norm": "Gradient clip (max norm)",
    "double_dqn": "Double DQN (less over-estimation)", "dueling": "Dueling heads (value + advantage)",
    "prioritized": "Prioritized replay (PER)", "reward_scale": "Reward scale (rewards × this while learning)",
    "target_update": "Target network update", "target_update_interval": "Target update every (updates)",
    "hidden_sizes": "Hidden layers (units each)", "embedding_dim": "Item embedding size",
    "eps_decay_rate": "ε decay rate (exponential schedule only)",
    "eps_decay_period": "ε decay period (exponential schedule only)",
    "eps_decay_fraction": "ε decay fraction (linear schedule only)",
}


def key(scope: str, path: str) -> str:
    return f"{scope}.{path}"


def label(path: str, f: Field) -> str:
    """A readable label: ``catalogue.n_items`` -> ``Number of items``, with its unit."""
    name = path.rsplit(".", 1)[-1]
    first, *rest = name.split("_")
    text = _NAMES.get(name) or " ".join([_FIRST_WORDS.get(first, _WORDS.get(first, first))]
                                        + [_WORDS.get(w, w) for w in rest])
    unit = f.metadata.get("unit")
    text = text[0].upper() + text[1:] if text[0].isascii() else text
    return f"{text} ({unit})" if unit else text


def help_text(f: Field) -> str:
    condition = used_when(f)
    used = f"\n\nUsed only when {condition}." if condition else ""
    return f"{f.metadata.get('help', '')}\n\nAllowed: {describe_allowed(f)}.{used}"


def _kind(f: Field, value: Any) -> str:
    if f.metadata.get("choices"):
        return "choice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list):
        return "list"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "text"


def _to_widget(f: Field, value: Any) -> Any:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else value


def _from_widget(f: Field, raw: Any, template: Any) -> Any:
    """Widget value -> config value; list text that does not parse is passed on as text, so that the
    config's own validation words the message."""
    if not isinstance(template, list):
        return raw
    items = [s.strip() for s in str(raw).split(",") if s.strip()]
    if "str" in str(f.type):
        return items
    try:
        return [float(s) if "float" in str(f.type) else int(s) for s in items]
    except ValueError:
        return raw


def ensure(scope: str, cfg: Config) -> None:
    """Give every widget of ``cfg`` a value the first time the session sees it."""
    for path, f, value in leaf_fields(cfg):
        st.session_state.setdefault(key(scope, path), _to_widget(f, value))


def load(scope: str, cfg: Config) -> None:
    """Put ``cfg`` into the widgets (call from a callback: widgets may not change after they are drawn)."""
    for path, f, value in leaf_fields(cfg):
        st.session_state[key(scope, path)] = _to_widget(f, value)


def read(scope: str, cfg: Config) -> dict[str, Any]:
    """The widgets' values as config values, by dotted path (``cfg`` gives the fields and defaults)."""
    return {
        path: _from_widget(f, st.session_state.get(key(scope, path), _to_widget(f, value)), value)
        for path, f, value in leaf_fields(cfg)
    }


def _nest(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in values.items():
        node = out
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def validate(cls: type[C], values: dict[str, Any], fallback: C) -> tuple[C | None, dict[str, str]]:
    """Build a config from widget values; return it, or ``None`` and every message by field path.

    Validation stops at the first bad field, so each offending field is reset to its ``fallback`` value
    and validation repeated: all bad fields get their message at once.
    """
    errors: dict[str, str] = {}
    current = dict(values)
    last_good = {path: value for path, _, value in leaf_fields(fallback)}
    for _ in range(len(current) + 1):
        try:
            cfg = cls.from_dict(_nest(current))  # type: ignore[attr-defined]
        except ConfigError as e:
            match = _PATH.match(str(e))
            path = match.group(1) if match else ""
            if path not in current or path in errors:
                errors[path if path in current else ""] = str(e)
                return None, errors
            errors[path] = str(e)
            current[path] = last_good[path]
            continue
        return (None if errors else cfg), errors
    return None, errors


def _step(f: Field, value: float) -> float:
    """A +/- step one digit below the value's magnitude (0.95 -> 0.01, 1e-3 -> 1e-4, 60 -> 1)."""
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    scale = abs(value) or abs(f.default or 0) or ((hi - lo) / 100 if lo is not None and hi is not None else 1.0)
    return 10.0 ** (math.floor(math.log10(scale)) - 1)


def knob(scope: str, path: str, f: Field, template: Any, error: str | None = None, disabled: bool = False,
         on_change: str = "rerun") -> None:
    """Draw the widget of one config field, and its validation message under it; ``on_change="ignore"`` keeps a
    change in the browser until something else reruns the page (a form's manner, outside a form)."""
    k, text, tip = key(scope, path), label(path, f), help_text(f)
    common = {"key": k, "help": tip, "disabled": disabled, "persist_state": "session", "on_change": on_change}
    kind = _kind(f, template)
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    if kind == "bool":
        st.toggle(text, **common)
    elif kind == "choice":
        st.selectbox(text, f.metadata["choices"], **common)
    elif kind == "int":
        st.number_input(text, min_value=None if lo is None else int(lo), max_value=None if hi is None else int(hi),
                        step=1, **common)
    elif kind == "float":
        st.number_input(text, min_value=lo, max_value=hi, step=_step(f, float(template)), format="%g", **common)
    else:
        placeholder = "comma-separated, e.g. 0.5, 0.5" if kind == "list" else None
        st.text_input(text, placeholder=placeholder, **common)
    if error:  # under the field, its dotted path would only repeat the label
        message = error.removeprefix(f"{path} ")
        st.error(message[0].upper() + message[1:], icon=":material/error:")


def leaf(cfg: Config, path: str) -> tuple[Field, Any]:
    """The field and value at a dotted path."""
    return next((f, v) for p, f, v in leaf_fields(cfg) if p == path)


def groups(cfg: Config, prefix: str = "") -> dict[str, list[tuple[str, Field, Any]]]:
    """Leaf fields under ``prefix`` grouped by their ``group`` metadata, in declaration order."""
    out: dict[str, list[tuple[str, Field, Any]]] = {}
    for path, f, value in leaf_fields(cfg):
        if path.startswith(prefix):
            out.setdefault(f.metadata.get("group") or "general", []).append((path, f, value))
    return out


def controllers(fields: list[tuple[str, Field, Any]]) -> set[str]:
    """The paths of the fields whose value decides whether another of ``fields`` is shown (``when``): a choice and
    the knobs it decides sit in one group, so one grid holds both."""
    return {sibling for path, f, _ in fields if (sibling := decided_by(path, f))}


def shown(scope: str, fields: list[tuple[str, Field, Any]], errors: dict[str, str]) -> list[tuple[str, Field, Any]]:
    """The fields that matter under the widgets' current choices; one with a message stays, so it can be fixed."""
    return [(path, f, value) for path, f, value in fields
            if path in errors or in_use(path, f, lambda p: st.session_state.get(key(scope, p)))]


def knob_grid(scope: str, fields: list[tuple[str, Field, Any]], errors: dict[str, str], *, columns: int = 2,
              disabled: bool = False, defer: bool = False) -> None:
    """Draw the fields that matter (``shown``) in a grid, row by row, so related knobs sit side by side.

    ``defer``: knobs keep their changes until the page reruns for another reason (its start button), except the
    choices that show or hide other knobs, which rerun the page at once.
    """
    live = controllers(fields)
    visible = shown(scope, fields, errors)
    for start in range(0, len(visible), columns):
        cols = st.columns(columns)
        for col, (path, f, value) in zip(cols, visible[start:start + columns], strict=False):
            with col:
                knob(scope, path, f, value, errors.get(path), disabled,
                     on_change="ignore" if defer and path not in live else "rerun")
