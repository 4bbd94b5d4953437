"""Generated interaction logs in MovieLens (or mapped CSV/Parquet) layout whose truth is known.

No MovieLens data may be redistributed, so tests and benchmarks calibrate on these: items with genres and a
Zipf popularity, users in segments that favour two genres each, sessions of known mean length separated by
hours of inactivity (steps within a session are seconds to minutes apart). Written block by block of users, so
ten million rows need little memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dqn_sim.calibrate.layouts import ML100K_GENRES

LAYOUTS = ("ml-100k", "ml-latest", "csv", "parquet")
BLOCK_USERS = 20_000
GENERIC_COLUMNS = {"user": "member", "item": "sku", "rating": "stars", "timestamp": "when", "category": "genre"}
DAY = 86_400


@dataclass(frozen=True)
class SynthSpec:
    """The truth a log is drawn from."""

    n_ratings: int = 100_000  # about; whole users are generated
    n_items: int = 1000
    n_genres: int = 12
    zipf: float = 1.0
    n_segments: int = 4
    session_mean: float = 8.0
    sessions_per_user: float = 4.0
    liked_tilt: float = 2.5  # log-odds boost of a segment's favourite genres in what its users watch
    seed: int = 0

    @property
    def genre_names(self) -> list[str]:
        return list(ML100K_GENRES[1:1 + self.n_genres])

    @property
    def n_users(self) -> int:
        return max(1, round(self.n_ratings / (self.sessions_per_user * self.session_mean)))


@dataclass(frozen=True)
class SynthTruth:
    """What was drawn, for tests to check a fit against."""

    spec: SynthSpec
    n_ratings: int
    segment_U: np.ndarray  # each user's segment
    liked_SG: np.ndarray  # each segment's favourite genres
    genres_IG: np.ndarray
    session_lengths: np.ndarray


@dataclass(frozen=True)
class _World:
    genres_IG: np.ndarray
    quality_I: np.ndarray
    share_S: np.ndarray
    liked_SG: np.ndarray
    liked_SI: np.ndarray  # share of each item's genres a segment favours
    cdf_SI: np.ndarray  # per segment, the cumulative exposure over items


def _world(spec: SynthSpec, rng: np.random.Generator) -> _World:
    n, g, s = spec.n_items, spec.n_genres, spec.n_segments
    genres = rng.random((n, g)) < 0.15
    genres[np.arange(n), rng.integers(0, g, n)] = True
    rank = rng.permutation(n) + 1.0
    quality = rng.normal(3.4, 0.5, n)
    share = rng.dirichlet(np.full(s, 8.0))
    liked = np.zeros((s, g), dtype=bool)
    for i in range(s):
        liked[i, [(2 * i) % g, (2 * i + 1) % g]] = True
    liked_SI = (liked.astype(float) @ genres.T) / genres.sum(1)
    weight_SI = rank ** -spec.zipf * np.exp(spec.liked_tilt * liked_SI)
    cdf = np.cumsum(weight_SI, axis=1)
    return _World(genres, quality, share, liked, liked_SI, cdf / cdf[:, -1:])


def _blocks(spec: SynthSpec, world: _World, rng: np.random.Generator) -> Iterator[tuple[pd.DataFrame, np.ndarray,
                                                                                        np.ndarray]]:
    """Rows (user, item, rating, timestamp) of each block of users, with the users' segments and session lengths."""
    for first in range(0, spec.n_users, BLOCK_USERS):
        b = min(BLOCK_USERS, spec.n_users - first)
        seg_U = rng.choice(spec.n_segments, size=b, p=world.share_S)
        n_sessions_U = 1 + rng.poisson(spec.sessions_per_user - 1, b)
        user_X = np.repeat(np.arange(b), n_sessions_U)  # X: sessions
        length_X = 1 + rng.poisson(rng.gamma(2.0, (spec.session_mean - 1) / 2.0, user_X.size))
        # session starts: a random first day, then hours to days after the previous session ends
        step_R = rng.uniform(20, 240, length_X.sum())
        first_row_X = np.cumsum(length_X) - length_X
        duration_X = np.add.reduceat(step_R, first_row_X)
        first_X = np.r_[True, user_X[1:] != user_X[:-1]]
        inc_X = np.where(first_X, rng.uniform(0, 730 * DAY, user_X.size),
                         np.r_[0.0, duration_X[:-1]] + 3 * 3600 + rng.exponential(2 * DAY, user_X.size))
        cum_X = np.cumsum(inc_X)
        start_X = cum_X - np.maximum.accumulate(np.where(first_X, cum_X - inc_X, 0.0))
        within_R = np.cumsum(step_R) - np.repeat(np.cumsum(step_R)[first_row_X] - step_R[first_row_X], length_X)
        user_R = np.repeat(user_X, length_X)
        seg_R = seg_U[user_R]
        item_R = np.empty(user_R.size, dtype=np.int64)
        u = rng.random(user_R.size)
        for s in range(spec.n_segments):
            rows = seg_R == s
            item_R[rows] = np.searchsorted(world.cdf_SI[s], u[rows])
        noise = rng.normal(0.0, 0.7, user_R.size)
        rating_R = np.clip(np.round(world.quality_I[item_R] + 1.2 * world.liked_SI[seg_R, item_R] - 0.4 + noise), 1, 5)
        time_R = 880_000_000 + np.repeat(start_X, length_X) + within_R
        frame = pd.DataFrame({"user": first + user_R + 1, "item": item_R + 1, "rating": rating_R.astype(np.int64),
                              "timestamp": time_R.astype(np.int64)})
        yield frame, seg_U, length_X


def write_log(spec: SynthSpec, folder: str | Path, layout: str = "ml-100k") -> tuple[Path, Path | None, SynthTruth]:
    """Write a log in ``layout`` under ``folder``: (ratings file, item file or None, the truth)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    world = _world(spec, rng)
    ratings, items = {"ml-100k": ("u.data", "u.item"), "ml-latest": ("ratings.csv", "movies.csv"),
                      "csv": ("events.csv", None), "parquet": ("events.parquet", None)}[layout]
    path = folder / ratings
    segments, lengths, n_rows, frames = [], [], 0, []
    path.unlink(missing_ok=True)
    for frame, seg_U, length_X in _blocks(spec, world, rng):
        segments.append(seg_U)
        lengths.append(length_X)
        n_rows += len(frame)
        if layout == "parquet":
            frames.append(_generic(frame, world, spec))
        else:
            _append(frame, path, layout, world, spec)
    if frames:
        pd.concat(frames).to_parquet(path, index=False)
    if items:
        _write_items(folder / items, layout, world, spec)
    truth = SynthTruth(spec, n_rows, np.concatenate(segments), world.liked_SG, world.genres_IG,
                       np.concatenate(lengths))
    return path, folder / items if items else None, truth


def _append(frame: pd.DataFrame, path: Path, layout: str, world: _World, spec: SynthSpec) -> None:
    header = not path.exists()
    if layout == "ml-100k":
        frame.to_csv(path, sep="\t", header=False, index=False, mode="a")
    elif layout == "ml-latest":
        frame.assign(rating=frame["rating"].astype(float)).rename(
            columns={"user": "userId", "item": "movieId"}).to_csv(path, index=False, mode="a", header=header)
    else:
        _generic(frame, world, spec).to_csv(path, sep=";", index=False, mode="a", header=header)


def _generic(frame: pd.DataFrame, world: _World, spec: SynthSpec) -> pd.DataFrame:
    """Mapped columns with text ids, ISO dates and the item's genres inline."""
    genres = np.array(_genre_strings(world, spec), dtype=object)
    return pd.DataFrame({
        GENERIC_COLUMNS["user"]: "u" + frame["user"].astype(str),
        GENERIC_COLUMNS["item"]: "sku-" + frame["item"].astype(str),
        GENERIC_COLUMNS["rating"]: frame["rating"],
        GENERIC_COLUMNS["timestamp"]: pd.to_datetime(frame["timestamp"], unit="s", utc=True).dt.strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
        GENERIC_COLUMNS["category"]: genres[frame["item"].to_numpy() - 1],
    })


def _genre_strings(world: _World, spec: SynthSpec) -> list[str]:
    names = spec.genre_names
    return ["|".join(names[j] for j in np.flatnonzero(row)) for row in world.genres_IG]


def _write_items(path: Path, layout: str, world: _World, spec: SynthSpec) -> None:
    n = spec.n_items
    if layout == "ml-100k":  # 19 flags, the first ('unknown') never set; latin-1 titles
        flags = np.zeros((n, len(ML100K_GENRES)), dtype=int)
        flags[:, 1:1 + spec.n_genres] = world.genres_IG
        lines = [f"{i + 1}|Film {i + 1} (Amélie cut) (1995)|01-Jan-1995||http://example.org/{i + 1}|"
                 + "|".join(map(str, row)) for i, row in enumerate(flags)]
        path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    else:  # titles with commas and quotes, as movies.csv has them
        pd.DataFrame({"movieId": np.arange(1, n + 1), "title": [f'Film {i + 1}, The "Cut" (1995)' for i in range(n)],
                      "genres": _genre_strings(world, spec)}).to_csv(path, index=False)
