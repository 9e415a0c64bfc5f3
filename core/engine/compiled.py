"""torch.compile of the meta-step for long CLI runs, with a compile cache in the user cache dir.

The compiled meta-gradient is each method's own function traced whole (fullgraph, fixed
shapes): Dynamo traces `torch.autograd.grad`, so exact second-order MAML compiles with the
inner loop and both backward passes in one graph, and no algorithm has a second copy here.
Compiling costs seconds to minutes once per method and shape; Inductor's caches under
`cache_dir()` make later runs start faster.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
import torch

from core import userdirs
from core.engine.algorithms import Method, MetaGradient


def cache_dir() -> Path:
    """$META_LAB_CACHE/inductor if set, else inductor/ in the platform's user cache folder."""
    return userdirs.cache_dir("inductor")


def unavailable() -> str | None:
    """Why torch.compile cannot run here (no C++ compiler for Inductor's CPU kernels), or None."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
        get_cpp_compiler()
    except Exception as err:  # whatever the toolchain probe raises, the answer is "not here"
        return f"torch.compile needs a C++ compiler for CPU kernels ({err})"
    return None


@functools.cache
def _configure() -> None:
    """Once per process, before the first compile: the persistent cache and autograd tracing."""
    import torch._dynamo.config
    import torch._inductor.config

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir()))
    torch._dynamo.config.trace_autograd_ops = True  # trace autograd.grad instead of breaking there
    # A C++ wrapper calls the kernels without Python in between: on the sinusoid's tiny tensors
    # per-kernel overhead dominates, and this took MAML's step from ~2.4x to ~3x eager's speed.
    torch._inductor.config.cpp_wrapper = True


@functools.cache
def meta_gradient(method: Method) -> MetaGradient:
    """`method`'s meta-gradient compiled: same arguments, same results up to float rounding."""
    _configure()
    return torch.compile(method.meta_gradient, fullgraph=True, dynamic=False)

