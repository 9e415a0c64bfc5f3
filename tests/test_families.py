"""Task families: shapes, determinism, held-out splits and clear errors for bad settings."""
import dataclasses
import math
from dataclasses import dataclass

import pytest
import torch

from core.engine.families import FAMILIES, make_family
from core.engine.families.base import FunctionRegression
from core.engine.tasks import generator
from core.settings import KINDS, SettingError, Validated, setting, specs, without_paths


@pytest.mark.parametrize("name", ["sinusoid", "trend", "clusters"])
def test_sampling_is_batched_and_deterministic(name):
    family = make_family(name)
    a = family.sample(7, generator(3, "train"))
    b = family.sample(7, generator(3, "train"))
    c = family.sample(7, generator(3, "test"))
    assert a.support_x.shape[:2] == (7, family.shots * getattr(family, "ways", 1))
    assert a.query_x.shape[0] == 7 and a.support_x.shape[2:] == family.input_shape
    assert all(torch.equal(x, y) for x, y in zip(a[:4], b[:4]))
    assert not torch.equal(a.support_x, c.support_x)  # test tasks come from another stream


def test_sinusoid_defaults_are_the_maml_paper_setup():
    family = make_family("sinusoid")
    assert (family.amplitude, family.phase, family.x_range) == ((0.1, 5.0), (0.0, math.pi), (-5.0, 5.0))
    tasks = family.sample(500, generator(0, "train"))
    amp = tasks.info["amplitude"]
    assert 0.1 <= amp.min() and amp.max() <= 5.0
    assert tasks.support_x.abs().max() <= 5.0
    torch.testing.assert_close(tasks.support_y, family.truth(tasks.info, tasks.support_x))


def test_clusters_permuted_vs_consistent_labels():
    permuted = make_family("clusters", shift=0.0, noise=0.0)
    consistent = make_family("clusters", shift=0.0, noise=0.0, consistent_labels=True)
    p = permuted.sample(200, generator(0, "train"))
    c = consistent.sample(200, generator(0, "train"))
    # With consistent labels, label 0 always sits at the same centre; permuted, it wanders.
    assert (c.support_x[:, 0] - c.support_x[0, 0]).abs().max() < 1e-5
    assert (p.support_x[:, 0] - p.support_x[0, 0]).abs().max() > 1.0
    assert p.support_y[0].tolist() == sorted(p.support_y[0].tolist())


@pytest.mark.parametrize("name, bad, message", [
    ("sinusoid", dict(shots=0), "shots must be an integer in [1, 1000]"),
    ("sinusoid", dict(amplitude=(5.0, 0.1)), "amplitude is an empty range"),
    ("clusters", dict(ways=5), "ways (5) must be at most classes (3)"),
    ("trend", dict(noise=1.0), "trend settings are: shots, query"),
])
def test_bad_family_settings_are_clear_errors(name, bad, message):
    with pytest.raises(SettingError) as err:
        make_family(name, **bad)
    assert message in str(err.value)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(SettingError, match="family must be one of sinusoid, trend, clusters"):
        make_family("sine")


def test_every_family_describes_itself():
    for cls in FAMILIES.values():
        assert cls.title and cls.description and cls.kind in ("regression", "classification")


# --- settings: explicit kinds -------------------------------------------------------------------

def test_every_setting_states_its_kind():
    from core.engine.config import TrainConfig
    for cls in [TrainConfig, *FAMILIES.values()]:
        for f in dataclasses.fields(cls):
            if "help" in f.metadata:
                assert f.metadata["kind"] in KINDS, (cls.__name__, f.name)
    with pytest.raises(TypeError, match="kind"):
        setting(1, "a setting without a kind")
    with pytest.raises(ValueError, match="kind must be one of"):
        setting(1, "an unknown kind", kind="number")


@dataclass(frozen=True)
class Ranged(Validated):
    span: tuple = setting((0, 5), "a range written with integers", -10, 10, kind="range")
    scale: float = setting(2, "a float written as an integer", 0, 10, kind="float")
    folder: str = setting("", "a folder", kind="path")


def test_a_range_written_with_integers_stays_float():
    spec = {s.name: s for s in specs(Ranged)}
    assert spec["span"].kind == "range" and spec["span"].default == (0.0, 5.0)
    assert all(isinstance(v, float) for v in spec["span"].default)
    assert isinstance(spec["scale"].default, float)
    value = Ranged(span=(1, 3), scale=4)
    assert value.span == (1.0, 3.0) and all(isinstance(v, float) for v in value.span)
    assert isinstance(value.scale, float)
    with pytest.raises(SettingError, match="span must be a number"):
        Ranged(span=(0, "x"))


def test_path_settings_are_text_that_a_hosted_app_resets():
    assert {s.name: s.kind for s in specs(FAMILIES["omniglot"])}["data_dir"] == "path"
    assert Ranged(folder="/srv").folder == "/srv"
    with pytest.raises(SettingError, match="folder must be text"):
        Ranged(folder=3)
    assert without_paths(Ranged(span=(1, 2), folder="/srv")) == Ranged(span=(1, 2))
    family = make_family("omniglot", data_dir="/etc", ways=3)
    assert without_paths(family) == make_family("omniglot", ways=3)


def test_long_bad_values_are_quoted_short():
    with pytest.raises(SettingError) as err:
        make_family("clusters", radius="r" * 100_000)
    assert len(str(err.value)) < 200


def test_function_regression_declares_shots_query_and_x_range_once():
    base = {s.name: s for s in specs(FunctionRegression)}
    assert list(base) == ["shots", "query", "x_range"]
    for name in ("sinusoid", "trend"):
        own = {s.name: s for s in specs(FAMILIES[name])}
        assert all(own[n] == base[n] for n in base)
        assert not {"shots", "query", "x_range"} & set(vars(FAMILIES[name]).get(
            "__annotations__", {}))
