"""Task families: shapes, determinism, held-out splits and clear errors for bad settings."""
import math

import pytest
import torch

from core.families import FAMILIES, make_family
from core.settings import SettingError
from core.tasks import generator


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
