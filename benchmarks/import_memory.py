"""Resident memory the server pays for each library before any visitor trains, in import order.

    python benchmarks/import_memory.py

Imports, one after the other in a fresh process, what a hosted server loads: Streamlit, torch,
pandas, plotly, the lab's training core and its dashboard; then, for comparison, what only some
runs need: the digits family (scikit-learn, which brings SciPy) and the CLI's `--compile`
(torch._dynamo, which torch.optim's step imported too before training had its own updates). Prints the resident memory (VmRSS) each adds.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

SERVER = ("streamlit", "torch", "pandas", "plotly.express", "core.engine.training",
          "dashboard.run_controls", "dashboard.sidebar")
# imported when the digits family first reads its data; by torch.compile (CLI --compile)
ON_DEMAND = ("sklearn.datasets", "torch._dynamo")


def rss_mb() -> float:
    """This process's resident memory (VmRSS) in MB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines()
                if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    """Import each module and print what it added."""
    start = last = rss_mb()
    print(f"{'python itself':24s} {start:6.0f} MB")
    for group, names in (("server", SERVER), ("on demand", ON_DEMAND)):
        for name in names:
            importlib.import_module(name)
            now = rss_mb()
            print(f"{name:24s} {now - last:+6.0f} MB   ({group}; total {now:.0f} MB)")
            last = now


if __name__ == "__main__":
    main()
