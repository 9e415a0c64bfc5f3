"""Location settings (where the data comes from: a folder, a download) carry one mark, where they
are declared (`setting(kind="path")` or `server=`); every rule that treats them asks that mark.
A family that grows a new one is refused on a hosted server, ignored when runs are compared and
left out of a shipped file without any other change."""
import json
from dataclasses import dataclass

import pytest

from core.engine.families import FAMILIES
from core.engine.families.omniglot import Omniglot
from core.runs.gallery import shipped_settings
from core.runspec import RunSpec
from core.settings import location_names, setting, specs
from dashboard import hosting


@dataclass(frozen=True)
class Mirrored(Omniglot):
    """Omniglot with a second folder and a second download: location settings new to the lab."""

    mirror_dir: str = setting("", "a second folder of Omniglot zips", kind="path")
    fetch_more: bool = setting(True, "download a second archive set", kind="bool", server=False)


@pytest.fixture
def mirrored(monkeypatch):
    monkeypatch.setitem(FAMILIES, "omniglot", Mirrored)


def _spec(**family_settings) -> RunSpec:
    settings = {s.name: s.default for s in specs(Mirrored)} | family_settings
    return RunSpec.from_dict({"family": "omniglot", "family_settings": settings,
                              "methods": ["maml"], "train": {"iterations": 3}, "seeds": [0]})


def test_the_declaration_is_the_only_mark():
    assert location_names(Mirrored) == {"data_dir", "download", "mirror_dir", "fetch_more"}
    found = {s.name for family in FAMILIES.values() for s in specs(family) if s.location}
    assert found == {"data_dir", "download"}


def test_a_hosted_server_holds_every_location_setting(monkeypatch):
    monkeypatch.setenv("META_LAB_HOSTED", "1")
    held = {s.name: hosting.server_held(s) for s in specs(Mirrored)}
    assert held["mirror_dir"] == (True, "") and held["data_dir"] == (True, "")
    assert held["fetch_more"] == (True, False) and held["download"] == (True, False)
    assert held["ways"] == (False, None)
    monkeypatch.setenv("META_LAB_HOSTED", "0")
    assert not any(hosting.server_held(s)[0] for s in specs(Mirrored))


def test_comparing_runs_ignores_where_the_data_comes_from(mirrored):
    here, there = _spec(), _spec(mirror_dir="/srv/mirror", fetch_more=False, data_dir="/srv/a")
    assert here.same_numbers(there)
    assert not here.same_numbers(_spec(ways=3))


def test_a_shipped_file_names_no_folder_of_the_build_machine(mirrored):
    shipped = shipped_settings(_spec(mirror_dir="/srv/mirror", data_dir="/srv/a", fetch_more=False))
    assert "/srv" not in json.dumps(shipped)
    assert shipped["family_settings"]["fetch_more"] is False  # not a folder: recorded as run
