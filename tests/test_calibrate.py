"""Calibration from MovieLens-format logs: every layout read in chunks, bad files named in one line, the fit
checked against the truth of a generated log, and the fitted scenario saved, loaded, used by --config, trained."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from dqn_sim import cli
from dqn_sim.assembly import assemble
from dqn_sim.calibrate import readers
from dqn_sim.calibrate.cli import add_parser
from dqn_sim.calibrate.errors import DataError
from dqn_sim.calibrate.fit import FitOptions
from dqn_sim.calibrate.layouts import parse_mapping
from dqn_sim.calibrate.pipeline import calibrate
from dqn_sim.calibrate.readers import read_interactions
from dqn_sim.calibrate.synth import GENERIC_COLUMNS, LAYOUTS, SynthSpec, write_log
from dqn_sim.config import AgentConfig, ConfigError, ScenarioConfig, TrainConfig
from dqn_sim.scenarios import ScenarioLibrary
from dqn_sim.train.trainer import Trainer

SMALL = SynthSpec(n_ratings=4000, n_items=120, n_genres=8, n_segments=2, seed=3)
GENERIC_MAP = {"user": GENERIC_COLUMNS["user"], "timestamp": GENERIC_COLUMNS["timestamp"]}
# tolerances a fit of the 100k-row generated log must meet
ZIPF_TOLERANCE = 0.05
SESSION_MEAN_TOLERANCE = 0.05  # relative, simulated sessions of the fitted world vs the truth
MAX_DISTANCE = {"popularity": 0.05, "genre_mix": 0.05, "session_length": 0.1, "segment_affinity": 0.1,
                "click_rate": 0.02}


def _mapping(layout: str) -> dict[str, str] | None:
    return GENERIC_MAP if layout in ("csv", "parquet") else None


# ------------------------------------------------------------------ reading
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_is_read_with_its_genres(layout, tmp_path):
    ratings, items, truth = write_log(SMALL, tmp_path, layout)
    data = read_interactions(ratings, items, mapping=_mapping(layout))
    assert data.format == layout
    assert data.n_ratings == truth.n_ratings and data.n_users == SMALL.n_users
    assert set(data.items.genre_names) >= set(SMALL.genre_names)
    assert set(np.unique(data.rating_R)) <= {1, 2, 3, 4, 5} and (np.diff(data.time_R[:5]) > 0).all()
    # each item's genres as the generator drew them, whatever the layout's item order and id type
    ids = [int(str(i).removeprefix("sku-")) - 1 for i in data.items.ids]
    columns = [data.items.genre_names.index(g) for g in SMALL.genre_names]
    np.testing.assert_array_equal(data.items.genres_IG[:, columns], truth.genres_IG[ids])


def test_chunked_reading_gives_the_same_arrays(tmp_path, monkeypatch):
    ratings, items, _ = write_log(SMALL, tmp_path, "ml-latest")
    whole = read_interactions(ratings, items)
    monkeypatch.setattr(readers, "CHUNK_ROWS", 333)
    seen = []
    chunked = read_interactions(ratings, items, progress=seen.append)
    assert len(seen) == -(-whole.n_ratings // 333) and seen[-1] == 1.0
    for name in ("user_R", "item_R", "rating_R", "time_R"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(chunked, name))


def _ml100k(folder: Path, lines: list[str], items: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.item").write_bytes("".join(
        f"{i}|Film {i} (1995)|01-Jan-1995||http://x|0|1|" + "|".join("0" * 17) + "\n" for i in range(1, items + 1)
    ).encode("latin-1"))
    path = folder / "u.data"
    path.write_text("".join(line + "\n" for line in lines))
    return path


GOOD = ["1\t1\t5\t880000000", "1\t2\t3\t880000060"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], r"u.data: empty file$"),
        (["1,1,5,880000000"], r"u.data:1: expected 4 tab-separated fields .* found 1 \(wrong delimiter\? the line has "
                              r"commas\)$"),
        ([*GOOD, "2\t3\tfive\t880000000"], r"u.data:3: rating 'five' is not a number$"),
        ([*GOOD, "2\t9\t4\t880000000"], r"u.data:3: item 9 is not in .*u.item$"),
        ([*GOOD, "2\t3\t4"], r"u.data:3: missing timestamp"),
        ([*GOOD, "2\t3\t4\tyesterday"], r"u.data:3: timestamp 'yesterday' is not a number$"),
    ],
)
def test_bad_files_raise_one_line_naming_file_and_line(tmp_path, lines, message):
    path = _ml100k(tmp_path, lines)
    with pytest.raises(DataError, match=message) as info:
        read_interactions(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(path))


@pytest.mark.parametrize(("name", "header", "mapping"), [
    ("ratings.csv", "userId,movieId,rating,timestamp", None),
    ("log.csv", "member;sku;stars;when", "user=member,item=sku,rating=stars,timestamp=when"),
])
def test_a_header_only_file_is_one_error_and_no_warning(tmp_path, name, header, mapping):
    """A header and no rows once printed numpy's 'Mean of empty slice' warnings above the CLI's one line."""
    path = tmp_path / name
    path.write_text(header + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"ratings.csv: no interactions \(only a header\?\)$|log.csv: no inter"):
            read_interactions(path, mapping=mapping)


def test_a_2gb_line_fails_fast_naming_its_line(tmp_path):
    path = _ml100k(tmp_path, GOOD)
    with path.open("r+b") as f:  # a sparse 2 GiB line of zero bytes: no disk space, no memory needed
        f.truncate(2 << 30)
    with pytest.raises(DataError, match=r"u.data:3: line longer than 1024 KiB"):
        read_interactions(path)


def test_generic_csv_missing_columns_and_bad_mapping(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("who;what;when\na;b;2020-01-01T00:00:00Z\n")
    with pytest.raises(DataError, match=r"log.csv:1: missing column for user, item, timestamp, rating \(or click\); "
                                        r"found: who, what, when; name them with --map"):
        read_interactions(path)
    mapped = "user=who,item=what,timestamp=when,click=what"
    with pytest.raises(DataError, match=r"log.csv:2: click 'b' is not a number$"):
        read_interactions(path, mapping=mapped)
    with pytest.raises(DataError, match=r"log.csv:1: missing column 'nope' \(--map user=...\)"):
        read_interactions(path, mapping="user=nope")
    with pytest.raises(ValueError, match="--map expects ROLE=COLUMN pairs"):
        read_interactions(path, mapping="person=who")


def test_generic_click_log_with_its_categories_in_a_mapped_item_file(tmp_path):
    """A click column instead of ratings, and the categories in an item file named by --map category=COL: the
    ratings file was refused for lacking the item file's column ('missing column 'kind' (--map category=...)')."""
    import pandas as pd

    ratings, _, truth = write_log(SMALL, tmp_path, "csv")
    log = pd.read_csv(ratings, sep=";")
    log.assign(clicked=(log["stars"] >= 4).astype(int)).drop(columns=["stars", "genre"]).to_csv(
        tmp_path / "clicks.csv", index=False)
    log[["sku", "genre"]].drop_duplicates("sku").rename(columns={"genre": "kind"}).to_csv(
        tmp_path / "catalogue.csv", index=False)
    mapping = "user=member,item=sku,timestamp=when,click=clicked,category=kind"
    data = read_interactions(tmp_path / "clicks.csv", tmp_path / "catalogue.csv", mapping=mapping)
    assert data.rating_R is None and data.click_R.mean() == pytest.approx((log["stars"] >= 4).mean())
    assert data.n_ratings == truth.n_ratings and set(data.items.genre_names) == set(SMALL.genre_names)
    result = calibrate(tmp_path / "clicks.csv", tmp_path / "catalogue.csv", mapping=parse_mapping(mapping),
                       options=FitOptions(segments=2, name="clicks"))
    assert set(result.scenario.catalogue.topic_names) == set(SMALL.genre_names)
    assert set(result.summary()["fit"]) == set(MAX_DISTANCE)
    # a mapped category column in neither file is named in the item file's error
    with pytest.raises(DataError, match=r"catalogue.csv:1: missing item id or category column; found: sku, kind"):
        read_interactions(tmp_path / "clicks.csv", tmp_path / "catalogue.csv", mapping=mapping.replace("=kind", "=k"))


def test_a_broken_parquet_item_file_is_named(tmp_path):
    """pyarrow's error named no file ('error: Parquet file size is 7 bytes, ...')."""
    ratings, _, _ = write_log(SMALL, tmp_path, "csv")
    (tmp_path / "items.parquet").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"items.parquet: not a Parquet file \(Parquet file size is 7 bytes"):
        read_interactions(ratings, tmp_path / "items.parquet", mapping=GENERIC_MAP)


def test_ratings_csv_with_a_wrong_delimiter_is_named(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId;movieId;rating;timestamp\n1;1;4;880000000\n")
    with pytest.raises(DataError, match=r"ratings.csv:1: missing column .*wrong delimiter\? the line has semicolons"):
        read_interactions(path, fmt="ml-latest")


# ------------------------------------------------------------------ fitting against the truth
@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A 100k-row generated log (4 segments, Zipf 1, sessions of mean 8) and its calibration."""
    spec = SynthSpec(n_ratings=100_000)
    ratings, items, truth = write_log(spec, tmp_path_factory.mktemp("ml100k"), "ml-100k")
    return truth, calibrate(ratings, items, options=FitOptions(name="generated"))


def test_fit_recovers_zipf_segments_and_sessions(fitted):
    truth, result = fitted
    scenario, spec = result.scenario, truth.spec
    assert abs(scenario.catalogue.popularity_zipf - spec.zipf) <= ZIPF_TOLERANCE
    assert result.fit.suggested_segments == spec.n_segments == scenario.audience.n_segments
    liked = {frozenset(np.array(spec.genre_names)[row]) for row in truth.liked_SG}
    assert {frozenset(name.split(" & ")) for name in scenario.audience.segment_names} == liked
    np.testing.assert_allclose(sorted(scenario.audience.segment_shares),
                               sorted(np.bincount(truth.segment_U) / truth.segment_U.size), atol=0.02)
    assert result.fit.profile.session_lengths.mean() == pytest.approx(truth.session_lengths.mean())
    simulated_mean = result.report["session_length"].note.split(" vs ")[1].split()[0]
    assert float(simulated_mean) == pytest.approx(spec.session_mean, rel=SESSION_MEAN_TOLERANCE)
    assert set(scenario.catalogue.topic_names) == set(spec.genre_names)


def test_report_distances_are_small_on_the_generated_log(fitted):
    _, result = fitted
    fit = result.summary()["fit"]
    assert set(fit) == set(MAX_DISTANCE)
    for quantity, limit in MAX_DISTANCE.items():
        assert fit[quantity]["distance"] <= limit, (quantity, fit[quantity])
        assert {"data", "sim", "distance"} <= set(fit[quantity])
    assert all(e.how for e in result.fit.explanations)


def test_fitted_scenario_validates_saves_loads_and_trains(fitted, tmp_path):
    _, result = fitted
    scenario = result.scenario
    assert ScenarioConfig.from_json(scenario.to_json()) == scenario
    library = ScenarioLibrary(tmp_path)
    library.save("movielens-like", scenario)
    loaded = library.load("movielens-like")
    assert loaded == scenario.with_overrides({"name": "movielens-like"})
    # what `train --config FILE` builds from the saved file is the fitted world
    assert assemble("video", json.loads(library.path("movielens-like").read_text())).scenario == loaded
    trainer = Trainer(loaded, AgentConfig(hidden_sizes=[32], batch_size=32),
                      TrainConfig(total_steps=512, n_envs=16, learning_starts=64, log_every=128, eval_every=10**9))
    while not trainer.done:
        trainer.step()
    assert trainer.updates > 0 and len(trainer.metrics) >= 4
    assert np.isfinite([m["loss"] for m in trainer.metrics[1:]]).all()


def test_fitted_tables_are_validated_like_every_knob():
    base = ScenarioConfig().with_overrides({"catalogue.n_items": 3, "catalogue.n_topics": 2})
    with pytest.raises(ConfigError, match=r"catalogue.item_quality_z\[1\] must be in \[-10, 10\], got 11.0"):
        base.with_overrides({"catalogue.item_quality_z": [0, 11, 0]})
    with pytest.raises(ConfigError, match=r"catalogue.item_topics\[1\] must name topics from topic_names"):
        base.with_overrides({"catalogue.topic_names": ["A", "B"], "catalogue.item_topics": ["A", "A|C", "B"]})
    with pytest.raises(ConfigError, match=r"audience.segment_profiles must be empty or 8 values"):
        base.with_overrides({"audience.segment_profiles": [0.1] * 7})
    with pytest.raises(ConfigError, match=r"catalogue.item_popularity_rank must hold ranks in \[1, 3\]"):
        base.with_overrides({"catalogue.item_popularity_rank": [1, 2, 4]})


# ------------------------------------------------------------------ command line
def _main(argv: list[str], monkeypatch) -> int:
    """``python -m dqn_sim`` with the calibrate command registered as the lead's one line in build_parser does."""
    build = cli.build_parser

    def with_calibrate() -> argparse.ArgumentParser:
        parser = build()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "calibrate" not in sub.choices:
            add_parser(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", with_calibrate)
    return cli.main(argv)


def test_cli_json_saves_the_scenario_by_name(tmp_path, monkeypatch, capsys, isolated_home):
    ratings, items, truth = write_log(SMALL, tmp_path / "log", "csv")
    argv = ["calibrate", "--ratings", str(ratings), "--map", "user=member,timestamp=when", "--segments", "2",
            "--name", "shop-log", "--json"]
    assert _main(argv, monkeypatch) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "shop-log" and out["n_ratings"] == truth.n_ratings and out["n_users"] == SMALL.n_users
    assert Path(out["scenario_path"]) == ScenarioLibrary(isolated_home).path("shop-log")
    assert ScenarioLibrary(isolated_home).load("shop-log").audience.n_segments == 2
    assert set(out["fit"]) == set(MAX_DISTANCE)
    # every fitted quantity, with its value and how it was fitted (the studio's table, in the report too)
    zipf = out["fitted"]["catalogue.popularity_zipf"]
    assert zipf["value"] and "Zipf" in zipf["how"] and len(out["fitted"]) >= 10


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--segments", "40"], "--segments must be an integer in [1, 32], got 40"),
        (["--map", "user"], "--map expects ROLE=COLUMN pairs"),
        (["--format", "xml"], "argument --format: invalid choice"),
        (["--name", "../x"], "scenario name must be"),
    ],
)
def test_cli_bad_options_exit_2_with_one_line(tmp_path, monkeypatch, capsys, extra, message):
    path = _ml100k(tmp_path, GOOD)
    argv = ["calibrate", "--ratings", str(path), "--name", "x", *extra]
    assert _main(argv, monkeypatch) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_bad_file_exits_2_naming_file_and_line(tmp_path, monkeypatch, capsys):
    path = _ml100k(tmp_path, [*GOOD, "2\t3\tfive\t880000000"])
    assert _main(["calibrate", "--ratings", str(path), "--name", "x"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}:3: rating 'five' is not a number\n"


# ------------------------------------------------------------------ studio section
def _calibration_page() -> None:
    from ui.calibration import calibration_section

    calibration_section()


def test_studio_section_calibrates_a_server_path_and_reports(tmp_path):
    from streamlit.testing.v1 import AppTest

    ratings, _, _ = write_log(SMALL, tmp_path, "ml-100k")
    at = AppTest.from_function(_calibration_page, default_timeout=60).run()
    at.radio(key="calibration:where").set_value("Path on the server").run()
    at.text_input(key="calibration:ratings_path").set_value(str(ratings)).run()
    at.text_input(key="calibration:name").set_value("studio-log").run()
    at.button(key="calibration:run").click().run()
    assert not at.exception and not at.error
    assert "Saved as **studio-log**" in at.success[0].value
    assert [m.value.split()[0] for m in at.metric] == ["KS", "TV", "KS", "TV", "TV"]
    assert "studio-log" in ScenarioLibrary().names()
    at.text_input(key="calibration:ratings_path").set_value(str(tmp_path / "missing.data")).run()
    at.button(key="calibration:run").click().run()
    assert at.error[0].value == f"{tmp_path / 'missing.data'}: no such file"


def test_studio_section_writes_an_upload_only_while_calibrating(tmp_path, monkeypatch):
    """An upload was written to a new /tmp folder on every rerun of the page (each widget change) and never removed:
    a 200 MB log left 200 MB behind per click. Now it is on disk only while Calibrate reads it."""
    import tempfile

    from streamlit.testing.v1 import AppTest

    ratings, items, _ = write_log(SMALL, tmp_path / "log", "ml-100k")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def left_behind() -> list[str]:
        return [p.name for p in scratch.iterdir() if p.name.startswith("dqn_sim_calibrate_")]

    at = AppTest.from_function(_calibration_page, default_timeout=60).run()
    at.file_uploader(key="calibration:ratings_upload").set_value(("u.data", ratings.read_bytes(), "text/plain")).run()
    at.file_uploader(key="calibration:items_upload").set_value(("u.item", items.read_bytes(), "text/plain")).run()
    at.text_input(key="calibration:name").set_value("uploaded-log").run()
    at.number_input(key="calibration:segments").set_value(2).run()
    assert left_behind() == []  # reruns write nothing
    at.button(key="calibration:run").click().run()
    assert not at.exception and not at.error
    assert "Saved as **uploaded-log**" in at.success[0].value and "2 segments" in at.success[0].value
    assert left_behind() == []
    # a ratings and an item upload of the same name are both kept: the items file does not overwrite the ratings
    at.file_uploader(key="calibration:items_upload").set_value(("u.data", items.read_bytes(), "text/plain")).run()
    at.button(key="calibration:run").click().run()
    assert not at.exception and not at.error and left_behind() == []
