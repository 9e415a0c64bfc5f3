"""Omniglot reader: miniature trees and zips, the shared small zips, the cache, a local download."""
from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data import omniglot
from core.data.omniglot import (DatasetUnavailable, default_cache_dir, download_omniglot,
                                load_cached_omniglot, load_omniglot, load_omniglot_archives,
                                split_alphabets,
                                split_by_alphabet)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "omniglot"
SMALL = [SHARED / "images_background_small1.zip", SHARED / "images_background_small2.zip"]
needs_shared = pytest.mark.skipif(not all(p.is_file() for p in SMALL),
                                  reason=f"shared Omniglot zips not found in {SHARED}")
SIDE = 10  # pixels of the generated drawings


@pytest.fixture(autouse=True)
def fresh_caches():
    """Forget decoded data between tests, so each one exercises its own reading path."""
    omniglot._load_archives.cache_clear()
    omniglot._load_root.cache_clear()


@pytest.fixture(autouse=True)
def user_cache(tmp_path_factory, monkeypatch) -> Path:
    """A fresh user cache per test, outside the test's data folder (tmp_path)."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("META_LAB_CACHE", str(cache))
    return cache


def write_tree(root: Path, characters: dict[tuple[str, str], int], corner: str = "top") -> None:
    """Write black-on-white 1-bit PNGs: a black 5x5 block in the top-left (or bottom-right)."""
    for (alphabet, character), drawings in characters.items():
        folder = root / alphabet / character
        folder.mkdir(parents=True)
        for i in range(drawings):
            pixels = np.full((SIDE, SIDE), 255, np.uint8)
            block = slice(0, 5) if corner == "top" else slice(5, SIDE)
            pixels[block, block] = 0
            Image.fromarray(pixels).convert("1").save(folder / f"{i:04d}_{i + 1:02d}.png")


def zip_tree(root: Path, zip_path: Path) -> Path:
    """Zip the tree under `root`, with `root`'s name as the top folder like the official zips."""
    with zipfile.ZipFile(zip_path, "w") as archive:
        for file in sorted(root.rglob("*")):
            archive.write(file, file.relative_to(root.parent).as_posix())
    return zip_path


MINI = {("Alpha", "character01"): 2, ("Alpha", "character02"): 2, ("Beta", "character01"): 2}


def test_reads_a_folder_tree(tmp_path):
    write_tree(tmp_path / "images_background", MINI)
    data = load_omniglot_archives([tmp_path / "images_background"], image_size=5)
    assert data.images.shape == (3, 2, 5, 5) and data.images.dtype == np.float32
    assert data.alphabets == ("Alpha", "Alpha", "Beta")
    assert data.characters == ("character01", "character02", "character01")
    assert data.images.min() >= 0 and data.images.max() <= 1
    # The black block (ink) was in the top-left half: after inversion and 2x downsampling it is ~1.
    assert np.all(data.images[:, :, 0, 0] > 0.9) and np.all(data.images[:, :, -1, -1] < 0.1)
    assert not data.images.flags.writeable
    assert {a: i.tolist() for a, i in data.by_alphabet().items()} == {"Alpha": [0, 1], "Beta": [2]}


def test_full_size_is_the_exact_inverted_drawing(tmp_path):
    write_tree(tmp_path / "tree", MINI)
    data = load_omniglot_archives([tmp_path / "tree"], image_size=SIDE)
    expected = np.zeros((SIDE, SIDE), np.float32)
    expected[:5, :5] = 1.0
    assert np.array_equal(data.images[0, 0], expected)


def test_a_zip_reads_like_its_folder(tmp_path):
    write_tree(tmp_path / "images_background", MINI)
    archive = zip_tree(tmp_path / "images_background", tmp_path / "images_background.zip")
    from_dir = load_omniglot_archives([tmp_path / "images_background"], image_size=7)
    from_zip = load_omniglot_archives([archive], image_size=7)
    assert np.array_equal(from_dir.images, from_zip.images)
    assert (from_dir.alphabets, from_dir.characters) == (from_zip.alphabets, from_zip.characters)


def test_merging_keeps_the_first_copy_of_a_character(tmp_path):
    write_tree(tmp_path / "a", {("Greek", "character01"): 2, ("Korean", "character01"): 2})
    write_tree(tmp_path / "b", {("Greek", "character01"): 2, ("Latin", "character01"): 2},
               corner="bottom")
    data = load_omniglot_archives([tmp_path / "a", zip_tree(tmp_path / "b", tmp_path / "b.zip")],
                                  image_size=SIDE)
    assert data.alphabets == ("Greek", "Korean", "Latin")
    greek = data.images[0, 0]
    assert greek[0, 0] == 1 and greek[-1, -1] == 0  # the top-left block of the first archive


def test_unequal_drawing_counts_are_an_error(tmp_path):
    write_tree(tmp_path / "tree", {("Alpha", "character01"): 2, ("Alpha", "character02"): 3})
    with pytest.raises(ValueError, match="Alpha/character02 has 3 drawings"):
        load_omniglot_archives([tmp_path / "tree"])


def test_no_drawings_says_what_to_download(tmp_path):
    with pytest.raises(DatasetUnavailable, match="images_background.zip"):
        load_omniglot_archives([tmp_path])


def test_split_alphabets_is_disjoint_and_checks_names():
    names = {"A": 0, "B": 0, "C": 0, "D": 0}  # a dict works: its keys are the alphabets
    assert split_alphabets(names, test=["D"]) == {"train": ["B", "C"], "validation": ["A"],
                                                  "test": ["D"]}
    assert split_alphabets(names, test=["A"], validation=["C", "B"], n_validation=0) == {
        "train": ["D"], "validation": ["B", "C"], "test": ["A"]}
    assert split_alphabets(names, test=["A"], n_validation=0)["validation"] == []
    with pytest.raises(ValueError, match="unknown alphabets"):
        split_alphabets(names)  # the default test alphabets are not in this data
    with pytest.raises(ValueError, match="in both"):
        split_alphabets(names, test=["A"], validation=["A"])
    with pytest.raises(ValueError, match="no alphabet left"):
        split_alphabets(names, test=["A", "B"], validation=["C", "D"])


def test_load_omniglot_caches_an_npz_in_the_user_cache_only(tmp_path, monkeypatch, user_cache):
    write_tree(tmp_path / "images_background", MINI)
    before = snapshot(tmp_path)
    first = load_omniglot(tmp_path, image_size=6)
    assert snapshot(tmp_path) == before  # nothing written beside the data
    npz = omniglot.decoded_cache_path(tmp_path.resolve(), 6)
    assert npz.is_file() and npz.is_relative_to(user_cache)
    omniglot._load_archives.cache_clear()
    omniglot._load_root.cache_clear()
    monkeypatch.setattr(omniglot, "_decode", None)  # a second start must not decode any PNG
    second = load_omniglot(tmp_path, image_size=6)
    assert np.array_equal(first.images, second.images)
    assert (first.alphabets, first.characters) == (second.alphabets, second.characters)
    assert load_omniglot(tmp_path, image_size=6) is second  # and the memory cache answers


def test_each_data_folder_has_its_own_npz(tmp_path):
    write_tree(tmp_path / "a" / "images_background", MINI)
    write_tree(tmp_path / "b" / "images_background", {("Gamma", "character01"): 2})
    assert load_omniglot(tmp_path / "a", image_size=6).num_classes == 3
    assert load_omniglot(tmp_path / "b", image_size=6).num_classes == 1


def test_a_stale_npz_is_rebuilt(tmp_path):
    write_tree(tmp_path / "images_background", MINI)
    load_omniglot(tmp_path, image_size=6)
    omniglot._load_root.cache_clear()
    write_tree(tmp_path / "images_evaluation", {("Gamma", "character01"): 2})
    assert load_omniglot(tmp_path, image_size=6).num_classes == 4


def test_a_corrupt_npz_is_rebuilt(tmp_path):
    write_tree(tmp_path / "images_background", MINI)
    npz = omniglot.decoded_cache_path(tmp_path.resolve(), 6)
    npz.parent.mkdir(parents=True)
    npz.write_bytes(b"not an npz")
    assert load_omniglot(tmp_path, image_size=6).num_classes == 3
    with np.load(npz) as cached:
        assert cached["ink"].shape == (3, 2, 6, 6)


def test_an_unwritable_npz_only_warns(tmp_path, monkeypatch, user_cache):
    write_tree(tmp_path / "images_background", MINI)

    def full_disk(*args, **kwargs):
        raise OSError("no space left")

    monkeypatch.setattr(np, "savez_compressed", full_disk)
    with pytest.warns(UserWarning, match="could not cache"):
        assert load_omniglot(tmp_path, image_size=6).num_classes == 3
    assert [p.name for p in tmp_path.iterdir()] == ["images_background"]
    assert not [p for p in user_cache.rglob("*") if p.is_file()]  # no .part file left


def test_missing_data_dir_is_unavailable(tmp_path):
    with pytest.raises(DatasetUnavailable, match="is not a folder"):
        load_omniglot(tmp_path / "nowhere")


def one_sentence(message: str) -> bool:
    """A short message of one sentence: no line breaks, one full stop, at its end."""
    return "\n" not in message and len(message) < 400 and message.count(". ") == 0


@pytest.mark.parametrize("folder", ["/", "/proc", "/usr", "/tmp"])
def test_a_folder_that_is_not_omniglot_costs_one_listing(folder, monkeypatch):
    """A system folder as data_dir: one sentence after listing it once, never a walk."""
    listed = []
    scandir = omniglot.os.scandir
    monkeypatch.setattr(omniglot.os, "scandir", lambda path: listed.append(path) or scandir(path))
    with pytest.raises(DatasetUnavailable) as error:
        load_omniglot(folder)
    assert listed == [Path(folder)]
    assert one_sentence(str(error.value)) and "holds no Omniglot zips or images_* folders" in str(
        error.value)


def test_a_wrong_images_folder_stops_at_the_file_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(omniglot, "MAX_ENTRIES", 10)
    for i in range(4):
        write_tree(tmp_path / "images_big" / f"alphabet{i}", {(f"a{i}", "c"): 3})
    with pytest.raises(DatasetUnavailable, match="more than 10 files") as error:
        load_omniglot(tmp_path)
    assert one_sentence(str(error.value))


def test_only_the_fixed_depth_layout_is_read(tmp_path):
    write_tree(tmp_path / "images_background" / "deeper", MINI)  # one level too deep
    (tmp_path / "images_background" / "loose.png").write_bytes(b"x")  # too shallow
    with pytest.raises(DatasetUnavailable, match="No Omniglot drawings"):
        load_omniglot(tmp_path)


@pytest.mark.parametrize("name", ["x" * 5000, "a\0b"])
def test_a_bad_data_dir_is_quoted_short(tmp_path, name):
    with pytest.raises(DatasetUnavailable, match="is not a folder") as error:
        load_omniglot(str(tmp_path / name))
    assert one_sentence(str(error.value)) and len(str(error.value)) < 300


# --- the shared "background small" zips ---------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    """The two shared zips, merged."""
    return load_omniglot_archives(SMALL)


@needs_shared
def test_small_zips_deduplicate_greek_and_latin(small):
    ones = [load_omniglot_archives([p]) for p in SMALL]
    assert [d.num_classes for d in ones] == [136, 156]
    shared = set(ones[0].alphabets) & set(ones[1].alphabets)
    assert shared == {"Greek", "Latin"}
    duplicates = sum(a in shared for a in ones[0].alphabets)
    assert small.num_classes == 136 + 156 - duplicates == 242
    assert small.images.shape == (242, 20, 28, 28)
    assert 0.02 < small.images.mean() < 0.3  # ink is the minority once inverted
    assert small.images[:, :, 0, :].mean() < 0.01 < small.images[:, :, 14, 14].mean()  # centred ink


@needs_shared
def test_small_zips_split_by_alphabet(small):
    split = split_by_alphabet(small)
    alphabets = np.array(small.alphabets)
    assert sorted(set(alphabets[split["test"]])) == ["Early_Aramaic", "Korean"]
    assert sorted(set(alphabets[split["validation"]])) == ["Balinese"]
    assert not set(alphabets[split["train"]]) & {"Early_Aramaic", "Korean", "Balinese"}
    indices = np.concatenate([split[name] for name in omniglot.SPLITS])
    assert np.array_equal(np.sort(indices), np.arange(small.num_classes))  # disjoint and complete


# --- the cache folder and the download ------------------------------------------------------------

def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("META_LAB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "meta-lab" / "omniglot"
    monkeypatch.setenv("META_LAB_CACHE", str(tmp_path / "lab"))
    assert default_cache_dir() == tmp_path / "lab" / "omniglot"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr."""

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """(folder served, its base URL) on 127.0.0.1 at a free port."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def official_like(served: Path, work: Path) -> dict[str, str]:
    """Two small archives named like the official ones; returns name -> MD5."""
    parts = {"images_background": {("Alpha", "character01"): 2},
             "images_evaluation": {("Beta", "character01"): 2, ("Beta", "character02"): 2}}
    md5 = {}
    for stem, characters in parts.items():
        write_tree(work / stem, characters)
        archive = zip_tree(work / stem, served / f"{stem}.zip")
        md5[archive.name] = hashlib.md5(archive.read_bytes()).hexdigest()
    return md5


def snapshot(folder: Path) -> list[str]:
    """Every path under `folder`, hidden ones included."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_download_verifies_unzips_and_loads(server, tmp_path):
    served, url = server
    archives = official_like(served, tmp_path / "work")
    cache = tmp_path / "cache"
    calls = []
    download_omniglot(cache, lambda done, total: calls.append((done, total)), url, archives)
    assert sorted(p.name for p in cache.iterdir()) == ["images_background", "images_evaluation"]
    size = (served / "images_evaluation.zip").stat().st_size
    assert calls[-1] == (size, size)
    data = load_omniglot(cache, image_size=5)
    assert data.alphabets == ("Alpha", "Beta", "Beta") and data.images.shape == (3, 2, 5, 5)


def test_load_omniglot_uses_the_user_cache(server, tmp_path, monkeypatch):
    served, url = server
    monkeypatch.setenv("META_LAB_CACHE", str(tmp_path / "lab"))
    with pytest.raises(DatasetUnavailable, match="downloading is off"):
        load_omniglot(download=False)
    download_omniglot(default_cache_dir(), None, url, official_like(served, tmp_path / "work"))
    assert load_omniglot(image_size=5, download=False).num_classes == 3
    assert load_cached_omniglot(image_size=5).num_classes == 3


def test_the_cache_loader_names_no_folder_and_downloads_only_when_allowed(server, tmp_path,
                                                                          monkeypatch):
    _, url = server  # serves nothing: every archive is a 404
    cache = tmp_path / "cache"
    monkeypatch.setenv("META_LAB_CACHE", str(cache))
    fetched = []
    monkeypatch.setattr(omniglot, "download_omniglot", lambda root, progress: fetched.append(
        root) or download_omniglot(root, progress, url))
    with pytest.raises(DatasetUnavailable) as off:
        load_cached_omniglot(download=False)
    assert fetched == [] and not cache.exists()
    with pytest.raises(DatasetUnavailable, match="404") as failed:
        load_cached_omniglot(download=True)
    assert fetched == [cache / "omniglot"]
    for message in (str(off.value), str(failed.value)):
        assert one_sentence(message) and str(tmp_path) not in message and "/" not in message.split(
            "(")[0]


def test_checksum_mismatch_leaves_the_cache_untouched(server, tmp_path):
    served, url = server
    archives = official_like(served, tmp_path / "work")
    cache = tmp_path / "cache"
    (cache / "images_evaluation").mkdir(parents=True)  # installed earlier
    (cache / "images_evaluation" / "kept.txt").write_text("x")
    before = snapshot(cache)
    archives["images_background.zip"] = "0" * 32
    with pytest.raises(DatasetUnavailable, match="failed its checksum") as error:
        download_omniglot(cache, None, url, archives)
    assert "images_background.zip" in str(error.value)
    assert snapshot(cache) == before


def test_a_corrupt_zip_leaves_the_cache_untouched(server, tmp_path):
    served, url = server
    (served / "images_background.zip").write_bytes(b"not a zip")
    cache = tmp_path / "cache"
    cache.mkdir()
    md5 = hashlib.md5(b"not a zip").hexdigest()
    with pytest.raises(DatasetUnavailable, match="Could not fetch and unpack"):
        download_omniglot(cache, None, url, {"images_background.zip": md5})
    assert snapshot(cache) == []


def test_missing_file_on_the_server_is_unavailable(server, tmp_path):
    _, url = server
    with pytest.raises(DatasetUnavailable, match="404"):
        download_omniglot(tmp_path / "cache", None, url, {"images_background.zip": "0" * 32})


def test_unreachable_server_names_files_and_destination(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailable) as error:
        download_omniglot(cache, None, f"http://127.0.0.1:{port}/", omniglot.OMNIGLOT_ARCHIVES)
    message = str(error.value)
    for needed in ("images_background.zip", "images_evaluation.zip", str(cache), "--data-dir"):
        assert needed in message
    assert snapshot(cache) == []
