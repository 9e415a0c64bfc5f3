"""Omniglot (Lake, Salakhutdinov & Tenenbaum, Science 2015) as ink arrays, split by alphabet.

Reads the official layout `<split>/<alphabet>/<character>/<drawing>.png` from zips or folders,
downloads the official archives into a user cache when asked, and keeps the decoded arrays in
memory and in a compressed .npz beside the data, so a second start skips the PNG decoding.
"""
from __future__ import annotations

import functools
import hashlib
import http.client
import io
import os
import shutil
import tempfile
import urllib.request
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
from PIL import Image

OMNIGLOT_BASE_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"
# Archive name -> MD5, the values torchvision checks too.
OMNIGLOT_ARCHIVES: Mapping[str, str] = {
    "images_background.zip": "68d2efa1b9178cc56df9314c21c6e718",
    "images_evaluation.zip": "6b91aef0f799c5bb55b94e3f2daec811",
}
DEFAULT_TEST_ALPHABETS = ("Korean", "Early_Aramaic")
SPLITS = ("train", "validation", "test")
Progress = Callable[[int, int], None]  # (done_bytes, total_bytes); total 0 when unknown
_CHUNK = 1 << 16


class DatasetUnavailable(RuntimeError):
    """The data could not be found, downloaded or verified; the message says how to provide it."""


@dataclass(frozen=True, eq=False)
class OmniglotData:
    """Decoded Omniglot characters, one class per (alphabet, character), sorted by both."""

    images: np.ndarray  # (classes, drawings, H, W) float32 in [0, 1], ink = 1; read-only
    alphabets: tuple[str, ...]  # alphabet of each class, e.g. "Korean"
    characters: tuple[str, ...]  # character folder of each class, e.g. "character07"

    @property
    def num_classes(self) -> int:
        """How many characters (classes) there are."""
        return self.images.shape[0]

    def by_alphabet(self) -> dict[str, np.ndarray]:
        """Alphabet name -> indices of its classes, alphabets in sorted order."""
        names = np.asarray(self.alphabets)
        return {name: np.flatnonzero(names == name) for name in sorted(set(self.alphabets))}


# --- reading drawings --------------------------------------------------------------------------

def load_omniglot_archives(paths: Iterable[Path | str], image_size: int = 28) -> OmniglotData:
    """Merge zips or folders (cached in memory only); a repeated character keeps the first's."""
    _check_image_size(image_size)
    return _load_archives(tuple(Path(p).expanduser().resolve() for p in paths), image_size)


@functools.lru_cache(maxsize=4)
def _load_archives(paths: tuple[Path, ...], image_size: int) -> OmniglotData:
    """Decode the merged drawings once per (paths, image_size)."""
    drawings: dict[tuple[str, str], list[bytes]] = {}
    for path in paths:
        for key, pngs in _drawings_by_character(path).items():
            drawings.setdefault(key, pngs)
    if not drawings:
        where = ", ".join(map(str, paths)) or "no paths"
        raise DatasetUnavailable(f"No Omniglot drawings (<alphabet>/<character>/<drawing>.png) "
                                 f"in {where}. {_how_to_provide(None)}")
    keys = sorted(drawings)
    _check_equal_counts(drawings, keys)
    # Decoding only the kept characters: duplicates cost a zip read, not a PNG decode.
    ink = np.array([[_decode(png, image_size) for png in drawings[k]] for k in keys], np.uint8)
    return _from_ink(ink, tuple(a for a, _ in keys), tuple(c for _, c in keys))


def _drawings_by_character(path: Path) -> dict[tuple[str, str], list[bytes]]:
    """(alphabet, character) -> its drawings' PNG bytes in file-name order."""
    groups: dict[tuple[str, str], list[bytes]] = {}
    for name, png in sorted(_png_files(path)):
        parts = PurePosixPath(name).parts
        if len(parts) >= 3:  # a drawing lies in <alphabet>/<character>/; anything above is not one
            groups.setdefault((parts[-3], parts[-2]), []).append(png)
    return groups


def _png_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """(relative name, bytes) of every PNG in a folder tree or a zip."""
    if path.is_dir():
        for file in path.rglob("*.png"):
            yield file.relative_to(path).as_posix(), file.read_bytes()
        return
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".png"):
                yield name, archive.read(name)


def _decode(png: bytes, image_size: int) -> np.ndarray:
    """One drawing as uint8 ink (255 = full ink), image_size x image_size."""
    with Image.open(io.BytesIO(png)) as image:
        gray = image.convert("L")  # the PNGs are 1-bit; a smooth downsampling needs grey levels
    if gray.size != (image_size, image_size):
        # LANCZOS, as in the 28x28 Omniglot of Finn et al.'s MAML code.
        gray = gray.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return 255 - np.asarray(gray, dtype=np.uint8)


def _check_equal_counts(drawings: Mapping[tuple[str, str], list[bytes]],
                        keys: list[tuple[str, str]]) -> None:
    """Raise if characters have different numbers of drawings (the array must be rectangular)."""
    expected = len(drawings[keys[0]])
    odd = next((k for k in keys if len(drawings[k]) != expected), None)
    if odd is not None:
        raise ValueError(f"{'/'.join(odd)} has {len(drawings[odd])} drawings, but "
                         f"{'/'.join(keys[0])} has {expected}; Omniglot has 20 per character")


def _check_image_size(image_size: int) -> None:
    """Raise unless the side length is a positive number of pixels."""
    if image_size < 1:
        raise ValueError(f"image_size must be a positive number of pixels, got {image_size}")


def _from_ink(ink: np.ndarray, alphabets: tuple[str, ...],
              characters: tuple[str, ...]) -> OmniglotData:
    """Wrap uint8 ink as float32 in [0, 1]; read-only because the result is shared by caches."""
    images = ink.astype(np.float32) / 255.0  # (classes, drawings, H, W)
    images.setflags(write=False)
    return OmniglotData(images, alphabets, characters)


# --- a data folder and its .npz cache ---------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _load_root(root: Path, image_size: int) -> OmniglotData:
    """The data in folder `root`, from its .npz when that was made from the same sources."""
    sources = _sources(root)
    names = [p.name for p in sources]
    npz = root / f"omniglot_{image_size}px.npz"
    data = _read_npz(npz, names)
    if data is None:
        data = _load_archives(tuple(sources), image_size)
        _write_npz(npz, data, names)
    return data


def _sources(root: Path) -> list[Path]:
    """The extracted folders in `root`, then its zips; hidden entries are a download in progress."""
    visible = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")]
    return [p for p in visible if p.is_dir()] + [p for p in visible if p.suffix == ".zip"]


def _read_npz(path: Path, sources: list[str]) -> OmniglotData | None:
    """The arrays cached in `path` if it is readable and was made from `sources`, else None."""
    try:
        with np.load(path) as cached:
            if cached["sources"].tolist() == sources:
                return _from_ink(cached["ink"], tuple(cached["alphabets"].tolist()),
                                 tuple(cached["characters"].tolist()))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # absent, unreadable or of another layout: the caller decodes the PNGs again
    return None


def _write_npz(path: Path, data: OmniglotData, sources: list[str]) -> None:
    """Save `data` as `path` in one rename; a read-only folder only costs the speed-up."""
    # A unique name opened with open() (not mkstemp, which makes it 0600) keeps the umask's
    # permissions, so others sharing the data folder can read the cache too.
    part = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.part")
    try:
        with open(part, "xb") as file:
            np.savez_compressed(file, ink=np.rint(data.images * 255).astype(np.uint8),
                                alphabets=np.array(data.alphabets),
                                characters=np.array(data.characters), sources=np.array(sources))
        os.replace(part, path)
    except OSError as err:
        part.unlink(missing_ok=True)
        warnings.warn(f"could not cache decoded Omniglot in {path} ({err}); the next start "
                      "will decode the PNGs again", stacklevel=4)


# --- the user cache and the download -----------------------------------------------------------

def default_cache_dir() -> Path:
    """$META_LAB_CACHE/omniglot if set, else $XDG_CACHE_HOME (or ~/.cache)/meta-lab/omniglot."""
    if os.environ.get("META_LAB_CACHE"):
        return Path(os.environ["META_LAB_CACHE"]).expanduser() / "omniglot"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "meta-lab" / "omniglot"


def download_omniglot(cache_dir: Path | str, progress: Progress | None = None,
                      base_url: str = OMNIGLOT_BASE_URL,
                      archives: Mapping[str, str] = OMNIGLOT_ARCHIVES) -> Path:
    """Fetch, MD5-check and unzip each archive into `cache_dir/<archive stem>/`; returns cache_dir.

    Archives already extracted are skipped. Each one lands by a single rename, so a failure
    leaves the cache as it was. Any failure raises DatasetUnavailable. `progress(done_bytes,
    total_bytes)` is called per chunk of each archive (total 0 if the server sends no length).
    """
    cache_dir = Path(cache_dir).expanduser()
    base_url = base_url.rstrip("/") + "/"
    help_text = _how_to_provide(cache_dir, base_url, archives)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetUnavailable(f"Cannot create the cache {cache_dir} ({err}). "
                                 f"{help_text}") from err
    for name, md5 in archives.items():
        target = cache_dir / Path(name).stem
        if not target.is_dir():
            _install(base_url + name, md5, target, progress, help_text)
    return cache_dir


def _install(url: str, md5: str, target: Path, progress: Progress | None, help_text: str) -> None:
    """Download `url` beside `target`, check its MD5, unzip it and move it into place."""
    part = extracted = None
    try:
        fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".part")
        with os.fdopen(fd, "wb") as file:
            digest = _fetch(url, file, progress)
        if digest != md5:
            raise DatasetUnavailable(f"{url} failed its checksum (MD5 {digest}, expected {md5}); "
                                     f"the cache {target.parent} was left as it was. {help_text}")
        extracted = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
        with zipfile.ZipFile(part) as archive:
            archive.extractall(extracted)
        inner = extracted / target.name  # the official zips hold one folder named like the zip
        os.replace(inner if inner.is_dir() else extracted, target)
    except (OSError, http.client.HTTPException, zipfile.BadZipFile) as err:
        raise DatasetUnavailable(f"Could not fetch and unpack {url} into {target} ({err}). "
                                 f"{help_text}") from err
    finally:
        if part is not None:
            Path(part).unlink(missing_ok=True)
        if extracted is not None and extracted.is_dir():
            shutil.rmtree(extracted)


def _fetch(url: str, file: BinaryIO, progress: Progress | None) -> str:
    """Stream `url` into `file`, reporting progress; returns the MD5 hex digest of the bytes."""
    md5 = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while chunk := response.read(_CHUNK):
            file.write(chunk)
            md5.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return md5.hexdigest()


def _how_to_provide(destination: Path | None, base_url: str = OMNIGLOT_BASE_URL,
                    archives: Mapping[str, str] = OMNIGLOT_ARCHIVES) -> str:
    """The instructions for getting the data by hand, unzipping into `destination` if given."""
    urls = " and ".join(base_url + name for name in archives)
    into = f"unzip them into {destination}, or " if destination is not None else ""
    return (f"To provide Omniglot by hand, download {urls}; {into}pass data_dir (--data-dir) "
            "a folder holding those zips or their extracted folders.")


def load_omniglot(data_dir: Path | str | None = None, image_size: int = 28,
                  download: bool = True, progress: Progress | None = None) -> OmniglotData:
    """All Omniglot characters, from `data_dir` if given, else the user cache (or a download).

    `data_dir` holds the extracted folders (images_background/, images_evaluation/) and/or the
    zips. Decoded arrays are cached in memory and as omniglot_<size>px.npz in that folder.
    `download=False` raises DatasetUnavailable instead of fetching; `progress` as in
    download_omniglot.
    """
    _check_image_size(image_size)
    if data_dir is not None:
        root = Path(data_dir).expanduser().resolve()
        if not root.is_dir():
            raise DatasetUnavailable(f"data_dir {root} is not a folder. {_how_to_provide(root)}")
        return _load_root(root, image_size)
    root = default_cache_dir()
    if not all((root / Path(name).stem).is_dir() for name in OMNIGLOT_ARCHIVES):
        if not download:
            raise DatasetUnavailable(f"Omniglot is not in the cache {root} and downloading is "
                                     f"off. {_how_to_provide(root)}")
        download_omniglot(root, progress)
    return _load_root(root.resolve(), image_size)


# --- meta-train / meta-validation / meta-test by alphabet --------------------------------------

def split_alphabets(alphabets: Iterable[str], test: Sequence[str] | None = None,
                    validation: Sequence[str] | None = None,
                    n_validation: int = 1) -> dict[str, list[str]]:
    """Disjoint "train" / "validation" / "test" alphabet lists (sorted), deterministic.

    `alphabets` may be the dict from OmniglotData.by_alphabet(). `test` defaults to
    DEFAULT_TEST_ALPHABETS; `validation` to the first `n_validation` other alphabets in sorted
    order; every remaining alphabet trains, so no test character is ever seen in training.
    """
    if n_validation < 0:
        raise ValueError(f"n_validation must be >= 0, got {n_validation}")
    names = sorted(set(alphabets))
    test = sorted(DEFAULT_TEST_ALPHABETS if test is None else test)
    rest = [a for a in names if a not in test]
    validation = sorted(rest[:n_validation] if validation is None else validation)
    unknown = sorted(set(test + validation) - set(names))
    if unknown:
        raise ValueError(f"unknown alphabets {unknown}; the data has {names}")
    if set(test) & set(validation):
        raise ValueError(f"alphabets {sorted(set(test) & set(validation))} are in both test "
                         "and validation")
    train = [a for a in rest if a not in validation]
    if not train:
        raise ValueError(f"no alphabet left to train on: test {test}, validation {validation}")
    return {"train": train, "validation": validation, "test": test}


def split_by_alphabet(data: OmniglotData, test: Sequence[str] | None = None,
                      validation: Sequence[str] | None = None,
                      n_validation: int = 1) -> dict[str, np.ndarray]:
    """Class indices (int64, ascending) of each split in SPLITS; see split_alphabets."""
    groups = data.by_alphabet()
    split = split_alphabets(groups, test, validation, n_validation)
    return {name: np.concatenate([np.empty(0, np.int64), *(groups[a] for a in split[name])])
            for name in SPLITS}
