"""A scenario's whole comparison (training + validation + scoring) in CPU seconds: this checkout
against a base commit's code, measured side by side in alternating rounds.

Each round runs every scenario once with the base code and once with this checkout's, each in a
fresh Python process (one thread) that imports first (torch._dynamo too, which Adam's first
construction imports: 1.7 CPU s) and then times `compare` alone in CPU
seconds of that process, so the imports (paid once per server) stay out of the ratio and
other jobs on the machine inflate both sides alike. The order of the two flips every round. It
prints each side's median, the ratio, and whether the scenario's claims hold on each side.

The base commit's files are exported with `git archive` into a temporary folder (default base:
the merge base with main).

Run: nice -n 10 python benchmarks/compare_speed.py [--base REV] [--rounds 3]
     [--scenarios consistent-labels,...] [--seeds 0]
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside the child process, from the checkout being measured (its `core` on sys.path).
CHILD = r"""
import json, sys, time, torch
torch.set_num_threads(1)
import pandas as pd
try:  # the rooms by job (issue 21)
    from core.engine.events import MethodResult
    from core.engine.training import compare
    from core.results import pooled_rows
    from core.scenarios.catalogue import SCENARIOS_BY_KEY
except ModuleNotFoundError:  # a base commit from before them (the issue's own, 9b7b83e)
    from core.training import MethodResult, compare, pooled_rows
    from core.scenarios import SCENARIOS_BY_KEY
key, seeds = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
scenario = SCENARIOS_BY_KEY[key]
spec = scenario.spec(seeds[0])
family = spec.make_family()
torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its first call imports torch._dynamo
start = time.process_time()
results = [e for e in compare(family, spec.methods, spec.config, seeds)
           if isinstance(e, MethodResult)]
cpu = time.process_time() - start
rows = pd.DataFrame(pooled_rows(results, spec.config.eval_steps))
print(json.dumps({"cpu": cpu, "failures": scenario.failures(rows)}))
"""


def export(rev: str, into: Path) -> Path:
    """The files of commit `rev` under `into` (git archive: no work tree of ours touched)."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(checkout: Path, key: str, seeds: str) -> dict:
    """One comparison of scenario `key` with the code in `checkout`, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD, key, seeds], cwd=checkout,
                         capture_output=True, text=True, env={"PYTHONPATH": str(checkout),
                                                               "PATH": "/usr/bin:/bin"})
    if out.returncode:
        sys.exit(f"{key} with the code in {checkout} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="", help="base commit (default: merge base with main)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", default="consistent-labels")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of one comparison")
    args = parser.parse_args()
    base = args.base or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
                                       check=True, capture_output=True, text=True).stdout.strip()
    keys = args.scenarios.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"base": export(base, Path(tmp)), "this": ROOT}
        cpu = {(side, k): [] for side in sides for k in keys}
        failures = {}
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for key in keys:
                for side in order:
                    got = measure(sides[side], key, args.seeds)
                    cpu[side, key].append(got["cpu"])
                    failures[side, key] = got["failures"]
                    print(f"round {r + 1} {key:22s} {side:4s} {got['cpu']:6.2f} CPU s", flush=True)
    print(f"\nbase {base[:10]}, seeds {args.seeds}, {args.rounds} alternating rounds, "
          "median CPU s of compare() per process")
    print(f"{'scenario':22s} {'base':>7s} {'this':>7s} {'this/base':>9s}  claims (base / this)")
    for key in keys:
        b, t = (statistics.median(cpu[s, key]) for s in ("base", "this"))
        held = " / ".join("hold" if not failures[s, key] else "FAIL: " + "; ".join(failures[s, key])
                          for s in ("base", "this"))
        print(f"{key:22s} {b:7.2f} {t:7.2f} {t / b:9.2f}x  {held}")


if __name__ == "__main__":
    main()
