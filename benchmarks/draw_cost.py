"""CPU-seconds of one Draw-page answer: every method of the gallery's Omniglot run adapted to one
drawn task (5-way, the shipped example drawings as the canvases), with what the page does per
set of drawings: preprocessing, `probabilities` up to the page's steps, and the sentences.

Run: python benchmarks/draw_cost.py [--shots 1] [--queries 5] [--repeats 5] [--threads 1]
Prints the process CPU time per answer (median of the repeats, after one warm-up) and per method;
the hosted app runs the page with one torch thread (app.py).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from core.runs import gallery
from dashboard import drawing
from dashboard.canvas import CANVAS_PX
from PIL import Image


def _canvas(grey: np.ndarray) -> np.ndarray:
    """An example drawing as the canvas returns strokes: black ink, transparent paper, 140 px."""
    grey = np.asarray(Image.fromarray(grey).resize((CANVAS_PX, CANVAS_PX), Image.Resampling.NEAREST))
    rgba = np.zeros((CANVAS_PX, CANVAS_PX, 4), np.uint8)
    rgba[..., 3] = 255 - grey
    return rgba


def answer(model: drawing.DrawModel, support: list, shots: int, query: list) -> dict:
    """What one rerun with new drawings computes."""
    s, q = drawing.images(support, model.image_size), drawing.images(query, model.image_size)
    probs = drawing.probabilities(model, drawing.drawn_task(s, shots, q), model.max_step)
    for i in range(len(query)):
        drawing.sentence(drawing.picks(probs, 1, i), 1, i)
    return probs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = drawing.gallery_model()
    grey, _ = gallery.examples()
    ways = model.ways
    support = [_canvas(grey[c, s]) for c in range(ways) for s in range(args.shots)]
    query = [_canvas(grey[i % ways, drawing.MAX_SHOTS + i // ways]) for i in range(args.queries)]
    answer(model, support, args.shots, query)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.process_time()
        answer(model, support, args.shots, query)
        times.append(time.process_time() - start)
    per_method = {}
    task = drawing.drawn_task(drawing.images(support, 28), args.shots, drawing.images(query, 28))
    for method, plan in model.plans.items():
        one = drawing.DrawModel(model.family, model.learner, {method: plan}, model.max_step)
        start = time.process_time()
        for _ in range(args.repeats):
            drawing.probabilities(one, task, model.max_step)
        per_method[method] = (time.process_time() - start) / args.repeats
    print(f"{ways}-way {args.shots}-shot, {args.queries} test drawings, {model.max_step} steps, "
          f"{len(model.plans)} results, {args.threads} thread(s):")
    print(f"  one answer: {statistics.median(times):.3f} CPU-s (median of {args.repeats}; "
          f"min {min(times):.3f}, max {max(times):.3f})")
    for method, seconds in per_method.items():
        print(f"  {method:>10}: {seconds:.3f} CPU-s")


if __name__ == "__main__":
    main()
