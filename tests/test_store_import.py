"""Imports trust nothing (issue 15): every stored field is checked, members are read in bounded chunks, CSVs are
streamed and capped, and the run is written in short transactions."""

from __future__ import annotations

import json
import struct
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from dqn_sim.store import RunImportError, RunStore, StoreError, runs, transfer
from tests import test_store
from tests.test_store import counts, fill, new_run, rewrite

home, store = test_store.home, test_store.store  # the fixtures test_store's tests use


@pytest.fixture
def good(store: RunStore, tmp_path: Path) -> Path:
    run_id = new_run(store)
    fill(store, run_id)
    store.set_status(run_id, "finished")
    return store.export_zip(run_id, tmp_path / "good.zip")


def edited(src: Path, dst: Path, member: str, change) -> Path:
    """A copy of an export zip with one JSON member changed by ``change(obj)`` (which edits it in place)."""
    with zipfile.ZipFile(src) as zf:
        obj = json.loads(zf.read(member))
    change(obj)
    return rewrite(src, dst, put={member: json.dumps(obj)})


def with_csv(src: Path, dst: Path, member: str, text: str) -> Path:
    return rewrite(src, dst, put={member: text})


BAD_FIELDS = {  # case -> (make the zip from a good one, what the refusal says)
    "created far in the future": (lambda s, d: edited(s, d, "config.json", lambda c: c.update(created=1e300)),
                                  "config.json: created must be a Unix time between 2000 and 2100"),
    "created as text": (lambda s, d: edited(s, d, "config.json", lambda c: c.update(created="yesterday")),
                        "created must be a Unix time"),
    "seed beyond 64 bits": (lambda s, d: edited(s, d, "config.json", lambda c: c.update(seed=2**70)),
                            r"seed must be an integer in \[0, 2\*\*63\)"),
    "empty name": (lambda s, d: edited(s, d, "config.json", lambda c: c.update(name=" ")), "name must be"),
    "huge name": (lambda s, d: edited(s, d, "config.json", lambda c: c.update(name="x" * 5000)), "name must be"),
    "notes not text": (lambda s, d: edited(s, d, "config.json", lambda c: c.update(notes=[1])), "notes must be"),
    "agent not an object": (lambda s, d: edited(s, d, "config.json", lambda c: c.update(agent=5)),
                            "config.json: agent must be an object"),
    "deeply nested config": (lambda s, d: rewrite(s, d, put={"config.json": "[" * 100_000 + "]" * 100_000}),
                             "config.json is not valid JSON: nested too deeply"),
    "string return": (lambda s, d: edited(s, d, "summary.json", lambda m: m.update(dqn_return="high")),
                      "summary.json: summary.dqn_return must be a finite number"),
    "zero baseline return": (lambda s, d: edited(s, d, "summary.json", lambda m: m.update(best_baseline_return=0)),
                             "summary.best_baseline_return must be a finite number other than 0"),
    "null baseline return": (lambda s, d: edited(s, d, "summary.json", lambda m: m.update(best_baseline_return=None)),
                             "summary.best_baseline_return must be a finite number"),
    "numeric baseline name": (lambda s, d: edited(s, d, "summary.json", lambda m: m.update(best_baseline=5)),
                              "summary.best_baseline must be a name"),
    "reversed interval": (lambda s, d: edited(s, d, "summary.json", lambda m: m.update(dqn_return_ci=[2, 1])),
                          r"summary.dqn_return_ci must be an interval \[lo, hi\]"),
    "NaN in summary": (lambda s, d: rewrite(s, d, put={"summary.json": '{"dqn_return": NaN}'}),
                       "summary.dqn_return must be a finite number"),
    "summary of many keys": (lambda s, d: rewrite(s, d, put={"summary.json": json.dumps(
        {f"k{i}": i for i in range(1000)})}), "summary has 1000 keys"),
    "30-digit step": (lambda s, d: with_csv(s, d, "metrics.csv", "step,loss\n" + "9" * 30 + ",1\n"),
                      "metrics.csv: metrics row 0: step = '9999.*does not fit in 64 bits"),
    "policy missing": (lambda s, d: with_csv(s, d, "evals.csv", "step,policy,return_mean\n5,,1.0\n"),
                       "evals.csv: evals row 0: policy is required"),
    "interval reversed in a row": (lambda s, d: with_csv(s, d, "evals.csv", "step,policy,return_lo,return_hi\n"
                                                         "5,dqn,2.0,1.0\n"), "return_lo..return_hi is reversed"),
    "huge text cell": (lambda s, d: with_csv(s, d, "segments.csv", "policy,segment,segment_name\ndqn,0,"
                                             + "x" * 5000 + "\n"), "segment_name = .*at most 1000"),
    "one endless line": (lambda s, d: with_csv(s, d, "metrics.csv", "step," * 100_000 + "\n"),
                         "metrics.csv: a line longer than"),
}


@pytest.mark.parametrize("case", BAD_FIELDS)
def test_import_checks_every_field_it_stores(store: RunStore, good: Path, tmp_path: Path, case: str) -> None:
    make, reason = BAD_FIELDS[case]
    before = counts(store)
    with pytest.raises(RunImportError, match=reason):
        store.import_zip(make(good, tmp_path / "bad.zip"))
    assert counts(store) == before


def test_non_finite_cells_are_stored_as_empty(store: RunStore, good: Path, tmp_path: Path) -> None:
    bad = with_csv(good, tmp_path / "inf.zip", "metrics.csv", "step,loss,ctr\n1,inf,nan\n2,-inf,1e400\n")
    m = store.metrics(store.import_zip(bad))
    assert list(m["step"]) == [1, 2] and m[["loss", "ctr"]].isna().all().all()


def tiny_rows(src: Path, dst: Path, n: int) -> Path:
    """An export whose metrics.csv is ``n`` rows of one digit: ``2n`` bytes unzipped, about 1000 times less zipped."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for name in zin.namelist():
            zout.writestr(name, "step\n" + "0\n" * n if name == "metrics.csv" else zin.read(name))
    return dst


def refused_in_bounded_memory(store: RunStore, bad: Path, match: str) -> None:
    """Importing ``bad`` fails with ``match``, peaks under 5 MB of Python memory and leaves the store as it was."""
    before = counts(store)
    tracemalloc.start()
    try:
        with pytest.raises(RunImportError, match=match):
            store.import_zip(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024**2, f"{peak / 1024**2:.0f} MB"
    assert counts(store) == before


def test_rows_beyond_the_cap_are_refused_in_bounded_memory(store: RunStore, good: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "MAX_IMPORT_ROWS", 10_000)
    bad = tiny_rows(good, tmp_path / "tiny.zip", 300_000)
    assert bad.stat().st_size < 10_000
    refused_in_bounded_memory(store, bad, "metrics.csv: more than 10000 rows")


def lie_about_size(src: Path, dst: Path, member: str, size: int) -> Path:
    """A copy of a zip whose headers (local and central) say ``member`` holds ``size`` bytes uncompressed."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, size)  # local file header
    central = data.rfind(b"PK\x01\x02" + data[info.header_offset + 4:info.header_offset + 6])
    while data[central + 46:central + 46 + len(member)] != member.encode():
        central = data.rfind(b"PK\x01\x02", 0, central)
    struct.pack_into("<I", data, central + 24, size)
    dst.write_bytes(bytes(data))
    return dst


def test_a_member_is_read_in_chunks_whatever_its_header_says(store: RunStore, good: Path, tmp_path: Path) -> None:
    big = tiny_rows(good, tmp_path / "big.zip", 25_000_000)  # 50 MB of rows
    bad = lie_about_size(big, tmp_path / "liar.zip", "metrics.csv", 100)
    refused_in_bounded_memory(store, bad, "not a readable zip file")  # 100 bytes read: the CRC fails


def test_a_json_member_is_capped_as_it_is_read(store: RunStore, good: Path, tmp_path: Path) -> None:
    padded = json.dumps({"name": "x", "pad": " " * (transfer.MAX_JSON_BYTES + 1)})
    before = counts(store)
    with pytest.raises(RunImportError, match="too large: config.json holds more than 1048576 bytes"):
        store.import_zip(rewrite(good, tmp_path / "padded.zip", put={"config.json": padded}))
    assert counts(store) == before


def test_import_writes_in_short_transactions(store: RunStore, good: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "IMPORT_BATCH_ROWS", 5_000)
    n = 60_000
    rows = "step,loss\n" + "".join(f"{i},0.5\n" for i in range(n))
    big = rewrite(good, tmp_path / "big.zip", put={"metrics.csv": rows})
    begun: list[float] = []
    held: list[float] = []

    def trace(sql: str) -> None:
        if sql == "BEGIN IMMEDIATE":
            begun.append(time.perf_counter())
        elif sql in ("COMMIT", "ROLLBACK"):
            held.append(time.perf_counter() - begun[-1])

    other = RunStore(busy_timeout_s=2.0)  # a second writer (another process, say) keeps appending meanwhile
    theirs = new_run(other, "neighbour")
    stop, failures = threading.Event(), []

    def neighbour() -> None:
        step = 0
        while not stop.is_set():
            try:
                other.append_metrics(theirs, [{"step": step}])
            except StoreError as e:
                failures.append(e)
            step += 1
            time.sleep(0.005)

    thread = threading.Thread(target=neighbour)
    thread.start()
    store._con.set_trace_callback(trace)
    try:
        imported = store.import_zip(big)
    finally:
        store._con.set_trace_callback(None)
        stop.set()
        thread.join()
        other.close()
    assert len(store.metrics(imported)) == n
    assert len(held) >= n // 5_000 + 2  # the run, a transaction per batch, the end
    assert max(held) < 1.0, held
    assert failures == []
    run = store.get_run(imported)
    assert run["status"] == "finished" and run["error"] is None


def test_a_failed_write_removes_the_partial_run(store: RunStore, good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = counts(store)
    calls = []

    def failing_batches(self):
        for batch in original(self):
            calls.append(batch)
            if len(calls) > 1:
                raise StoreError("the run store is busy")
            yield batch

    original = transfer.ExportZip.batches
    monkeypatch.setattr(transfer.ExportZip, "batches", failing_batches)
    with pytest.raises(StoreError, match="busy"):
        store.import_zip(good)
    assert counts(store) == before  # the staged model is gone too


def test_an_import_in_progress_shows_as_such(store: RunStore, good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def peek(self):
        for batch in original(self):
            for run_id in store.list_runs().query("source == 'import'")["id"]:
                run = store.get_run(run_id)
                seen.append((run["status"], run["error"]))
            yield batch

    original = transfer.ExportZip.batches
    monkeypatch.setattr(transfer.ExportZip, "batches", peek)
    imported = store.import_zip(good)
    assert seen and set(seen) == {("interrupted", runs.IMPORTING)}
    run = store.get_run(imported)
    assert (run["status"], run["error"]) == ("finished", None)
