"""The image-task figure: support grouped by label, right/wrong frames, and the predictions table."""
import numpy as np
import pandas as pd
import torch

from core.engine.algorithms import AdaptPlan
from core.engine.evaluation import make_learner
from core.engine.families import make_family
from core.engine.tasks import generator
from dashboard.adaptation import adapt_all, task_images
from report.figures.images import RIGHT, WRONG, image_task_figure

WAYS, SHOTS, QUERY = 3, 2, 4


def digits_task():
    family = make_family("digits", ways=WAYS, shots=SHOTS, query=QUERY, channels=4, image_size=8)
    return family, family.sample(1, generator(0, "inspect"), "test")


def hand_made_predictions(query_labels):
    """MAML: wrong on every query image before adaptation, right after; scratch: always label 0."""
    rows = []
    for step in (0, 1):
        maml = query_labels if step else (query_labels + 1) % WAYS
        rows += [{"method": "maml", "step": step, "query": i, "predicted": int(p)} for i, p in enumerate(maml)]
        rows += [{"method": "scratch", "step": step, "query": i, "predicted": 0} for i in range(len(query_labels))]
    return pd.DataFrame(rows)


def test_task_images_are_plain_arrays():
    _, task = digits_task()
    support, support_labels, query, query_labels = task_images(task)
    assert support.shape == (WAYS * SHOTS, 8, 8) and query.shape == (WAYS * QUERY, 8, 8)
    assert sorted(support_labels.tolist()) == sorted(list(range(WAYS)) * SHOTS)
    assert query_labels.shape == (WAYS * QUERY,)


def test_figure_marks_wrong_predictions_and_counts_them():
    _, task = digits_task()
    support, support_labels, query, query_labels = task_images(task)
    fig = image_task_figure(support, support_labels, query, query_labels,
                            hand_made_predictions(query_labels), step=1, per_class=3)
    images = [t for t in fig.data if t.type == "image"]
    assert len(images) == 1 + 2 * 2  # the support set, then before/after for two methods
    titles = [a.text for a in fig.layout.annotations if "query right" in a.text or "support" in a.text]
    assert titles[0].startswith(f"support set: {WAYS * SHOTS} images")
    n = len(query_labels)
    assert titles[1:] == [f"MAML, before adaptation: 0/{n} query right",
                          f"MAML, after 1 step: {n}/{n} query right",
                          f"Scratch (random init), before adaptation: {QUERY}/{n} query right",
                          f"Scratch (random init), after 1 step: {QUERY}/{n} query right"]
    # The top-left query tile (first image of class 0): wrong for MAML before, right after.
    before, after = (np.asarray(images[i].z) for i in (1, 2))
    gap = 1
    assert tuple(before[gap, gap]) == WRONG and tuple(after[gap, gap]) == RIGHT
    # Each wrong tile carries its predicted label: 3 shown per class, MAML wrong on all before,
    # scratch wrong on classes 1 and 2 at both steps.
    marks = [a.text for a in fig.layout.annotations if a.text.startswith("→")]
    assert len(marks) == 3 * WAYS + 2 * (3 * (WAYS - 1))


def test_support_columns_follow_the_labels():
    support = np.zeros((4, 8, 8))
    support[[1, 3]] = 1.0  # label 1 images are all ink (black)
    labels = np.array([0, 1, 0, 1])
    query, query_labels = np.zeros((2, 8, 8)), np.array([0, 1])
    predictions = pd.DataFrame({"method": "maml", "step": [0, 0], "query": [0, 1], "predicted": [0, 1]})
    fig = image_task_figure(support, labels, query, query_labels, predictions, step=0)
    mosaic = np.asarray(fig.data[0].z)
    gap, border, tile = 1, 1, 10
    inside = gap + border + 3  # a pixel inside the first tile of each column
    assert tuple(mosaic[inside, inside]) == (255, 255, 255)  # column 0: blank paper
    assert tuple(mosaic[inside, gap + tile + gap + border + 3]) == (0, 0, 0)  # column 1: ink
    assert mosaic.shape[0] == 2 * (tile + gap) + gap  # two support images per label


def test_image_predictions_follow_the_shared_adaptation():
    family, task = digits_task()
    learner = make_learner(family, (1,))
    phi = learner.model.init(generator(0, "init"))
    frame = adapt_all(learner, {"scratch": AdaptPlan(phi, 0.4)}, task, steps=2).predictions
    assert list(frame.columns) == ["method", "step", "query", "predicted"]
    assert len(frame) == 3 * WAYS * QUERY and set(frame.step) == {0, 1, 2}
    with torch.no_grad():
        expected = learner.predict({k: v.unsqueeze(0) for k, v in phi.items()}, task.query_x)[0].argmax(-1)
    assert frame[frame.step == 0].predicted.tolist() == expected.tolist()
