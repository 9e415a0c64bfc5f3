"""Runs that outlast the process: an embedded SQLite store (WAL, versioned schema, one transaction per run)."""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from core import userdirs
from core.engine.events import MethodResult
from core.runs.runfile import (MAX_FILE_BYTES, RunFileError, SavedRun, decode, encode, from_bytes,
                               library_versions, run_spec, to_bytes)
from core.runspec import RunSpec

STORE_SCHEMA = 1  # PRAGMA user_version of a store this code created; others are refused
FILE_NAME = "runs.sqlite"
BUSY_TIMEOUT_S = 10.0  # how long a save waits for another process's save to finish
MAX_NAME = 120
MEMORY = ":memory:"

_TABLES = ("""
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    summary TEXT NOT NULL,   -- JSON: family, methods, iterations, seeds (for listing)
    manifest TEXT NOT NULL   -- JSON: the run file's manifest without its name
)""", """
CREATE TABLE tensors (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    data BLOB NOT NULL,      -- raw little-endian array; dtype, shape, sha256 in the manifest
    PRIMARY KEY (run_id, key)
)""")


class StoreError(RuntimeError):
    """The run store cannot do what was asked; the message is one sentence."""


def default_path() -> Path:
    """`$META_LAB_HOME/runs.sqlite`, else runs.sqlite in the platform's user data folder."""
    return userdirs.data_dir() / FILE_NAME


def check_name(name: Any) -> str:
    """A run name stripped of surrounding spaces; StoreError unless 1–120 printable characters."""
    if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME or not name.isprintable():
        raise StoreError(f"a run name must be 1 to {MAX_NAME} printable characters")
    return name.strip()


@dataclass(frozen=True)
class RunSummary:
    """What a listing shows of a run without loading it."""

    name: str
    created: str
    family: str
    methods: tuple[str, ...]
    iterations: int
    seeds: tuple[int, ...]

    def line(self) -> str:
        """One line: name, family, methods, budget, date."""
        seeds = f"{len(self.seeds)} seed{'s' * (len(self.seeds) > 1)}"
        return (f"{self.name}  {self.family}  {','.join(self.methods)}  "
                f"{self.iterations} iterations × {seeds}  {self.created[:16].replace('T', ' ')} UTC")


def _summary(settings: dict) -> dict:
    return {"family": settings["family"], "methods": settings["methods"],
            "iterations": settings["train"]["iterations"], "seeds": settings["seeds"]}


class RunStore:
    """Saved runs in one SQLite file (or in memory with MEMORY); safe across threads and processes."""

    def __init__(self, path: str | Path = MEMORY, timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = str(path)
        self._lock = threading.Lock()  # one connection shared by the app's threads
        with self._errors():
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != MEMORY:
                self._db.execute("PRAGMA journal_mode = WAL")
            self._setup()

    @property
    def in_memory(self) -> bool:
        """Whether runs vanish with this object."""
        return self.path == MEMORY

    def _setup(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    raise StoreError(f"{self.path} is an SQLite file but not a run store")
                for statement in _TABLES:  # not executescript: it would COMMIT mid-transaction
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {STORE_SCHEMA}")
            elif version != STORE_SCHEMA:
                raise StoreError(f"the run store {self.path} has schema version {version}; "
                                 f"this lab reads version {STORE_SCHEMA}")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's exceptions as one-sentence StoreErrors naming the file."""
        try:
            yield
        except sqlite3.OperationalError as err:
            if "locked" in str(err) or "busy" in str(err):
                raise StoreError(f"the run store {self.path} is locked by another program; "
                                 "try again, or name another store") from None
            raise StoreError(f"the run store {self.path} cannot be used: {err}") from None
        except sqlite3.DatabaseError as err:
            raise StoreError(f"the run store {self.path} is damaged or not a run store "
                             f"({err})") from None
        except OSError as err:
            raise StoreError(f"the run store {self.path} cannot be opened: "
                             f"{err.strerror or err}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands, or none of it (also when the process dies)."""
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            yield self._db

    def _free_name(self, db: sqlite3.Connection, name: str) -> str:
        taken = {row[0] for row in db.execute("SELECT name FROM runs WHERE name = ? OR name LIKE ?",
                                              (name, name + " (%)"))}
        candidates = [name] + [f"{name} ({i})" for i in range(2, len(taken) + 2)]
        return next(c for c in candidates if c not in taken)

    def save(self, run: SavedRun, params_dtype: torch.dtype | None = None) -> str:
        """Store the run in one transaction; a taken name gets " (2)", " (3)"… Returns the name."""
        name = check_name(run.name)
        run_spec(run.settings)  # refuse settings that could not be read back
        manifest, blobs = encode(run, params_dtype)
        del manifest["name"]  # the name column is the one place a run's name lives
        text = json.dumps(manifest)
        if len(text) + sum(map(len, blobs.values())) > MAX_FILE_BYTES:
            raise StoreError(f"the run is larger than the {MAX_FILE_BYTES // 2**20} MB a run file "
                             "may hold")
        with self._write() as db:
            name = self._free_name(db, name)
            run_id = db.execute("INSERT INTO runs (name, created, summary, manifest) VALUES (?, ?, ?, ?)",
                                (name, run.created, json.dumps(_summary(run.settings)), text)).lastrowid
            db.executemany("INSERT INTO tensors (run_id, key, data) VALUES (?, ?, ?)",
                           ((run_id, key, data) for key, data in blobs.items()))
        return name

    def runs(self) -> list[RunSummary]:
        """Every saved run, oldest first."""
        with self._read() as db:
            rows = db.execute("SELECT name, created, summary FROM runs ORDER BY id").fetchall()
        out = []
        for name, created, summary in rows:
            s = json.loads(summary)
            out.append(RunSummary(name, created, s["family"], tuple(s["methods"]), s["iterations"],
                                  tuple(s["seeds"])))
        return out

    def names(self) -> list[str]:
        """The saved runs' names, oldest first."""
        return [s.name for s in self.runs()]

    def size_bytes(self) -> int:
        """The bytes the saved runs hold (tensors and manifests), to bound a store in memory."""
        with self._read() as db:
            tensors, = db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM tensors").fetchone()
            texts, = db.execute("SELECT COALESCE(SUM(LENGTH(manifest) + LENGTH(summary)), 0) "
                                "FROM runs").fetchone()
        return int(tensors + texts)

    def load(self, name: str) -> SavedRun:
        """The run named `name`, checked as strictly as an imported file."""
        with self._read() as db:
            row = db.execute("SELECT id, manifest FROM runs WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StoreError(f"no run named {name!r} in {self.path}")
            blobs = dict(db.execute("SELECT key, data FROM tensors WHERE run_id = ?", (row[0],)))
        try:
            return decode({**json.loads(row[1]), "name": name}, blobs)
        except (RunFileError, ValueError) as err:
            raise StoreError(f"the stored run {name!r} cannot be read: {err}") from None

    def delete(self, name: str) -> None:
        """Remove a run and its tensors."""
        with self._write() as db:
            if db.execute("DELETE FROM runs WHERE name = ?", (name,)).rowcount == 0:
                raise StoreError(f"no run named {name!r} in {self.path}")

    def rename(self, name: str, new_name: str) -> str:
        """Give a run another (free) name; returns it."""
        new_name = check_name(new_name)
        with self._write() as db:
            if new_name != name and db.execute("SELECT 1 FROM runs WHERE name = ?",
                                               (new_name,)).fetchone():
                raise StoreError(f"a run named {new_name!r} already exists")
            if db.execute("UPDATE runs SET name = ? WHERE name = ?", (new_name, name)).rowcount == 0:
                raise StoreError(f"no run named {name!r} in {self.path}")
        return new_name

    def export_bytes(self, name: str) -> bytes:
        """The run as a run file's bytes."""
        return to_bytes(self.load(name))

    def import_bytes(self, data: bytes) -> str:
        """Store a run file's run (checked in full first: a bad file changes nothing); its name."""
        return self.save(from_bytes(data))

    def close(self) -> None:
        """Close the connection (the file stays)."""
        with self._lock:
            self._db.close()


def open_store(path: str | Path | None = None, timeout: float = BUSY_TIMEOUT_S
               ) -> tuple[RunStore, str | None]:
    """The store at `path` (default: default_path()), or, if it cannot be used, an in-memory
    store and a sentence saying why."""
    try:
        return RunStore(path or default_path(), timeout), None
    except StoreError as err:
        return RunStore(MEMORY), f"{err}; runs are kept in memory until the program ends."


def now() -> str:
    """The current UTC time as saved runs record it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_name(settings: dict, created: str) -> str:
    """A shell-friendly name: family and creation time, e.g. sinusoid-20261127-103102."""
    stamp = created[:19].replace("-", "").replace(":", "").replace("T", "-")
    return f"{settings['family']}-{stamp}"


def save_results(store: RunStore, settings: dict, results: Sequence[MethodResult],
                 name: str | None = None) -> str:
    """Save finished results under their settings (RunSpec.as_dict()); returns the name used."""
    created = now()
    run = SavedRun(name or default_name(settings, created), created, settings, library_versions(),
                   list(results))
    return store.save(run)


def save_run(store: RunStore, spec: RunSpec, results: Sequence[MethodResult],
             name: str | None = None) -> str:
    """Save a finished comparison; returns the name used (a taken one gets " (2)")."""
    return save_results(store, spec.as_dict(), results, name)


def load_run(store: RunStore, name: str) -> tuple[RunSpec, list[MethodResult]]:
    """A saved comparison's settings and results, as training produced them."""
    run = store.load(name)
    return run.spec(), run.results
