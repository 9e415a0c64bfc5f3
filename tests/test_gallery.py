"""The gallery: full-budget definitions, a resumable build equal to one compare, and its check."""
from dataclasses import replace
from pathlib import Path

import numpy as np

import pytest
import torch

from core.cli.main import main
from core.engine.algorithms import METHODS
from core.engine.events import MethodResult
from core.engine.families import FAMILIES
from core.engine.training import compare
from core.runs import gallery
from core.runs.runfile import from_bytes, to_bytes
from core.runs.store import RunStore
from core.scenarios.catalogue import SCENARIOS, SCENARIOS_BY_KEY, train_defaults
from core.settings import specs


def tiny(entry):
    return replace(entry, spec=replace(entry.spec, config=entry.spec.config.replace(
        iterations=4, test_tasks=7, val_tasks=3)))


@pytest.fixture
def entries(monkeypatch):
    small = [tiny(e) for e in gallery.entries() if e.key in ("maml-sinusoid", "permuted-labels")]
    monkeypatch.setattr(gallery, "entries", lambda omniglot_dir="": small)
    return small


def test_every_scenario_is_in_the_gallery_at_full_budget():
    by_key = {e.key: e for e in gallery.entries("/data")}
    assert list(by_key) == [s.key for s in SCENARIOS]
    for s in SCENARIOS:
        if s.key == gallery.OMNIGLOT_KEY:
            continue
        spec = by_key[s.key].spec
        assert spec.config.iterations == gallery.FULL_BUDGET[s.family]["iterations"]
        assert spec.as_dict() | {"train": None} == s.spec(0).as_dict() | {"train": None}
    omniglot = by_key[gallery.OMNIGLOT_KEY].spec
    interactive = SCENARIOS_BY_KEY[gallery.OMNIGLOT_KEY].spec()
    full, small = dict(omniglot.family_settings), dict(interactive.family_settings)
    assert full["data_dir"] == "/data"
    # A longer run, scored on the homework's 600 test tasks at least, at the family's step size.
    assert omniglot.config.iterations > interactive.config.iterations
    assert omniglot.config.test_tasks >= max(600, interactive.config.test_tasks)
    assert omniglot.config.inner_lr == train_defaults("omniglot")["inner_lr"]
    # The interactive scenario is the same task with a smaller model, images and query set; the
    # gallery's is the family's own (paper-sized) model and data, does not peek at the queries
    # (support statistics) and has every method.
    defaults = {s.name: s.default for s in specs(FAMILIES["omniglot"])}
    for name in ("channels", "image_size", "query"):
        assert full[name] == defaults[name] > small[name], name
    assert full["norm"] == "support"
    assert {k for k in full if full[k] != small[k]} <= {"channels", "image_size", "query", "norm", "data_dir", "download"}
    assert (full["ways"], full["shots"]) == (small["ways"], small["shots"])
    assert set(omniglot.methods) == set(METHODS)


def test_build_trains_method_by_method_exactly_like_one_compare(entries, tmp_path):
    entry = entries[0]
    gallery.build([entry], tmp_path, log=lambda line: None)
    built = gallery.load(entry.key, tmp_path)
    spec = entry.spec
    direct = [e for e in compare(spec.make_family(), spec.methods, spec.config, spec.seeds)
              if isinstance(e, MethodResult)]
    assert [r.method for r in built.results] == list(spec.methods)
    for a, b in zip(built.results, direct):
        for k in a.params:
            assert torch.equal(a.params[k], b.params[k])
        assert torch.equal(a.scores["loss"], b.scores["loss"])
    assert RunStore(tmp_path / ".build.sqlite").names() == []  # partial results cleared


def test_notes_name_changed_versions_and_claims_the_numbers_do_not_back(entries, tmp_path):
    gallery.build(entries[1:], tmp_path, log=lambda line: None)
    run = gallery.load("permuted-labels", tmp_path)
    run.versions["torch"] = "0.1"
    notes = gallery.notes(entries[1], run)
    assert notes[0] == f"torch 0.1 when trained, {torch.__version__} now"
    assert any(n.startswith("claim not backed: MAML after 1 steps beats") for n in notes[1:])


def test_methods_trained_for_another_entry_with_the_same_settings_are_reused(entries, tmp_path):
    first = entries[0]
    gallery.build([first], tmp_path, log=lambda line: None)
    subset = replace(first, key="subset", spec=replace(first.spec, methods=("maml", "pretrain")))
    lines = []
    gallery.build([subset], tmp_path, log=lines.append)
    assert lines[:2] == ["subset/maml: taken from maml-sinusoid.metarun (same settings)",
                         "subset/pretrain: taken from maml-sinusoid.metarun (same settings)"]
    full, part = gallery.load("maml-sinusoid", tmp_path), gallery.load("subset", tmp_path)
    assert [r.method for r in part.results] == ["maml", "pretrain"]
    for a, b in zip(part.results, [full.results[0], full.results[3]]):
        assert b.method == a.method and torch.equal(a.scores["loss"], b.scores["loss"])


def test_a_method_with_a_variant_is_built_reused_and_checked_whole(tmp_path):
    """ANIL yields two results (head adapted, whole net adapted): the build keeps, orders and
    reuses both, and the check wants both."""
    entry = tiny(next(e for e in gallery.entries() if e.key == "anil-metasgd"))
    gallery.build([entry], tmp_path, log=lambda line: None)
    built = gallery.load(entry.key, tmp_path)
    assert [r.method for r in built.results] == ["maml", "anil", "anil-whole", "metasgd",
                                                 "pretrain"]
    assert gallery.problems(entry, built) == []
    subset = replace(entry, key="subset", spec=replace(entry.spec, methods=("anil",)))
    lines = []
    gallery.build([subset], tmp_path, log=lines.append)
    assert lines[0] == "subset/anil: taken from anil-metasgd.metarun (same settings)"
    assert [r.method for r in gallery.load("subset", tmp_path).results] == ["anil", "anil-whole"]


def test_build_resumes_from_methods_already_trained(entries, tmp_path):
    entry = entries[1]
    lines = []
    partial = RunStore(tmp_path / ".build.sqlite")
    gallery._train_method(entry, "maml", partial, lines.append)  # as if the build was stopped here
    gallery.build([entry], tmp_path, log=lines.append)
    assert lines[1] == "permuted-labels/maml: already trained"
    assert [line.split(":")[0] for line in lines[2:4]] == ["permuted-labels/pretrain",
                                                           "permuted-labels/scratch"]
    gallery.build([entry], tmp_path, log=lines.append)
    assert lines[-1] == "permuted-labels: up to date"


def test_check_reports_missing_stale_and_altered_files(entries, tmp_path, capsys):
    gallery.build(entries, tmp_path, log=lambda line: None)
    assert main(["gallery", "check", "--dir", str(tmp_path)]) == 0
    assert [line.split(" (note")[0] for line in capsys.readouterr().out.splitlines()] == \
        ["maml-sinusoid: ok", "permuted-labels: ok"]  # 4 iterations back no claim: notes only
    run = gallery.load("maml-sinusoid", tmp_path)
    run.settings["train"]["iterations"] = 5
    gallery.path_of("maml-sinusoid", tmp_path).write_bytes(to_bytes(run))
    run.settings["train"]["iterations"] = 4
    run.results = run.results[:2]
    gallery.path_of("permuted-labels", tmp_path).write_bytes(to_bytes(run))
    assert main(["gallery", "check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "maml-sinusoid: its settings differ from the gallery's definition (rebuild it)"
    assert out[1] == ("permuted-labels: its settings differ from the gallery's definition (rebuild "
                      "it); it does not hold exactly one result per method and seed")
    gallery.path_of("permuted-labels", tmp_path).write_bytes(b"junk")
    gallery.path_of("maml-sinusoid", tmp_path).unlink()
    assert main(["gallery", "check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["maml-sinusoid: maml-sinusoid.metarun is missing "
                   "(python -m core gallery build --only maml-sinusoid)",
                   "permuted-labels: the run file is truncated or damaged (not a readable zip archive)"]



SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "omniglot"
needs_omniglot = pytest.mark.skipif(not list(SHARED.glob("images_background_small*.zip")),
                                    reason=f"Omniglot zips not found in {SHARED}")


def _tiny_omniglot(methods=("maml", "pretrain"), **family):
    entry = next(e for e in gallery.entries(str(SHARED)) if e.key == gallery.OMNIGLOT_KEY)
    settings = dict(entry.spec.family_settings) | family
    config = entry.spec.config.replace(iterations=3, test_tasks=12, val_tasks=4, checkpoints=0,
                                       eval_steps=(0, 1, 3))
    return replace(entry, spec=replace(entry.spec, methods=methods, config=config,
                                       family_settings=tuple(settings.items())))


@pytest.mark.slow  # the gallery's conv net on real Omniglot, scored four times: 40-60 s
@needs_omniglot
def test_the_omniglot_entry_scores_the_same_together_and_alone():
    """Support statistics: a query image scores the same in its batch and on its own, so the
    gallery's numbers hold for one drawing at a time (transductive batch norm: they do not)."""
    def scores(entry, queries):
        spec = entry.spec
        return [e.scores["accuracy"] for e in compare(spec.make_family(), spec.methods,
                                                      spec.config.replace(queries=queries), spec.seeds)
                if isinstance(e, MethodResult)]
    entry = _tiny_omniglot()
    for together, alone in zip(scores(entry, "together"), scores(entry, "alone")):
        torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
    peeking = _tiny_omniglot(("maml",), norm="transductive")
    assert not torch.allclose(scores(peeking, "together")[0], scores(peeking, "alone")[0])


@needs_omniglot
def test_a_built_omniglot_file_names_no_folder_of_the_build_machine(tmp_path):
    entry = _tiny_omniglot(("scratch",))
    gallery.build([entry], tmp_path, log=lambda line: None)
    data = gallery.path_of(entry.key, tmp_path).read_bytes()
    run = from_bytes(data)
    assert run.settings["family_settings"]["data_dir"] == "" and str(SHARED).encode() not in data
    assert gallery.problems(entry, run) == []  # where the data lives is not compared
    grey, names = gallery.examples(tmp_path)  # the Draw page's drawings, written beside it
    assert grey.shape == (10, gallery.EXAMPLE_DRAWINGS, 105, 105) and names[0] == "Korean character01"
    np.testing.assert_array_equal(grey, gallery.examples()[0])  # the committed ones are those


def test_committed_gallery_files_pass_the_check():
    present = [e for e in gallery.entries() if gallery.path_of(e.key).exists()]
    assert present
    for key, problems, _ in gallery.check(present):
        assert problems == [], key
    consistent = from_bytes(gallery.path_of("consistent-labels").read_bytes())
    assert consistent.spec().config.iterations == gallery.FULL_BUDGET["clusters"]["iterations"]
