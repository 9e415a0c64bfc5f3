"""A saved run as a self-describing file: a JSON manifest plus its tensors in one safetensors file
(raw little-endian arrays under a JSON header, never pickle), zipped together."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import math
import platform
import types
import typing
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Union

import numpy as np
import safetensors.numpy
import torch
from safetensors import SafetensorError
from torch import Tensor

from core.engine.algorithms import AdaptPlan, all_result_names
from core.engine.events import Checkpoint, MethodResult, Progress
from core.runspec import RunSpec
from core.settings import SettingError

FORMAT = "meta-lab run"
SCHEMA_VERSION = 1  # bump when the manifest's meaning changes; readers refuse other versions
MAX_FILE_BYTES = 50 * 2**20  # an upload or import larger than this is refused unread
MAX_UNPACKED_BYTES = 200 * 2**20  # zip-bomb guard: the declared unpacked size of every entry
MAX_ENTRIES = 20_000
MAX_DIMS = 8
MANIFEST, CHECKSUM = "manifest.json", "manifest.sha256"
TENSORS = "tensors.safetensors"  # every tensor, keyed as the manifest names them
LEGACY_TENSOR = "tensors/{}.bin"  # files written before safetensors: one raw array per entry
# Stored dtype name -> (little-endian numpy dtype, torch dtype); nothing else is read back.
DTYPES = {"float32": ("<f4", torch.float32), "float64": ("<f8", torch.float64),
          "float16": ("<f2", torch.float16), "int64": ("<i8", torch.int64),
          "int32": ("<i4", torch.int32), "uint8": ("|u1", torch.uint8), "bool": ("|b1", torch.bool)}
TORCH_NAMES = {t: name for name, (_, t) in DTYPES.items()}
# The only classes a manifest may build; their fields are type-checked against the annotations.
CLASSES = {cls.__name__: cls for cls in (MethodResult, Progress, Checkpoint, AdaptPlan)}


class RunFileError(ValueError):
    """A run file or stored run that cannot be read; the message is one sentence."""


@dataclass
class SavedRun:
    """One comparison as it is kept: its name, when, the settings, and every result."""

    name: str
    created: str  # ISO 8601, UTC
    settings: dict[str, Any]  # RunSpec.as_dict(): family, family_settings, methods, train, seeds
    versions: dict[str, str]  # library versions that produced the numbers
    results: list[MethodResult]

    def spec(self) -> RunSpec:
        """The settings as a RunSpec (checked when the run was read)."""
        return run_spec(self.settings)


def library_versions() -> dict[str, str]:
    """The versions that decide the numbers: Python, torch, numpy, and the file schema."""
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "schema": str(SCHEMA_VERSION)}


# --- tensors as raw bytes --------------------------------------------------------------------

def tensor_bytes(t: Tensor, dtype: torch.dtype | None = None) -> tuple[dict[str, Any], bytes]:
    """A tensor's metadata (dtype, shape, sha256, dtype to restore) and raw little-endian bytes."""
    stored = t.detach().cpu().to(dtype or t.dtype).contiguous()
    if stored.dtype not in TORCH_NAMES:
        raise RunFileError(f"cannot store tensors of dtype {stored.dtype}")
    data = stored.numpy().astype(DTYPES[TORCH_NAMES[stored.dtype]][0], copy=False).tobytes()
    meta = {"dtype": TORCH_NAMES[stored.dtype], "shape": list(stored.shape),
            "sha256": hashlib.sha256(data).hexdigest(),
            "restore": TORCH_NAMES.get(t.dtype, TORCH_NAMES[stored.dtype])}
    return meta, data


def tensor_from_bytes(key: str, meta: Any, data: bytes) -> Tensor:
    """The tensor back from its bytes, after checking dtype, shape, length and checksum."""
    if not isinstance(meta, dict) or meta.get("dtype") not in DTYPES or \
            meta.get("restore", meta.get("dtype")) not in DTYPES:
        raise RunFileError(f"tensor {key} has an unknown dtype")
    shape = meta.get("shape")
    if not (isinstance(shape, list) and len(shape) <= MAX_DIMS and
            all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise RunFileError(f"tensor {key} has an invalid shape")
    np_dtype = np.dtype(DTYPES[meta["dtype"]][0])
    if len(data) != math.prod(shape) * np_dtype.itemsize:
        raise RunFileError(f"tensor {key} has {len(data)} bytes, not what its shape needs")
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise RunFileError(f"tensor {key} does not match its checksum (the file was altered)")
    array = np.frombuffer(data, dtype=np_dtype).reshape(shape)
    return torch.from_numpy(array.copy()).to(DTYPES[meta.get("restore", meta["dtype"])][1])


# --- results as a JSON tree with tensor references ---------------------------------------------

class _Packer:
    """Turns results into a JSON tree; tensors become {"tensor": key} with their bytes kept aside."""

    def __init__(self, params_dtype: torch.dtype | None) -> None:
        self.params_dtype = params_dtype
        self.meta: dict[str, dict] = {}
        self.blobs: dict[str, bytes] = {}

    def tensor(self, t: Tensor, dtype: torch.dtype | None = None) -> dict:
        key = f"t{len(self.blobs)}"
        self.meta[key], self.blobs[key] = tensor_bytes(t, dtype)
        return {"tensor": key}

    def pack(self, value: Any, in_params: bool = False) -> Any:
        if isinstance(value, Tensor):
            cast = self.params_dtype if in_params and value.is_floating_point() else None
            return self.tensor(value, cast)
        if type(value).__name__ in CLASSES:  # a known dataclass or named tuple
            return {"type": type(value).__name__,
                    "fields": {name: self.pack(getattr(value, name), name == "params")
                               for name in _field_names(type(value))}}
        if isinstance(value, dict):
            return {"dict": {str(k): self.pack(v, in_params) for k, v in value.items()}}
        if isinstance(value, (list, tuple)):
            return {"list": [self.pack(v, in_params) for v in value]}
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        raise RunFileError(f"cannot store a value of type {type(value).__name__}")


class _Unpacker:
    """Builds results back from a JSON tree, resolving tensor references; only known classes."""

    def __init__(self, meta: dict, blobs: dict[str, bytes]) -> None:
        self.meta, self.blobs = meta, blobs

    def unpack(self, node: Any) -> Any:
        if node is None or isinstance(node, (str, bool, int, float)):
            return node
        if not isinstance(node, dict) or len(node) not in (1, 2):
            raise RunFileError("the manifest holds a value of unknown form")
        if "tensor" in node:
            key = node["tensor"]
            if key not in self.blobs:
                raise RunFileError(f"the manifest names a tensor {key!r} the file does not hold")
            return tensor_from_bytes(key, self.meta.get(key), self.blobs[key])
        if "list" in node and isinstance(node["list"], list):
            return [self.unpack(v) for v in node["list"]]
        if "dict" in node and isinstance(node["dict"], dict):
            return {k: self.unpack(v) for k, v in node["dict"].items()}
        if node.get("type") in CLASSES and isinstance(node.get("fields"), dict):
            return self.instance(CLASSES[node["type"]], node["fields"])
        raise RunFileError("the manifest holds a value of unknown form")

    def instance(self, cls: type, fields: dict) -> Any:
        hints = _hints(cls)
        # Fields a newer writer added are dropped; fields it lacks take their defaults.
        values = {k: _tuples_back(self.unpack(v), hints[k]) for k, v in fields.items()
                  if k in _field_names(cls)}
        try:
            instance = cls(**values)
        except TypeError:
            raise RunFileError(f"a stored {cls.__name__} lacks required fields") from None
        for name in values:
            if not _matches(values[name], hints[name]):
                raise RunFileError(f"a stored {cls.__name__} has an invalid {name}")
        return instance


def _field_names(cls: type) -> tuple[str, ...]:
    """The fields of a dataclass or a named tuple, in order."""
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    return cls._fields


def _tuples_back(value: Any, hint: Any) -> Any:
    """JSON has no tuples: a list read for a field declared as a tuple becomes one again."""
    arms = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
    wants_tuple = any(typing.get_origin(a) is tuple for a in arms)
    return tuple(value) if wants_tuple and isinstance(value, list) else value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _matches(value: Any, hint: Any) -> bool:
    """Whether a value read back has the type its dataclass field declares."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is float:
        return _is(value, (int, float))
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, str):
        return _is(value, hint)
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin is tuple:  # only the tuple[X, ...] form is stored
        return isinstance(value, tuple) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(k, args[0]) and _matches(v, args[1])
                                               for k, v in value.items())
    return isinstance(hint, type) and isinstance(value, hint)


# --- checks of what was read ---------------------------------------------------------------------

def _is(value: Any, kind: type | tuple) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def run_spec(settings: Any) -> RunSpec:
    """The RunSpec of saved settings (RunFileError unless this lab can rebuild the run); no data
    is read (building a family never reads it)."""
    try:
        return RunSpec.from_dict(settings)
    except SettingError as err:
        raise RunFileError(f"the run's settings are invalid: {err}") from None


def _check_result(r: Any, settings: dict) -> None:
    if not isinstance(r, MethodResult):
        raise RunFileError("the run's results are not method results")
    steps = len(settings["train"]["eval_steps"])
    if r.method not in all_result_names(settings["methods"]) or r.seed not in settings["seeds"]:
        raise RunFileError(f"a result ({r.method!r}, seed {r.seed!r}) is not in the run's settings")
    if not r.scores or any(s.dim() != 2 or s.shape[0] != steps or not s.is_floating_point()
                           for s in r.scores.values()):
        raise RunFileError(f"the {r.method} result's scores do not match its {steps} test steps")


# --- manifest ⇄ run ----------------------------------------------------------------------------

def encode(run: SavedRun, params_dtype: torch.dtype | None = None) -> tuple[dict, dict[str, bytes]]:
    """The run as a JSON-friendly manifest and its tensors' bytes by key.

    `params_dtype` (e.g. torch.float16) shrinks the trained parameters; they load back as float32.
    """
    packer = _Packer(params_dtype)
    results = [packer.pack(r) for r in run.results]
    manifest = {"format": FORMAT, "schema": SCHEMA_VERSION, "name": run.name, "created": run.created,
                "settings": run.settings, "versions": run.versions, "results": results,
                "tensors": packer.meta}
    return manifest, packer.blobs


def decode(manifest: Any, blobs: dict[str, bytes]) -> SavedRun:
    """The run back from a manifest and tensor bytes, every part checked (RunFileError if not)."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RunFileError("this is not a meta-lab run file")
    if manifest.get("schema") != SCHEMA_VERSION:
        raise RunFileError(f"the run file has schema version {manifest.get('schema')!r}; "
                           f"this lab reads version {SCHEMA_VERSION}")
    name, created, versions = manifest.get("name"), manifest.get("created"), manifest.get("versions")
    if not (isinstance(name, str) and isinstance(created, str) and isinstance(versions, dict)
            and isinstance(manifest.get("tensors"), dict) and isinstance(manifest.get("results"), list)):
        raise RunFileError("the run file's manifest is incomplete")
    run_spec(manifest.get("settings"))
    unpacker = _Unpacker(manifest["tensors"], blobs)
    try:
        results = [unpacker.unpack(node) for node in manifest["results"]]
    except RecursionError:
        raise RunFileError("the run file's manifest is nested too deeply") from None
    for r in results:
        _check_result(r, manifest["settings"])
    return SavedRun(name, created, manifest["settings"], {str(k): str(v) for k, v in versions.items()},
                    results)


# --- the zip file ------------------------------------------------------------------------------

def to_bytes(run: SavedRun, params_dtype: torch.dtype | None = None) -> bytes:
    """The run as one zip: manifest.json, its sha256, and tensors.safetensors."""
    return container(*encode(run, params_dtype))


def container(manifest: dict, blobs: dict[str, bytes]) -> bytes:
    """A manifest and its tensors' bytes as a run file (also rewrites a legacy file unchanged)."""
    text = json.dumps(manifest, indent=1).encode()
    meta = manifest["tensors"]
    arrays = {key: np.frombuffer(data, dtype=DTYPES[meta[key]["dtype"]][0]).reshape(meta[key]["shape"])
              for key, data in blobs.items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, text)
        zf.writestr(CHECKSUM, hashlib.sha256(text).hexdigest())
        zf.writestr(TENSORS, safetensors.numpy.save(arrays))
    return buffer.getvalue()


def unpacked_bytes(data: bytes) -> int:
    """What a run file's entries declare they unpack to, about what a store holds of it (read
    from the zip's directory alone; RunFileError if the file is no readable zip)."""
    with _damage_as_run_file_error():
        return sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())


@contextmanager
def _damage_as_run_file_error() -> Iterator[None]:
    try:
        yield
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError) as err:
        if isinstance(err, RunFileError):
            raise
        raise RunFileError("the run file is truncated or damaged (not a readable zip archive)") from None


def _read_entries(data: bytes) -> dict[str, bytes]:
    with _damage_as_run_file_error():
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
            raise RunFileError("the run file unpacks to more than the lab accepts")
        entries = {}
        for info in infos:
            with zf.open(info) as member:
                entries[info.filename] = member.read(info.file_size + 1)
            if len(entries[info.filename]) != info.file_size:
                raise RunFileError("the run file's entries are not the size they declare")
        return entries


def from_bytes(data: bytes) -> SavedRun:
    """A run from a file's bytes, refusing anything oversized, truncated, altered or foreign."""
    return decode(*read_container(data))


def read_container(data: bytes) -> tuple[Any, dict[str, bytes]]:
    """A run file's manifest (checksum verified) and its tensors' bytes, not yet decoded."""
    if len(data) > MAX_FILE_BYTES:
        raise RunFileError(f"the run file is larger than the {MAX_FILE_BYTES // 2**20} MB the lab accepts")
    entries = _read_entries(data)
    if MANIFEST not in entries or CHECKSUM not in entries:
        raise RunFileError("this is not a meta-lab run file (it has no manifest)")
    if hashlib.sha256(entries[MANIFEST]).hexdigest() != entries[CHECKSUM].decode("ascii", "replace"):
        raise RunFileError("the run file's manifest does not match its checksum (the file was altered)")
    try:
        manifest = json.loads(entries[MANIFEST])
    except (ValueError, RecursionError):
        raise RunFileError("the run file's manifest is not valid JSON") from None
    tensors = manifest.get("tensors") if isinstance(manifest, dict) else None
    tensors = tensors if isinstance(tensors, dict) else {}
    if TENSORS in entries:
        return manifest, _safetensors_blobs(entries, tensors)
    if set(entries) != {MANIFEST, CHECKSUM} | {LEGACY_TENSOR.format(k) for k in tensors}:
        raise RunFileError("the run file holds entries its manifest does not list, or lacks some")
    return manifest, {k: entries[LEGACY_TENSOR.format(k)] for k in tensors}


def _safetensors_blobs(entries: dict[str, bytes], tensors: dict) -> dict[str, bytes]:
    """The raw bytes of each tensor in tensors.safetensors, which must hold the manifest's keys."""
    if set(entries) != {MANIFEST, CHECKSUM, TENSORS}:
        raise RunFileError("the run file holds entries its manifest does not list, or lacks some")
    try:
        arrays = safetensors.numpy.load(entries[TENSORS])
    except SafetensorError:
        raise RunFileError("the run file's tensors are damaged (not a readable safetensors file)") from None
    if set(arrays) != set(tensors):
        raise RunFileError("the run file holds tensors its manifest does not list, or lacks some")
    # The manifest stays the authority: tensor_from_bytes checks dtype, shape and SHA-256 of these.
    return {key: array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            for key, array in arrays.items()}
