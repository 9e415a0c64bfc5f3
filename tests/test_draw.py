"""The Draw page: canvas pixels through the Omniglot family's preprocessing, no peeking at the
other drawings, drawings unlike any character, and the page itself (AppTest, canvases injected)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

import dashboard.canvas
from core.data import omniglot
from core.engine.algorithms import AdaptPlan
from core.engine.evaluation import make_learner
from core.engine.families import make_family
from core.runs import gallery
from dashboard import drawing
from dashboard.canvas import CANVAS_PX
from report.i18n import using
from report.theme import label
from tests.support.apptest import open_page

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "omniglot"
SMALL = SHARED / "images_background_small1.zip"
needs_data = pytest.mark.skipif(not SMALL.is_file(), reason=f"Omniglot zips not found in {SHARED}")
DRAW = "dashboard/pages/draw.py"


def _canvas_rgba(grey: np.ndarray, side: int, opaque: bool) -> np.ndarray:
    """A drawing (grey, 0 = ink) as a canvas of `side` px returns it: black strokes, on the
    canvas's white background (opaque) or on a transparent one (a canvas with a background image)."""
    grey = np.asarray(Image.fromarray(grey).resize((side, side), Image.Resampling.NEAREST))
    rgba = np.zeros((side, side, 4), np.uint8)
    if opaque:
        rgba[..., :3], rgba[..., 3] = grey[..., None], 255
    else:
        rgba[..., 3] = 255 - grey
    return rgba


def _first_drawing() -> np.ndarray:
    """The first drawing (by alphabet, character, file name) of the zip: class 0, drawing 0."""
    with zipfile.ZipFile(SMALL) as archive:
        name = min((n for n in archive.namelist() if n.endswith(".png")),
                   key=lambda n: Path(n).parts[-3:])
        with Image.open(io.BytesIO(archive.read(name))) as image:
            return np.asarray(image.convert("L"))


@needs_data
@pytest.mark.parametrize("opaque", [True, False])
def test_a_real_drawing_through_the_canvas_path_is_the_familys_image(opaque):
    reader = omniglot.load_omniglot_archives([SMALL], 28).images[0, 0]
    grey = _first_drawing()
    same_size = drawing.images([_canvas_rgba(grey, grey.shape[0], opaque)], 28)[0]
    assert same_size.dtype == reader.dtype and same_size.shape == reader.shape
    np.testing.assert_array_equal(same_size, reader)  # the one preprocessing, exactly
    on_canvas = drawing.images([_canvas_rgba(grey, CANVAS_PX, opaque)], 28)[0]  # 140 px, drawn
    assert np.abs(on_canvas - reader).mean() < 0.02 and np.abs(on_canvas - reader).max() < 0.35


@needs_data
def test_every_omniglot_drawing_passes_and_marks_unlike_a_character_do_not():
    images = omniglot.load_omniglot(SHARED, 28).images
    assert [omniglot.drawing_problem(i) for i in images.reshape(-1, 28, 28)].count(None) == \
        images.shape[0] * images.shape[1]
    blank = np.zeros((CANVAS_PX, CANVAS_PX, 4), np.uint8)
    dot, filled = blank.copy(), blank.copy()
    dot[60:68, 60:68, 3] = 255
    filled[..., 3] = 255
    seen = drawing.images([blank, dot, filled], 28)
    assert drawing.problems(seen) == ["empty", "dot", "filled"]


def _transductive_model() -> drawing.DrawModel:
    """A random conv net whose batch norm uses the statistics of the batch it is given."""
    family = make_family("omniglot", norm="transductive", channels=8, download=False)
    learner = make_learner(family, ())
    phi = learner.model.init(torch.Generator().manual_seed(0))
    return drawing.DrawModel(family, learner, {"maml": AdaptPlan(phi, 0.4)}, 3)


def _examples_task(queries: int, classes=(0, 1, 2, 3, 4)) -> tuple[np.ndarray, np.ndarray]:
    grey, _ = gallery.examples()
    support = drawing.images([_canvas_rgba(grey[c, 0], CANVAS_PX, False) for c in classes], 28)
    query = drawing.images([_canvas_rgba(grey[(c + 2) % 5, 5], CANVAS_PX, False)
                            for c in range(queries)], 28)
    return support, query


@pytest.mark.parametrize("which", ["transductive", "gallery"])
def test_a_drawings_probabilities_do_not_depend_on_the_other_drawings(which):
    """No peeking: the first query drawing scores the same alone and beside two others, for a
    model whose batch norm would peek at a batch, and for every method of the gallery's run."""
    model = _transductive_model() if which == "transductive" else drawing.gallery_model()
    support, query = _examples_task(3)
    one = drawing.probabilities(model, drawing.drawn_task(support, 1, query[:1]), model.max_step)
    three = drawing.probabilities(model, drawing.drawn_task(support, 1, query), model.max_step)
    assert set(one) == set(model.plans)
    for method in one:
        assert one[method].shape == (model.max_step + 1, 1, 5)
        np.testing.assert_allclose(one[method][:, 0], three[method][:, 0], atol=1e-5)
        np.testing.assert_allclose(three[method].sum(-1), 1, atol=1e-5)
    # and the drawings do matter: another support set changes the probabilities
    other = drawing.probabilities(model, drawing.drawn_task(support[::-1].copy(), 1, query[:1]),
                                  model.max_step)
    assert any(not np.allclose(other[m][1:], one[m][1:], atol=1e-3) for m in one)


def test_the_sentence_is_built_from_the_numbers():
    probs = {"maml": np.array([[[0.2] * 5], [[0.05, 0.05, 0.8, 0.05, 0.05]]]),
             "reptile": np.array([[[0.2] * 5], [[0.1, 0.1, 0.6, 0.1, 0.1]]]),
             "pretrain": np.array([[[0.2] * 5], [[0.5, 0.2, 0.1, 0.1, 0.1]]]),
             "scratch": np.array([[[0.2] * 5], [[0.25, 0.2, 0.2, 0.2, 0.15]]])}
    text = drawing.sentence(drawing.picks(probs, 1, 0), 1, 0)
    assert text == ("**Drawing 1**, after 1 step: MAML and Reptile pick class 3 (0.80, 0.60); "
                    "Pre-training picks class 1 (0.50); Scratch (random init) is unsure "
                    "(at most 0.25).")
    assert "before adaptation" in drawing.sentence(drawing.picks(probs, 0, 0), 0, 0)


# --- the page, with canvas images put in where a browser would draw them -----------------------

def _inject(monkeypatch, images: dict[str, np.ndarray | None]) -> None:
    """Canvas `draw-s{class}-{shot}` / `draw-q{index}` returns images[that name] (None: untouched)."""
    def canvas(key: str, background=None):
        return images.get(key.rsplit("-v", 1)[0])
    monkeypatch.setattr(dashboard.canvas, "canvas", canvas)


def _drawn(queries: int = 2, shots: int = 1) -> dict[str, np.ndarray]:
    grey, _ = gallery.examples()
    images = {f"draw-s{c}-{s}": _canvas_rgba(grey[c, s], CANVAS_PX, False)
              for c in range(5) for s in range(shots)}
    images |= {f"draw-q{q}": _canvas_rgba(grey[q % 5, 5], CANVAS_PX, False) for q in range(queries)}
    return images


def _open(lang: str) -> AppTest:
    return open_page(DRAW, lang)


def _sentences(at: AppTest, start: str) -> list[str]:
    """The page's sentences about the drawings (not the canvases' headings)."""
    return [m.value for m in at.markdown if m.value.startswith(start) and m.value[-1] in ".。）)"]


@pytest.mark.parametrize("lang, start, picks", [("en", "**Drawing ", "class"),
                                                ("zh", "**测试图 ", "类别")])
def test_the_page_predicts_drawn_characters_in_both_languages(monkeypatch, lang, start, picks):
    _inject(monkeypatch, _drawn(queries=2))
    at = _open(lang)
    sentences = _sentences(at, start)
    assert len(sentences) == 2 and all(picks in s for s in sentences)
    model = drawing.gallery_model()
    with using(lang):
        assert all(label(m) in sentences[0] for m in model.plans)  # every method has its say
    figure = at.get("plotly_chart")[0]
    assert figure.proto.spec.count('"type":"scatter"') >= len(model.plans) * 2 * 5
    assert not at.warning


def test_marks_unlike_a_character_get_one_sentence_not_a_prediction(monkeypatch):
    images = _drawn(queries=2)
    dot = np.zeros((CANVAS_PX, CANVAS_PX, 4), np.uint8)
    dot[60:68, 60:68, 3] = 255
    images["draw-q1"] = dot
    _inject(monkeypatch, images)
    at = _open("en")
    assert len(_sentences(at, "**Drawing ")) == 1  # the real query only
    assert [i.value for i in at.info] == ["Test drawing 2 is only a dot or a tiny mark, unlike "
                                          "any character, so nothing is predicted for it."]
    images["draw-s2-0"] = None  # an empty support box: no prediction at all
    at.run()
    assert _sentences(at, "**Drawing ") == [] and not at.get("plotly_chart")
    assert len(at.warning) == 1 and "class 3" in at.warning[0].value


def test_use_omniglot_drawings_fills_every_canvas_without_the_data(monkeypatch):
    _inject(monkeypatch, {})  # nothing drawn
    at = _open("en")
    assert "empty" in at.warning[0].value
    next(b for b in at.button if b.label == "Use Omniglot drawings").click().run()
    sentences = _sentences(at, "**Drawing ")
    assert len(sentences) == 2 and "It is an Omniglot drawing of class 1" in sentences[0]
    next(b for b in at.button if b.label == "Clear").click().run()
    assert _sentences(at, "**Drawing ") == [] and "empty" in at.warning[0].value
