"""Run groups in the store: one configuration trained on several seeds, each member an ordinary run.

``run_groups`` keeps a group's settings, state and summary (its aggregate over seeds), ``group_members`` which run
trained each seed. Members list, open, export and delete as any run does. A group exports as one zip: ``group.json``
and each member's own run export inside (``members/seed_<s>.zip``), read back with the same care as a run's zip:
names and sizes are checked before anything is unpacked, the bytes unpacked are counted, and an import that fails
part-way removes the runs it had added.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import time
import zipfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import pandas as pd

from dqn_sim import policies
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.store import owner, validate
from dqn_sim.store.errors import RunImportError, StoreError, cut, short
from dqn_sim.store.runs import SOURCES, RunStore
from dqn_sim.store.transfer import _UNREADABLE, CHUNK, MAX_IMPORT_BYTES, MAX_JSON_BYTES
from dqn_sim.vocab import LIVE_STATES, STORED_STATES

GROUP_FORMAT = "dqn_sim-group"
GROUP_VERSION = 1
MAX_SEEDS = 64
_MEMBER = re.compile(r"members/seed_(\d{1,10})\.zip")
_COLUMNS = ("id", "name", "created", "updated", "status", "source", "preset", "scenario_json", "agent_json",
            "train_json", "summary_json", "error", "owner_pid", "owner_token")


class GroupNotFound(KeyError):
    """No group with this id in the store."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def is_group_export(path: str | Path) -> bool:
    """Whether ``path`` is a group's zip (rather than a run's): it holds a group.json."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "group.json" in zf.namelist()
    except (*_UNREADABLE, OSError):
        return False


def member_file(seed: int) -> str:
    return f"members/seed_{seed}.zip"


class GroupStore:
    """The groups of a ``RunStore`` (same database, same transactions)."""

    def __init__(self, runs: RunStore) -> None:
        self.runs = runs

    # ------------------------------------------------------------------------------------- writing

    def create_group(
        self, *, name: str, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig,
        members: Mapping[int, str], source: str = "app", group_id: str | None = None, status: str = "running",
        created: float | None = None,
    ) -> str:
        """A new group of ``members`` (seed -> the id of the run that trains it, which need not exist yet),
        owned by this process while ``status`` is live; returns its id."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        if status not in STORED_STATES:
            raise ValueError(f"status must be one of {', '.join(STORED_STATES)}, got {status!r}")
        now = time.time()
        live = owner.mine() if status in LIVE_STATES else {"owner_pid": None, "owner_token": None}
        with self.runs._tx() as con:
            group_id = group_id or self._new_id(con)
            con.execute(
                "INSERT INTO run_groups (id, name, created, updated, status, source, preset, scenario_json, agent_json,"
                " train_json, owner_pid, owner_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (group_id, name, created or now, now, status, source, scenario.name, scenario.to_json(),
                 agent.to_json(), train.to_json(), *live.values()),
            )
            con.executemany("INSERT INTO group_members (group_id, seed, run_id) VALUES (?, ?, ?)",
                            [(group_id, int(seed), run_id) for seed, run_id in members.items()])
        return group_id

    @staticmethod
    def _new_id(con: Any) -> str:
        while True:
            group_id = secrets.token_hex(5)
            if con.execute("SELECT 1 FROM run_groups WHERE id = ?", (group_id,)).fetchone() is None:
                return group_id

    def _update(self, group_id: str, **fields: Any) -> None:
        sets = "".join(f", {k} = ?" for k in fields)
        with self.runs._tx() as con:
            cur = con.execute(f"UPDATE run_groups SET updated = ?{sets} WHERE id = ?",
                              (time.time(), *fields.values(), group_id))
            if cur.rowcount == 0:
                raise self._not_found(group_id)

    def set_status(self, group_id: str, status: str, error: str | None = None) -> None:
        if status not in STORED_STATES:
            raise ValueError(f"status must be one of {', '.join(STORED_STATES)}, got {status!r}")
        self._update(group_id, status=status, error=error)

    def set_summary(self, group_id: str, summary: dict[str, Any]) -> None:
        self._update(group_id, summary_json=json.dumps(summary))

    def delete_group(self, group_id: str, *, members: bool = True) -> None:
        """Remove the group and, unless ``members`` is False, the runs of its members."""
        runs = [m["run_id"] for m in self.get_group(group_id)["members"] if m["status"] is not None]
        with self.runs._tx() as con:
            con.execute("DELETE FROM run_groups WHERE id = ?", (group_id,))
        for run_id in runs if members else []:
            self.runs.delete(run_id)

    # ------------------------------------------------------------------------------------- reading

    def _not_found(self, group_id: str) -> GroupNotFound:
        return GroupNotFound(f"no group with id {group_id!r} in {self.runs.db_path}")

    def get_group(self, group_id: str) -> dict[str, Any]:
        """The group's fields, its configs parsed back, its summary (a dict, or None) and ``members``: one
        ``{"seed", "run_id", "status"}`` per seed (status None when the run is not in the store)."""
        rows = self.runs._query(f"SELECT {', '.join(_COLUMNS)} FROM run_groups WHERE id = ?", (group_id,))
        if not rows:
            raise self._not_found(group_id)
        group = _record(rows[0])
        try:
            for key, cls in (("scenario", ScenarioConfig), ("agent", AgentConfig), ("train", TrainConfig)):
                group[key] = cls.from_json(group[f"{key}_json"])
        except (ValueError, TypeError, RecursionError) as e:
            raise StoreError(f"group {group_id} in {self.runs.db_path} is damaged: its {key} settings do not load "
                             f"({cut(str(e), 200)})") from None
        members = self.runs._query(
            "SELECT m.seed, m.run_id, r.status FROM group_members m LEFT JOIN runs r ON r.id = m.run_id "
            "WHERE m.group_id = ? ORDER BY m.seed", (group_id,))
        group["members"] = [{"seed": seed, "run_id": run_id, "status": status} for seed, run_id, status in members]
        group["seeds"] = [m["seed"] for m in group["members"]]
        return group

    def list_groups(self) -> pd.DataFrame:
        """One row per group, newest first: id, name, status, preset, created, seeds, the learner and its IQM."""
        rows = self.runs._query(f"SELECT {', '.join(_COLUMNS)}, (SELECT count(*) FROM group_members m WHERE "
                                "m.group_id = g.id) FROM run_groups g ORDER BY created DESC")
        records = []
        for row in rows:
            group = _record(row[:-1])
            aggregate = (group["summary"] or {}).get("aggregate") or {}
            learner = policies.trained(aggregate)
            records.append({k: group[k] for k in ("id", "name", "status", "preset", "created", "source")}
                           | {"seeds": row[-1], "learner": learner, "learner_iqm": (aggregate.get(learner) or {}).get(
                               "iqm"), "best_baseline": (group["summary"] or {}).get("best_baseline")})
        return pd.DataFrame.from_records(records, columns=["id", "name", "status", "preset", "created", "source",
                                                           "seeds", "learner", "learner_iqm", "best_baseline"])

    def checkpoints(self, group_id: str) -> dict[int, Path]:
        """Each seed whose run has a saved model, and where it is (a resumed group starts its members there)."""
        out = {}
        for m in self.get_group(group_id)["members"]:
            if m["status"] is not None and (path := self.runs.checkpoint_path(m["run_id"])).is_file():
                out[m["seed"]] = path
        return out

    # ------------------------------------------------------------------------------------- export / import

    def export_zip(self, group_id: str, path: str | Path) -> Path:
        """Write the group as one zip: group.json and each member run's own export."""
        group, path = self.get_group(group_id), Path(path)
        meta = {"format": GROUP_FORMAT, "version": GROUP_VERSION, "name": group["name"], "created": group["created"],
                "status": group["status"], "seeds": group["seeds"], "summary": group["summary"],
                **{k: group[k].to_dict() for k in ("scenario", "agent", "train")}}
        try:
            with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path, "w") as zf:
                zf.writestr("group.json", json.dumps(meta, indent=2), compress_type=zipfile.ZIP_DEFLATED)
                for m in group["members"]:
                    if m["status"] is not None:  # a member run deleted on its own is left out
                        member = self.runs.export_zip(m["run_id"], Path(tmp) / "member.zip")
                        zf.write(member, member_file(m["seed"]))  # stored: a zip compresses no further
        except OSError as e:
            raise StoreError(f"cannot write the export {path}: {e.strerror or e}") from None
        return path

    def import_zip(self, path: str | Path) -> str:
        """Add an exported group as a new group (source 'import'), each member as a new run; returns its id.

        A refused zip raises RunImportError; if anything fails, the runs added so far are removed again.
        """
        with tempfile.TemporaryDirectory() as tmp:
            meta, files = _read_group_zip(Path(path), Path(tmp))
            added: dict[int, str] = {}
            try:
                for seed, file in files.items():
                    try:
                        added[seed] = self.runs.import_zip(file)
                    except RunImportError as e:
                        raise RunImportError(f"{member_file(seed)}: {e}") from None
                status = "interrupted" if meta["status"] in LIVE_STATES else meta["status"]
                group_id = self.create_group(
                    name=meta["name"], scenario=meta["scenario"], agent=meta["agent"], train=meta["train"],
                    members=added, source="import", status=status, created=meta["created"])
                if meta["summary"] is not None:
                    self.set_summary(group_id, _relinked(meta["summary"], added))
            except BaseException:
                for run_id in added.values():
                    with suppress(StoreError, KeyError):
                        self.runs.delete(run_id)
                raise
        return group_id


def _record(row: tuple) -> dict[str, Any]:
    group = dict(zip(_COLUMNS, row, strict=True))
    if group["status"] in LIVE_STATES and owner.owner_gone(group["owner_pid"], group["owner_token"]):
        group["status"] = "interrupted"  # its process ended while it trained
    try:
        summary = json.loads(group["summary_json"]) if group["summary_json"] else None
    except ValueError:
        summary = None
    group["summary"] = summary if isinstance(summary, dict) else None
    return group


def _relinked(summary: dict[str, Any], runs: Mapping[int, str]) -> dict[str, Any]:
    """The summary with each seed's run id the one it has in this store (None for a member not imported)."""
    per_seed = [{**row, "run_id": runs.get(row.get("seed"))} if isinstance(row, dict) else row
                for row in summary.get("per_seed") or []]
    return {**summary, "per_seed": per_seed}


def _read_group_zip(path: Path, folder: Path) -> tuple[dict[str, Any], dict[int, Path]]:
    """group.json checked field by field, and each member's zip unpacked into ``folder`` (bytes counted)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            if "group.json" not in infos:
                raise RunImportError(f"{path}: not a group export (no group.json)")
            if len(infos) > MAX_SEEDS + 1:
                raise RunImportError(f"{path}: too many members: {len(infos)} (at most {MAX_SEEDS + 1})")
            seeds = {}
            for name in infos:
                if name != "group.json" and not (m := _MEMBER.fullmatch(name)):
                    raise RunImportError(f"{path}: unexpected member {short(name)}")
                if name != "group.json":
                    seeds[int(m.group(1))] = name
            meta = _group_meta(json.loads(_read(zf, infos["group.json"], MAX_JSON_BYTES)))
            if not set(seeds) <= set(meta["seeds"]):
                raise RunImportError(f"{path}: members {sorted(set(seeds) - set(meta['seeds']))} are not seeds of "
                                     "the group")
            files = {}
            for seed, name in sorted(seeds.items()):
                files[seed] = folder / f"seed_{seed}.zip"
                _unpack(zf, infos[name], files[seed])
            return meta, files
    except (*_UNREADABLE, ValueError) as e:
        if isinstance(e, RunImportError):
            raise
        raise RunImportError(f"{path}: not a readable group export ({cut(str(e), 200)})") from None
    except OSError as e:
        raise RunImportError(f"{path}: cannot read it ({e.strerror or e})") from None


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise RunImportError(f"{info.filename}: larger than {limit} bytes")
    return data


def _unpack(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> None:
    """Copy a member out in chunks, refusing it past ``MAX_IMPORT_BYTES`` (its stated size may lie)."""
    written = 0
    with zf.open(info) as src, dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > MAX_IMPORT_BYTES:
                raise RunImportError(f"{info.filename}: larger than {MAX_IMPORT_BYTES} bytes")
            out.write(chunk)


def _group_meta(meta: Any) -> dict[str, Any]:
    """group.json's fields, each checked: configs as dataclasses, name, status, creation time, distinct seeds."""
    if not isinstance(meta, dict) or meta.get("format") != GROUP_FORMAT:
        raise RunImportError("group.json is not a dqn_sim group export")
    if meta.get("version") != GROUP_VERSION:
        raise RunImportError(f"group.json has version {short(meta.get('version'))}; this dqn_sim reads version "
                             f"{GROUP_VERSION}")
    try:
        out = {"scenario": ScenarioConfig.from_dict(meta.get("scenario"), prefix="scenario."),
               "agent": AgentConfig.from_dict(meta.get("agent"), prefix="agent."),
               "train": TrainConfig.from_dict(meta.get("train"), prefix="train.")}
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as e:
        raise RunImportError(f"group.json: {cut(str(e))}") from None
    seeds = meta.get("seeds")
    if (not isinstance(seeds, list) or not 0 < len(seeds) <= MAX_SEEDS or len(set(map(str, seeds))) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**31 for s in seeds)):
        raise RunImportError(f"group.json: seeds must be 1 to {MAX_SEEDS} distinct integers in [0, 2**31), got "
                             f"{short(seeds)}")
    if meta.get("status") not in STORED_STATES:
        raise RunImportError(f"group.json: status must be one of {', '.join(STORED_STATES)}, got "
                             f"{short(meta.get('status'))}")
    summary = meta.get("summary")
    if summary is not None and not isinstance(summary, dict):
        raise RunImportError(f"group.json: summary must be an object, got {short(summary)}")
    try:
        out.update(name=validate.name(meta.get("name")), seeds=seeds, status=meta["status"], summary=summary,
                   created=validate.created(meta.get("created", time.time())))
    except validate.Problem as e:
        raise RunImportError(f"group.json: {e}") from None
    return out
