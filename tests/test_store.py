"""The run store and run files: exact round trips, hostile files refused, concurrent and crashed saves."""
import hashlib
import io
import json
import multiprocessing
import os
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import torch

import core.runs.store as store_module
from core.cli.main import main
from core.engine.config import TrainConfig
from core.engine.events import MethodResult
from core.engine.families import make_family
from core.engine.training import compare
from core.results import pooled_rows
from core.runs import runfile
from core.runs.runfile import RunFileError, SavedRun, from_bytes, library_versions, to_bytes
from core.runs.store import (MEMORY, RunStore, StoreError, default_path, load_run, open_store,
                             save_results, save_run)
from core.runspec import RunSpec
from core.settings import SettingError

CFG = TrainConfig(iterations=4, test_tasks=6, val_tasks=4, checkpoints=1, eval_steps=(0, 1, 3))


def settings_of(family, cfg, methods, seeds):
    return {"family": family.name, "family_settings": family.as_dict(), "methods": list(methods),
            "train": {k: v for k, v in cfg.as_dict().items() if k != "seed"}, "seeds": list(seeds)}


@pytest.fixture(scope="module")
def run() -> SavedRun:
    family, methods, seeds = make_family("clusters"), ["maml", "scratch"], [0, 1]
    results = [e for e in compare(family, methods, CFG, seeds) if isinstance(e, MethodResult)]
    return SavedRun("tiny", "2026-01-01T00:00:00+00:00", settings_of(family, CFG, methods, seeds),
                    library_versions(), results)


def assert_same_results(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert (ra.method, ra.seed, ra.seconds, ra.diverged) == (rb.method, rb.seed, rb.seconds, rb.diverged)
        assert ra.params.keys() == rb.params.keys() and ra.scores.keys() == rb.scores.keys()
        for group_a, group_b in ((ra.params, rb.params), (ra.scores, rb.scores)):
            for k in group_a:
                assert group_a[k].dtype == group_b[k].dtype and torch.equal(group_a[k], group_b[k])
        assert ra.history == rb.history
        assert ra.checkpoints == rb.checkpoints


def test_store_round_trip_is_exact_and_seeds_still_pool(run):
    store = RunStore()
    assert store.save(run) == "tiny"
    back = store.load("tiny")
    assert (back.name, back.created, back.settings, back.versions) == \
        (run.name, run.created, run.settings, run.versions)
    assert_same_results(run.results, back.results)
    assert back.results[0].checkpoints and back.results[0].history  # maml trained
    assert pooled_rows(back.results, CFG.eval_steps) == pooled_rows(run.results, CFG.eval_steps)
    assert pooled_rows(back.results, CFG.eval_steps)[0]["n_tasks"] == 12  # two seeds × 6 tasks


def test_save_run_and_load_run_give_back_the_spec(run):
    store = RunStore()
    spec = run.spec()
    assert spec.as_dict() == run.settings and spec.seeds == (0, 1) and spec.config == CFG
    name = save_run(store, spec, run.results)
    assert name.startswith("clusters-20")
    back_spec, back_results = load_run(store, name)
    assert back_spec == spec
    assert_same_results(run.results, back_results)


def test_file_round_trip_and_half_precision_parameters(run):
    assert_same_results(run.results, from_bytes(to_bytes(run)).results)
    small = from_bytes(to_bytes(run, params_dtype=torch.float16))
    for ra, rb in zip(run.results, small.results):
        for k, v in ra.params.items():
            assert rb.params[k].dtype == torch.float32
            assert torch.allclose(rb.params[k], v, rtol=1e-3, atol=1e-4)
            assert not torch.equal(rb.params[k], v) or v.abs().max() == 0
        assert torch.equal(ra.scores["loss"], rb.scores["loss"])  # only parameters shrink


def test_names_listing_rename_delete(run):
    store = RunStore()
    assert [store.save(run) for _ in range(3)] == ["tiny", "tiny (2)", "tiny (3)"]
    (first, *_) = store.runs()
    assert (first.family, first.methods, first.iterations, first.seeds) == \
        ("clusters", ("maml", "scratch"), 4, (0, 1))
    assert first.line().startswith("tiny  clusters  maml,scratch  4 iterations × 2 seeds  2026-01-01")
    assert store.rename("tiny (2)", " other ") == "other"
    with pytest.raises(StoreError, match="already exists"):
        store.rename("other", "tiny")
    with pytest.raises(StoreError, match="printable"):
        store.rename("other", "a\nb")
    store.delete("tiny")
    with pytest.raises(StoreError, match="no run named 'tiny'"):
        store.load("tiny")
    assert store.names() == ["other", "tiny (3)"]


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.setenv("META_LAB_HOME", str(tmp_path / "lab"))
    assert default_path() == tmp_path / "lab" / "runs.sqlite"
    monkeypatch.delenv("META_LAB_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "meta-lab" / "runs.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path() == tmp_path / ".local" / "share" / "meta-lab" / "runs.sqlite"


# --- hostile run files: one sentence, nothing changed ---------------------------------------

def rezip(data: bytes, manifest=None, entries=None, fix_checksum=True) -> bytes:
    """The file with its manifest and/or raw entries changed."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    if manifest:
        files["manifest.json"] = json.dumps(manifest(json.loads(files["manifest.json"]))).encode()
    if entries:
        entries(files)
    if fix_checksum:
        files["manifest.sha256"] = hashlib.sha256(files["manifest.json"]).hexdigest().encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)
    return out.getvalue()


def edit(path, value):
    def change(m):
        node = m
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return m
    return change


def tensors_of(files):
    return safetensors.numpy.load(files["tensors.safetensors"])


def flip_tensor(files):
    arrays = tensors_of(files)
    raw = bytearray(arrays["t0"].tobytes())
    raw[0] ^= 1
    arrays["t0"] = np.frombuffer(bytes(raw), arrays["t0"].dtype).reshape(arrays["t0"].shape)
    files["tensors.safetensors"] = safetensors.numpy.save(arrays)


def drop_tensor(files):
    arrays = tensors_of(files)
    del arrays["t1"]
    files["tensors.safetensors"] = safetensors.numpy.save(arrays)


def first_result(m):
    return m["results"][0]["fields"]


HOSTILE = {
    "not a zip": (lambda d: b"hello, world", "truncated or damaged"),
    "truncated": (lambda d: d[: len(d) // 2], "truncated or damaged"),
    "newer schema": (lambda d: rezip(d, edit(["schema"], 2)), "schema version 2"),
    "other format": (lambda d: rezip(d, edit(["format"], "x")), "not a meta-lab run file"),
    "manifest edited, checksum kept": (lambda d: rezip(d, edit(["name"], "evil"), fix_checksum=False),
                                       "manifest does not match its checksum"),
    "tensor bytes edited": (lambda d: rezip(d, entries=flip_tensor), "does not match its checksum"),
    "pickle smuggled in": (lambda d: rezip(d, entries=lambda f: f.update({"data.pkl": b"\x80\x04."})),
                           "entries its manifest does not list"),
    "tensor missing": (lambda d: rezip(d, entries=drop_tensor),
                       "tensors its manifest does not list, or lacks some"),
    "tensors damaged": (lambda d: rezip(d, entries=lambda f: f.update(
        {"tensors.safetensors": f["tensors.safetensors"][:-5]})), "tensors are damaged"),
    "raw entry beside safetensors": (lambda d: rezip(d, entries=lambda f: f.update(
        {"tensors/t0.bin": b"\0" * 4})), "entries its manifest does not list"),
    "object dtype": (lambda d: rezip(d, edit(["tensors", "t0", "dtype"], "object")), "unknown dtype"),
    "shape lies": (lambda d: rezip(d, edit(["tensors", "t0", "shape"], [10**9, 10**9])), "bytes"),
    "unknown family": (lambda d: rezip(d, edit(["settings", "family"], "nope")), "settings are invalid"),
    "setting out of range": (lambda d: rezip(d, edit(["settings", "train", "iterations"], -1)),
                             "iterations must be"),
    "data path probed": (lambda d: rezip(d, edit(["settings", "family_settings", "ways"], 10**9)),
                         "ways must be"),
    "foreign method": (lambda d: rezip(d, edit(["settings", "methods"], ["os.system"])),
                       "selection of"),
    "result outside settings": (lambda d: rezip(d, lambda m: edit(["seed"], 7)(first_result(m)) and m),
                                "not in the run's settings"),
    "wrong field type": (lambda d: rezip(d, lambda m: edit(["seconds"], "soon")(first_result(m)) and m),
                         "invalid seconds"),
    "unknown class": (lambda d: rezip(d, edit(["results", 0, "type"], "Popen")), "unknown form"),
    "deep nesting": (lambda d: rezip(d, entries=lambda f: f.update(
        {"manifest.json": b"[" * 100_000 + b"]" * 100_000})), "not valid JSON"),
}


LEGACY = Path(__file__).parent / "data" / "legacy-raw-tensors.metarun"


def test_files_of_the_raw_tensor_format_still_load_and_convert_unchanged():
    """tests/data holds a file written before safetensors (one raw array per zip entry)."""
    data = LEGACY.read_bytes()
    assert any(n.startswith("tensors/") for n in zipfile.ZipFile(io.BytesIO(data)).namelist())
    old = from_bytes(data)
    assert old.name == "legacy" and {r.method for r in old.results} == {"maml", "scratch"}
    assert old.results[0].params["w0"].dtype == torch.float32  # stored as float16, restored
    converted = runfile.container(*runfile.read_container(data))
    assert "tensors.safetensors" in zipfile.ZipFile(io.BytesIO(converted)).namelist()
    assert_same_results(old.results, from_bytes(converted).results)
    assert runfile.read_container(converted)[1] == runfile.read_container(data)[1]  # same bytes


def test_a_raw_tensor_file_with_an_edited_tensor_is_refused():
    def flip(files):
        files["tensors/t0.bin"] = bytes([files["tensors/t0.bin"][0] ^ 1]) + files["tensors/t0.bin"][1:]
    with pytest.raises(RunFileError, match="does not match its checksum"):
        from_bytes(rezip(LEGACY.read_bytes(), entries=flip))


def test_the_tensors_are_a_safetensors_file_other_tools_read(run):
    with zipfile.ZipFile(io.BytesIO(to_bytes(run))) as zf:
        assert sorted(zf.namelist()) == ["manifest.json", "manifest.sha256", "tensors.safetensors"]
        manifest = json.loads(zf.read("manifest.json"))
        arrays = safetensors.numpy.load(zf.read("tensors.safetensors"))
    assert set(arrays) == set(manifest["tensors"])
    for key, array in arrays.items():
        assert list(array.shape) == manifest["tensors"][key]["shape"]
        assert hashlib.sha256(array.tobytes()).hexdigest() == manifest["tensors"][key]["sha256"]


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_get_one_sentence_and_change_nothing(run, case):
    store = RunStore()
    store.save(run, params_dtype=None)
    make, message = HOSTILE[case]
    with pytest.raises(RunFileError, match=message) as err:
        store.import_bytes(make(to_bytes(run)))
    assert "\n" not in str(err.value)
    assert store.names() == ["tiny"]


def test_oversized_files_and_zip_bombs_are_refused_unread(run, monkeypatch):
    with pytest.raises(RunFileError, match="larger than the 50 MB"):
        from_bytes(b"\0" * (50 * 2**20 + 1))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", b"\0" * (8 * 2**20))  # 8 MB of zeros pack into ~8 kB
    monkeypatch.setattr(runfile, "MAX_UNPACKED_BYTES", 2**20)
    assert len(bomb.getvalue()) < 2**16
    with pytest.raises(RunFileError, match="unpacks to more than"):
        from_bytes(bomb.getvalue())


# --- faults -------------------------------------------------------------------------------------

def _save_many(path, tag, count):
    torch.set_num_threads(1)
    store = RunStore(path)
    family = make_family("sinusoid")
    cfg = TrainConfig(iterations=0, test_tasks=3, val_tasks=2, checkpoints=0, eval_steps=(0, 1))
    results = [e for e in compare(family, ["scratch"], cfg) if isinstance(e, MethodResult)]
    for i in range(count):
        save_results(store, settings_of(family, cfg, ["scratch"], [0]), results, "same")
        save_results(store, settings_of(family, cfg, ["scratch"], [0]), results, f"{tag}-{i}")


def test_two_processes_saving_at_once_lose_nothing(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_save_many, args=(path, tag, 8)) for tag in "ab"]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    names = RunStore(path).names()
    assert len(names) == 32 and len(set(names)) == 32
    assert {f"{t}-{i}" for t in "ab" for i in range(8)} <= set(names)
    assert {"same"} | {f"same ({i})" for i in range(2, 17)} <= set(names)


class _DiesHalfway(dict):
    """Tensor bytes whose iteration ends the process after two rows were inserted."""

    def items(self):
        for i, item in enumerate(super().items()):
            if i == 2:
                os._exit(3)
            yield item


def _crash_while_saving(path, run):
    real_encode = store_module.encode
    store_module.encode = lambda r, d=None: (lambda m, b: (m, _DiesHalfway(b)))(*real_encode(r, d))
    RunStore(path).save(run)


def test_a_crash_mid_save_leaves_no_half_written_run(run, tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).save(run)
    worker = multiprocessing.get_context("fork").Process(target=_crash_while_saving, args=(path, run))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 3
    store = RunStore(path)
    assert store.names() == ["tiny"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(DISTINCT run_id) FROM tensors").fetchone()[0] == 1
    assert store.save(run) == "tiny (2)"
    assert_same_results(run.results, store.load("tiny (2)").results)


def test_settings_that_could_not_be_read_back_are_not_saved(run):
    store = RunStore()
    bad = SavedRun("bad", run.created, {**run.settings, "family": "nope"}, run.versions, run.results)
    with pytest.raises(RunFileError, match="settings are invalid"):
        store.save(bad)
    assert store.names() == []


@pytest.mark.parametrize("change, words", [
    ({"methods": ["magic"]}, "methods must be a selection"), ({"seeds": [True]}, "seeds must be"),
    ({"train": {"no_such_setting": 1}}, "no_such_setting"), ({"extra": 1}, "nothing else")])
def test_a_sweep_cell_and_a_run_file_refuse_the_same_settings_in_the_same_words(run, change,
                                                                                words):
    settings = {**run.settings, **change}
    with pytest.raises(SettingError, match=words):
        RunSpec.from_dict(settings)  # how a sweep cell reads its settings
    with pytest.raises(RunFileError, match=words):
        runfile.run_spec(settings)  # how a run file's are read


class _FailsHalfway(dict):
    """Tensor bytes whose iteration raises after two rows were inserted."""

    def items(self):
        for i, item in enumerate(super().items()):
            if i == 2:
                raise RuntimeError("disk full")
            yield item


def test_an_error_mid_save_rolls_back(run, monkeypatch):
    store = RunStore()
    real_encode = store_module.encode
    monkeypatch.setattr(store_module, "encode",
                        lambda r, d=None: (lambda m, b: (m, _FailsHalfway(b)))(*real_encode(r, d)))
    with pytest.raises(RuntimeError, match="disk full"):
        store.save(run)
    monkeypatch.undo()
    assert store.names() == []
    with store._read() as db:
        assert db.execute("SELECT count(*) FROM tensors").fetchone()[0] == 0
    assert store.save(run) == "tiny"


def test_corrupt_database_falls_back_to_memory(tmp_path, run):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not sqlite " * 500)
    with pytest.raises(StoreError, match="damaged or not a run store"):
        RunStore(path)
    store, warning = open_store(path)
    assert store.in_memory and "damaged or not a run store" in warning and warning.endswith(".")
    assert store.save(run) == "tiny" and store.names() == ["tiny"]
    assert path.read_bytes().startswith(b"this is not sqlite")  # left as it was


def test_locked_database_falls_back_to_memory(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another program"):
            RunStore(path, timeout=0.1)
        store, warning = open_store(path, timeout=0.1)
        assert store.in_memory and "locked" in warning
    finally:
        holder.execute("ROLLBACK")
    assert RunStore(path, timeout=0.1).names() == []


def test_other_sqlite_files_and_newer_schemas_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a run store"):
        RunStore(other)
    newer = tmp_path / "newer.sqlite"
    RunStore(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 9")
    with pytest.raises(StoreError, match="schema version 9"):
        RunStore(newer)
    assert RunStore(MEMORY).in_memory


# --- the command line -------------------------------------------------------------------------

def test_cli_round_trip_list_export_import_show(tmp_path, capsys):
    first, second, file = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "tiny.metarun"
    assert main(["compare", "--family", "sinusoid", "--methods", "maml,scratch", "--iterations", "3",
                 "--test-tasks", "5", "--val-tasks", "3", "--checkpoints", "1", "--seed", "0,1",
                 "--quiet", "--save", "--name", "tiny run", "--store", str(first)]) == 0
    table = capsys.readouterr().out.split("saved as")[0].strip()
    assert main(["runs", "list", "--store", str(first)]) == 0
    assert capsys.readouterr().out.startswith("tiny run  sinusoid  maml,scratch  3 iterations × 2 seeds")
    assert main(["runs", "export", "tiny run", "--out", str(file), "--store", str(first)]) == 0
    assert main(["runs", "import", str(file), "--store", str(second)]) == 0
    capsys.readouterr()
    assert main(["runs", "show", "tiny run", "--store", str(first)]) == 0
    shown_first = capsys.readouterr().out
    assert main(["runs", "show", "tiny run", "--store", str(second)]) == 0
    assert capsys.readouterr().out == shown_first
    assert table in shown_first  # the numbers compare printed, unchanged after two moves
    assert_same_results(RunStore(first).load("tiny run").results,
                        RunStore(second).load("tiny run").results)
    file.write_bytes(file.read_bytes()[:-40])
    assert main(["runs", "import", str(file), "--store", str(second)]) == 2
    assert "error: the run file is truncated or damaged" in capsys.readouterr().err
    assert main(["runs", "delete", "tiny run", "--store", str(second)]) == 0
    assert RunStore(second).names() == []


def test_cli_bad_store_fails_before_training(tmp_path, capsys):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"x" * 4096)
    assert main(["compare", "--iterations", "100000", "--save", "--store", str(bad)]) == 2
    assert "damaged or not a run store" in capsys.readouterr().err
