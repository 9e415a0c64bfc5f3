"""Omniglot (Lake, Salakhutdinov & Tenenbaum, Science 2015) as ink arrays, split by alphabet.

Reads the official layout `<split>/<alphabet>/<character>/<drawing>.png` from zips or folders,
looking only at that layout (fixed depth, a capped number of files), downloads the official
archives into a user cache when asked, and keeps the decoded arrays in memory and as a compressed
.npz inside the user cache, so a second start skips the PNG decoding. Data provenance and the
cache's layout: docs/data.md.
"""
from __future__ import annotations

import hashlib
import http.client
import io
import os
import shutil
import tempfile
import urllib.error
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

from core import userdirs
from core.data import cached_data
from core.settings import excerpt

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
# Entries a read may look at, over all its sources: Omniglot has 32 460 drawings in ~1 700
# folders, so this never cuts real data and stops a wrong folder within a fraction of a second.
MAX_ENTRIES = 100_000
MAX_PNG_BYTES = 1 << 20  # Omniglot's drawings are under 1 kB each


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


@cached_data(maxsize=4)
def _load_archives(paths: tuple[Path, ...], image_size: int) -> OmniglotData:
    """Decode the merged drawings once per (paths, image_size)."""
    where = excerpt(", ".join(map(str, paths)) or "no paths")
    scan = _Scan(where)
    drawings: dict[tuple[str, str], list[bytes]] = {}
    try:
        for path in paths:
            for key, pngs in _drawings_by_character(path, scan).items():
                drawings.setdefault(key, pngs)
    except (OSError, zipfile.BadZipFile) as err:
        raise DatasetUnavailable(f"Could not read Omniglot drawings from {where} "
                                 f"({_reason(err)}).") from err
    if not drawings:
        raise DatasetUnavailable(f"No Omniglot drawings (<alphabet>/<character>/<drawing>.png) "
                                 f"in {where}; {_WANTED}.")
    keys = sorted(drawings)
    _check_equal_counts(drawings, keys)
    # Decoding only the kept characters: duplicates cost a zip read, not a PNG decode.
    ink = np.array([[_decode(png, image_size) for png in drawings[k]] for k in keys], np.uint8)
    return _from_ink(ink, tuple(a for a, _ in keys), tuple(c for _, c in keys))


def _drawings_by_character(path: Path, scan: "_Scan") -> dict[tuple[str, str], list[bytes]]:
    """(alphabet, character) -> its drawings' PNG bytes in file-name order."""
    groups: dict[tuple[str, str], list[bytes]] = {}
    for (alphabet, character, _), png in sorted(_png_files(path, scan)):
        groups.setdefault((alphabet, character), []).append(png)
    return groups


def _png_files(path: Path, scan: "_Scan") -> Iterator[tuple[tuple[str, str, str], bytes]]:
    """((alphabet, character, drawing), bytes) of the PNGs of a folder or zip laid out as
    `<alphabet>/<character>/<drawing>.png` (in a zip, optionally under one top folder)."""
    if path.is_dir():
        for alphabet in scan.folders(path):
            for character in scan.folders(alphabet):
                for drawing in scan.files(character, ".png"):
                    yield (alphabet.name, character.name, drawing.name), _read_small(drawing)
        return
    with zipfile.ZipFile(path) as archive:
        for info in scan.count(archive.infolist()):
            parts = PurePosixPath(info.filename).parts
            if info.filename.endswith(".png") and len(parts) in (3, 4):
                _check_size(info.file_size, path)
                yield (parts[-3], parts[-2], parts[-1]), archive.read(info)


class _Scan:
    """Lists folders for one read, counting every entry against MAX_ENTRIES."""

    def __init__(self, where: str) -> None:
        self.where, self.seen = where, 0

    def count(self, entries: list) -> list:
        self.seen += len(entries)
        if self.seen > MAX_ENTRIES:
            raise DatasetUnavailable(f"{self.where} holds more than {MAX_ENTRIES} files where "
                                     "Omniglot's <alphabet>/<character>/<drawing>.png should be, "
                                     "so it is not an Omniglot folder.")
        return entries

    def _visible(self, folder: Path) -> list[os.DirEntry]:
        with os.scandir(folder) as entries:
            listed = self.count(list(entries))
        return sorted((e for e in listed if not e.name.startswith(".")), key=lambda e: e.name)

    def folders(self, folder: Path | os.DirEntry) -> list[os.DirEntry]:
        """The visible sub-folders of `folder`, sorted by name."""
        return [e for e in self._visible(Path(folder)) if e.is_dir()]

    def files(self, folder: Path | os.DirEntry, suffix: str) -> list[os.DirEntry]:
        """The visible files of `folder` ending in `suffix`, sorted by name."""
        return [e for e in self._visible(Path(folder)) if e.name.endswith(suffix) and e.is_file()]


def _read_small(entry: os.DirEntry) -> bytes:
    _check_size(entry.stat().st_size, Path(entry.path).parent)
    with open(entry.path, "rb") as file:
        return file.read()


def _check_size(size: int, where: Path) -> None:
    if size > MAX_PNG_BYTES:
        raise DatasetUnavailable(f"{_quote(where)} holds a PNG of {size} bytes, but Omniglot's "
                                 "drawings are under 1 kB, so it is not an Omniglot folder.")


def _quote(path: Path | str) -> str:
    """A path as a short quoted excerpt: messages never echo a long value whole."""
    return excerpt(str(path))


def _decode(png: bytes, image_size: int) -> np.ndarray:
    """One drawing as uint8 ink (255 = full ink), image_size x image_size."""
    with Image.open(io.BytesIO(png)) as image:
        gray = image.convert("L")  # the PNGs are 1-bit; a smooth downsampling needs grey levels
    return ink_from_grey(gray, image_size)


# --- the one preprocessing of a drawing: the reader above and the Draw page's canvases --------

def ink_from_grey(gray: Image.Image, image_size: int) -> np.ndarray:
    """A drawing in grey levels (dark ink on white paper) as uint8 ink (255 = full ink) of
    image_size x image_size: resized as a whole (no cropping or centring), then inverted."""
    if gray.size != (image_size, image_size):
        # LANCZOS, as in the 28x28 Omniglot of Finn et al.'s MAML code.
        gray = gray.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return 255 - np.asarray(gray, dtype=np.uint8)


MAX_CANVAS_SIDE = 1024  # a canvas image larger than this is refused before any work


def ink_from_rgba(rgba: np.ndarray, image_size: int) -> np.ndarray:
    """A canvas's pixels (H, W, 4) uint8 RGBA, strokes on a transparent or white background, as
    the family's float32 image (image_size², ink = 1 on black): laid on white paper, made grey,
    then `ink_from_grey` like every Omniglot drawing."""
    rgba = np.asarray(rgba)
    if (rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8
            or not 1 <= min(rgba.shape[:2]) <= max(rgba.shape[:2]) <= MAX_CANVAS_SIDE):
        raise ValueError(f"a canvas image is (height, width, 4) uint8 of at most "
                         f"{MAX_CANVAS_SIDE} px a side, got {rgba.dtype} {rgba.shape}")
    paper = Image.new("RGBA", (rgba.shape[1], rgba.shape[0]), "white")
    paper.alpha_composite(Image.fromarray(np.ascontiguousarray(rgba), "RGBA"))
    return unit_ink(ink_from_grey(paper.convert("L"), image_size))


def unit_ink(ink: np.ndarray) -> np.ndarray:
    """uint8 ink as float32 in [0, 1], the values the models see."""
    return ink.astype(np.float32) / 255.0


# Drawings unlike any character, measured on the 4 840 drawings of the two small splits at 28 px
# (docs/draw.md): their mean ink lies in 0.019–0.198 and the ink (> 0.5) spans at least 8 px across; the bounds
# below leave a wide margin, so every Omniglot drawing passes (tests/test_draw.py).
INK_BOUNDS = (0.01, 0.30)  # mean ink of a 28 px image
MIN_SPAN = 6 / 28  # the inked extent, as a fraction of the side


def drawing_problem(image: np.ndarray) -> str | None:
    """Why a preprocessed drawing (H, W floats, ink = 1) is unlike any character: "empty",
    "dot" (too little ink, or all within a tiny spot) or "filled" (too much ink); None if fine."""
    mean = float(image.mean())
    if mean < 1e-3:
        return "empty"
    if mean > INK_BOUNDS[1]:
        return "filled"
    if mean < INK_BOUNDS[0] or _span(image > 0.5) < MIN_SPAN * image.shape[-1]:
        return "dot"
    return None


def _span(inked: np.ndarray) -> int:
    """How many pixels the inked pixels extend across, in the longer direction (0: none)."""
    rows, cols = np.flatnonzero(inked.any(1)), np.flatnonzero(inked.any(0))
    if rows.size == 0:
        return 0
    return int(max(rows[-1] - rows[0], cols[-1] - cols[0])) + 1


def original_drawings(data_dir: Path | str, alphabets: Sequence[str], per_alphabet: int,
                      drawings: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """The first `per_alphabet` characters of each alphabet (sorted), first `drawings` drawings of
    each, at their original size as black ink on white (uint8 grey, 0 = ink), and their names:
    (characters, drawings, 105, 105) and "<alphabet> <character>" per character."""
    root = Path(data_dir).expanduser().resolve()
    found: dict[tuple[str, str], list[bytes]] = {}
    for source in _sources(root):
        for key, pngs in _drawings_by_character(source, _Scan(excerpt(str(source)))).items():
            found.setdefault(key, pngs)
    keys = [k for a in alphabets for k in sorted(k for k in found if k[0] == a)[:per_alphabet]]
    if not keys:
        raise DatasetUnavailable(f"none of the alphabets {list(alphabets)} is in data_dir")

    def grey(png: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(png)) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8)
    images = np.array([[grey(png) for png in found[k][:drawings]] for k in keys])
    return images, tuple(f"{a} {c}" for a, c in keys)


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
    images = unit_ink(ink)  # (classes, drawings, H, W)
    images.setflags(write=False)
    return OmniglotData(images, alphabets, characters)


# --- a data folder and its .npz cache ---------------------------------------------------------

_WANTED = ("it should hold images_background.zip and images_evaluation.zip from "
           f"{OMNIGLOT_BASE_URL} (or other Omniglot zips) or their extracted images_* folders")


@cached_data(maxsize=4)
def _load_root(root: Path, image_size: int) -> OmniglotData:
    """The data in folder `root`, from its .npz in the user cache if made from the same sources."""
    sources = _sources(root)
    if not sources:
        raise DatasetUnavailable(f"data_dir {_quote(root)} holds no Omniglot zips or images_* "
                                 f"folders; {_WANTED}.")
    names = [p.name for p in sources]
    npz = decoded_cache_path(root, image_size)
    data = _read_npz(npz, names)
    if data is None:
        data = _load_archives(tuple(sources), image_size)
        _write_npz(npz, data, names)
    return data


def _sources(root: Path) -> list[Path]:
    """The `images_*` folders in `root`, then its zips; hidden entries are a download in progress.

    Only these names are looked at, so a folder that is not Omniglot's costs one listing."""
    try:
        with os.scandir(root) as entries:
            visible = sorted(Path(e.path) for e in entries if not e.name.startswith("."))
        folders = [p for p in visible if p.name.startswith("images_") and p.is_dir()]
        return folders + [p for p in visible if p.suffix == ".zip" and p.is_file()]
    except OSError as err:
        raise DatasetUnavailable(f"data_dir {_quote(root)} cannot be read "
                                 f"({_reason(err)}).") from err


def decoded_cache_path(root: Path, image_size: int) -> Path:
    """Where the decoded arrays of data folder `root` are cached: in the user cache, keyed by the
    folder, so nothing is ever written beside the data."""
    key = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return default_cache_dir() / "decoded" / f"{key}-{image_size}px.npz"


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
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "xb") as file:
            np.savez_compressed(file, ink=np.rint(data.images * 255).astype(np.uint8),
                                alphabets=np.array(data.alphabets),
                                characters=np.array(data.characters), sources=np.array(sources))
        os.replace(part, path)
    except OSError as err:
        part.unlink(missing_ok=True)
        warnings.warn(f"could not cache decoded Omniglot in {path} ({_reason(err)}); the next "
                      "start will decode the PNGs again", stacklevel=4)


# --- the user cache and the download -----------------------------------------------------------

def default_cache_dir() -> Path:
    """$META_LAB_CACHE/omniglot if set, else omniglot/ in the platform's user cache folder."""
    return userdirs.cache_dir("omniglot")


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


def _how_to_provide(destination: Path, base_url: str = OMNIGLOT_BASE_URL,
                    archives: Mapping[str, str] = OMNIGLOT_ARCHIVES) -> str:
    """The instructions for getting the data by hand, unzipping into `destination`."""
    urls = " and ".join(base_url + name for name in archives)
    return (f"To provide Omniglot by hand, download {urls}; unzip them into {destination}, or "
            "pass data_dir (--data-dir) a folder holding those zips or their extracted folders.")


def _reason(err: BaseException | None) -> str:
    """Why an operation failed, without the path an OSError carries, in at most 60 characters."""
    if isinstance(err, OSError) and err.filename is not None and not isinstance(
            err, urllib.error.URLError):  # an HTTPError's "filename" is its URL, not a path
        return err.strerror or type(err).__name__
    return excerpt(str(err) or type(err).__name__).strip("'\"")


def load_omniglot(data_dir: Path | str | None = None, image_size: int = 28,
                  download: bool = True, progress: Progress | None = None) -> OmniglotData:
    """All Omniglot characters, from `data_dir` if given, else the user cache (or a download).

    `data_dir` holds the extracted folders (images_background/, images_evaluation/) and/or the
    zips; nothing else in it is looked at and nothing is written into it. Decoded arrays are
    cached in memory and as an .npz in the user cache (decoded_cache_path). Without `data_dir`
    this is load_cached_omniglot.
    """
    _check_image_size(image_size)
    if data_dir is None:
        return load_cached_omniglot(image_size, download, progress)
    try:  # a name too long or holding a NUL byte raises rather than answering False
        root = Path(data_dir).expanduser().resolve()
        is_folder = root.is_dir()
    except (OSError, ValueError, RuntimeError):
        is_folder = False
    if not is_folder:
        raise DatasetUnavailable(f"data_dir {_quote(data_dir)} is not a folder; {_WANTED}.")
    return _load_root(root, image_size)


def load_cached_omniglot(image_size: int = 28, download: bool = False,
                         progress: Progress | None = None) -> OmniglotData:
    """All Omniglot characters from the user cache (default_cache_dir) only: what a hosted app
    calls. Downloads into the cache only when `download`; `progress` as in download_omniglot.
    Its messages are one sentence and name no folder of this machine.
    """
    _check_image_size(image_size)
    root = default_cache_dir()
    if not all((root / Path(name).stem).is_dir() for name in OMNIGLOT_ARCHIVES):
        if not download:
            raise DatasetUnavailable("Omniglot is not in the data cache (META_LAB_CACHE) and "
                                     "downloading is off; turn download on, or see docs/data.md.")
        try:
            download_omniglot(root, progress)
        except DatasetUnavailable as err:
            why = _reason(err.__cause__) if err.__cause__ else "an archive failed its checksum"
            raise DatasetUnavailable(f"Omniglot could not be downloaded into the data cache "
                                     f"({why}).") from err
    try:
        return _load_root(root.resolve(), image_size)
    except DatasetUnavailable as err:
        why = _reason(err.__cause__) if err.__cause__ else "not Omniglot's layout"
        raise DatasetUnavailable(f"The Omniglot in the data cache could not be read "
                                 f"({why}).") from err


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
