"""Run files a hostile visitor could upload, for the tests of the trust boundary."""
from __future__ import annotations

import hashlib

import numpy as np

from core.runs import gallery
from core.runs.runfile import container, read_container
from core.scenarios.catalogue import SCENARIOS


def forged_run_file(name: str = "edited") -> bytes:
    """What a visitor could upload: the gallery's file of the landing scenario, its settings
    changed to the landing page's and MAML's accuracy to 1.0 everywhere, every checksum
    recomputed (the file checks itself, so it imports cleanly)."""
    manifest, blobs = read_container(gallery.path_of(SCENARIOS[0].key).read_bytes())
    manifest["name"], manifest["settings"] = name, SCENARIOS[0].spec().as_dict()
    maml = next(r for r in manifest["results"] if r["fields"]["method"] == "maml")
    key = maml["fields"]["scores"]["dict"]["accuracy"]["tensor"]
    meta = manifest["tensors"][key]
    blobs[key] = np.ones(meta["shape"], dtype="<f4").tobytes()
    meta["sha256"] = hashlib.sha256(blobs[key]).hexdigest()
    return container(manifest, blobs)  # writes the manifest's checksum anew
