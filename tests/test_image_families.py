"""Image families: batched deterministic tasks, held-out classes, rotations, errors, transfer
pre-training, and a learning test (MAML beats scratch and chance on held-out digits)."""
from pathlib import Path

import pytest
import torch

from core.cli.main import main as cli_main
from core.data import omniglot as omniglot_data
from core.data.omniglot import DatasetUnavailable
from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from core.engine.evaluation import make_learner, score_tasks
from core.engine.events import MethodResult
from core.engine.families import make_family
from core.engine.tasks import generator
from core.engine.training import compare, train_method
from core.settings import SettingError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "omniglot"
needs_omniglot = pytest.mark.skipif(not list(SHARED.glob("images_background_small*.zip")),
                                    reason=f"shared Omniglot zips not found in {SHARED}")


def omniglot(**settings):
    return make_family("omniglot", data_dir=str(SHARED), **settings)


FAMILIES = [pytest.param(lambda **s: make_family("digits", **s), id="digits"),
            pytest.param(omniglot, id="omniglot", marks=needs_omniglot)]


@pytest.mark.parametrize("make", FAMILIES)
def test_tasks_are_batched_labelled_and_deterministic(make):
    family = make(ways=5, shots=2, query=3)
    a = family.sample(6, generator(0, "train"))
    b = family.sample(6, generator(0, "train"))
    side = family.input_shape[-1]
    assert a.support_x.shape == (6, 10, 1, side, side) and a.query_x.shape == (6, 15, 1, side, side)
    assert a.support_y.dtype == torch.long and a.support_y[0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert a.info["classes"].shape == (6, 5)
    assert all(torch.equal(x, y) for x, y in zip(a[:4], b[:4]))
    assert torch.equal(a.info["classes"], b.info["classes"])
    assert 0 <= a.support_x.min() and a.support_x.max() <= 1
    # Each support image is a drawing of the class its label names.
    pool = family.pools()["train"]
    for t in range(6):
        for i, label in enumerate(a.support_y[t].tolist()):
            row = int(torch.searchsorted(pool.classes, a.info["classes"][t, label]))
            assert (pool.images[row] == a.support_x[t, i, 0]).all((-1, -2)).any()


@pytest.mark.parametrize("make", FAMILIES)
def test_test_classes_never_appear_in_training(make):
    family = make()
    base = family.base_classes
    pools = family.pools()
    train = set((pools["train"].classes % base).tolist())
    test = set(pools["test"].classes.tolist())
    assert train and test and not train & test
    sampled = family.sample(200, generator(0, "test"), "test").info["classes"]
    assert set(sampled.flatten().tolist()) <= test


@needs_omniglot
def test_omniglot_splits_by_alphabet_and_names_classes():
    family = omniglot()
    names = {family.class_name(int(c)).split(" ")[0] for c in family.pools()["test"].classes}
    assert names == {"Korean", "Early_Aramaic"}
    # 156 characters of the 5 training alphabets, each also rotated three times.
    assert family.pretrain_classes == len(family.pools()["train"].classes) == 4 * 156


def test_rotations_add_three_rotated_copies_in_training_only():
    plain, rotated = make_family("digits", rotations=False), make_family("digits")
    p, r = plain.pools(), rotated.pools()
    n = len(p["train"].classes)
    assert len(r["train"].classes) == 4 * n and torch.equal(r["test"].classes, p["test"].classes)
    assert torch.equal(r["train"].images[n:2 * n], torch.rot90(p["train"].images, 1, (-2, -1)))
    assert torch.equal(r["train"].classes[n:2 * n], p["train"].classes + rotated.base_classes)
    assert rotated.class_name(int(r["train"].classes[n])) == "digit 0, rotated 90°"


def test_labels_are_permuted_per_task():
    tasks = make_family("digits", rotations=False).sample(300, generator(0, "train"))
    label_of_digit0 = [row.tolist().index(0) for row in tasks.info["classes"] if 0 in row]
    assert set(label_of_digit0) == set(range(5))


def test_digits_validation_and_test_share_classes_but_no_drawing():
    pools = make_family("digits").pools()
    assert torch.equal(pools["validation"].classes, pools["test"].classes)
    val, test = pools["validation"].images.flatten(2), pools["test"].images.flatten(2)
    assert not (val.unsqueeze(2) == test.unsqueeze(1)).all(-1).any()


@pytest.mark.parametrize("name, settings, message", [
    ("digits", dict(ways=6), "ways (6) must be at most the 5 classes of the validation split"),
    ("digits", dict(test_digits=(1, 1)), "test_digits must be distinct"),
    ("digits", dict(shots=19, query=80), "shots + query (99) must be at most the 87 images per class"),
    ("digits", dict(batching="vmap"), "batching must be one of loop, grouped"),
])
def test_bad_settings_name_the_setting(name, settings, message):
    with pytest.raises(SettingError) as err:
        make_family(name, **settings).load()
    assert message in str(err.value)


@needs_omniglot
@pytest.mark.parametrize("settings, message", [
    (dict(ways=30), "ways (30) must be at most the 24 classes of the validation split"),
    (dict(test_alphabets="Klingon"), "test_alphabets / validation_alphabets: unknown alphabets"),
    (dict(test_alphabets="K" * 100_000), "test_alphabets / validation_alphabets: unknown alphabets"),
    (dict(shots=10, query=15), "shots + query (25) must be at most the 20 images per class"),
])
def test_bad_omniglot_settings_name_the_setting(settings, message):
    family = omniglot(**settings)  # settings the data cannot meet are found when it is read
    with pytest.raises(SettingError) as err:
        family.sample(1, generator(0, "train"))
    assert message in str(err.value) and len(str(err.value)) < 250


def test_missing_data_is_a_clear_cli_error(tmp_path, capsys):
    with pytest.raises(DatasetUnavailable, match="images_background.zip"):
        make_family("omniglot", data_dir=str(tmp_path / "nowhere")).load()
    code = cli_main(["compare", "--family", "omniglot", "--data-dir", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: data_dir") and "Traceback" not in err
    assert "images_evaluation.zip" in err


def test_pretraining_is_transfer_learning_with_a_fresh_head():
    family = make_family("digits", channels=4, query=3)
    learner = make_learner(family, (1,))
    batch = family.sample(4, generator(0, "train"))
    x, y = family.pretraining_data(batch)
    classes = family.pools()["train"].classes
    # Global labels: each image's row among all 20 meta-train classes (5 digits × 4 rotations).
    assert family.pretrain_classes == 20 and y.max() < 20
    assert torch.equal(classes[y], batch.info["classes"].gather(1, batch.all_data()[1]))
    cfg = TrainConfig(iterations=3, meta_batch_size=4, test_tasks=10, val_tasks=5, checkpoints=1,
                      eval_steps=(0, 1, 2), inner_lr=0.4)
    test, val = (family.sample(n, generator(0, s), s) for n, s in ((10, "test"), (5, "validation")))
    *events, result = train_method(learner, "pretrain", cfg, test, val)
    assert result.params["head.w"].shape == (4, 5) and not result.params["head.w"].any()
    # A zero head predicts label 0 everywhere: exactly chance before adaptation.
    assert torch.allclose(result.scores["accuracy"][0], torch.tensor(0.2))
    assert result.scores["accuracy"][1].mean() > 0.2  # one step trains the head alone
    trained_body = METHODS["pretrain"].start(learner, learner.model.init(generator(0, "init")), cfg)
    assert trained_body["head.w"].shape == (4, 20)


def test_maml_beats_scratch_and_chance_on_held_out_digits():
    """The learning test: a fast setting, MAML's φ after one step vs a random φ after one step.
    At this budget MAML scores about 0.5, scratch about 0.24 (0 iterations: both 0.24)."""
    family = make_family("digits", channels=8, query=5)
    cfg = TrainConfig(**{**family.suggested, "iterations": 50, "meta_batch_size": 8,
                         "test_tasks": 100, "checkpoints": 0, "eval_steps": (0, 1)})
    results = {e.method: e for e in compare(family, ["maml", "scratch"], cfg)
               if isinstance(e, MethodResult)}
    maml, scratch = (results[m].scores["accuracy"][1].mean().item() for m in ("maml", "scratch"))
    assert maml > scratch + 0.1 and maml > 0.2 + 0.1, (maml, scratch)


def test_an_empty_cache_without_download_says_what_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("META_LAB_CACHE", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match="downloading is off"):
        make_family("omniglot", download=False).load()
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("settings", [{}, {"data_dir": "/"}, {"ways": 50, "shots": 100}])
def test_building_omniglot_reads_no_data(settings, monkeypatch):
    """Building (and validating) the family touches neither the disk nor the network."""
    def no_reading(*args, **kwargs):
        raise AssertionError("data read while building the family")

    for loader in ("load_omniglot", "load_cached_omniglot", "download_omniglot", "_load_root"):
        monkeypatch.setattr(omniglot_data, loader, no_reading)
    family = make_family("omniglot", **settings)
    assert family.input_shape == (1, 28, 28) and family.output_dim == family.ways
    with pytest.raises(AssertionError, match="data read"):
        family.load()  # the first use reads


def test_the_cli_prints_download_progress_on_stderr(monkeypatch, capsys):
    """The CLI hands its progress printer to the family; core itself prints nothing."""
    def fake_download(image_size, download, progress):
        progress(500_000, 1_000_000)
        progress(1_000_000, 1_000_000)
        raise DatasetUnavailable("Omniglot could not be downloaded into the data cache (test).")

    monkeypatch.setattr(omniglot_data, "load_cached_omniglot", fake_download)
    code = cli_main(["compare", "--family", "omniglot"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "downloading data: 0.5 of 1.0 MB" in err and "downloading data: 1.0 of 1.0 MB\n" in err
    assert err.endswith("error: Omniglot could not be downloaded into the data cache (test).\n")
    with pytest.raises(DatasetUnavailable):
        make_family("omniglot").load(progress=lambda done, total: None)
    assert capsys.readouterr() == ("", "")  # the family itself never prints


@pytest.mark.parametrize("norm", ["transductive", "support", "group"])
def test_scoring_queries_alone_changes_only_the_transductive_scores(norm):
    """With support statistics or layer norm, a query image's score does not depend on which
    other query images are scored with it; batch norm over the query set does."""
    family = make_family("digits", channels=4, query=4, norm=norm)
    learner = make_learner(family, (1,))
    assert learner.model.norm == norm
    phi = learner.model.init(generator(0, "init"))
    tasks = family.sample(6, generator(0, "test"), "test")
    together, alone = (score_tasks(learner, phi, tasks, 0.4, (0, 1), alone=a) for a in (False, True))
    same = torch.allclose(together["loss"], alone["loss"], atol=1e-6)
    assert same == (norm != "transductive")
