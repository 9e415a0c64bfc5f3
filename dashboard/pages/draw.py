"""Draw page: invent characters, draw a few examples of each, and watch every method of the
gallery's Omniglot run learn them: class probabilities of each drawn query, step by step."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.runs import gallery
from dashboard import canvas, drawing
from report.figures.draw import probabilities_figure, seen_mosaic
from report.i18n import t
from report.theme import label

VERSION, EXAMPLES = "draw_version", "draw_examples"  # session keys: canvas generation, example set


@st.cache_resource
def _model() -> drawing.DrawModel | None:
    """The gallery's parameters, shared by every visitor (the server computed them itself)."""
    return drawing.gallery_model()


@st.cache_resource
def _examples() -> tuple[np.ndarray, tuple[str, ...]] | None:
    try:
        return gallery.examples()
    except (OSError, ValueError, KeyError):
        return None


def _controls(has_examples: bool) -> tuple[int, int]:
    left, middle, right = st.columns([1, 1, 2], vertical_alignment="bottom")
    shots = left.number_input(t("draw.shots"), 1, drawing.MAX_SHOTS, 1, key="draw_shots")
    queries = middle.number_input(t("draw.queries"), 1, drawing.MAX_QUERIES, 2, key="draw_queries")
    clear, fill = right.columns(2)
    if clear.button(t("draw.clear"), icon=":material/ink_eraser:", width="stretch"):
        _restart(None)
    if has_examples and fill.button(t("draw.use_omniglot"), icon=":material/auto_stories:",
                                    width="stretch", help=t("draw.use_omniglot.help")):
        shown = st.session_state.get(EXAMPLES)
        _restart(0 if shown is None else shown + 1)
    return int(shots), int(queries)


def _restart(examples: int | None) -> None:
    """Empty canvases (new keys remount them), behind them the example set `examples` or none."""
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
    st.session_state[EXAMPLES] = examples


def _example(cls: int, index: int, ways: int) -> np.ndarray | None:
    """The example drawing behind a canvas: drawing `index` of class `cls` in the chosen set
    (support canvases take the first drawings, query canvases the ones after the most shots)."""
    chosen, found = st.session_state.get(EXAMPLES), _examples()
    if chosen is None or found is None:
        return None
    grey, _ = found
    return grey[(chosen % (len(grey) // ways)) * ways + cls, index % grey.shape[1]]


def _canvases(ways: int, shots: int, queries: int) -> tuple[list, list[np.ndarray | None], list]:
    """The support grid (a column per class) and the query row: each slot's RGBA pixels."""
    version = st.session_state.get(VERSION, 0)
    st.subheader(t("draw.support_heading"))
    support = [None] * (ways * shots)
    for cls, column in enumerate(st.columns(ways)):
        column.markdown(f"**{t('draw.class', c=cls + 1)}**")
        for shot in range(shots):
            with column:
                example = _example(cls, shot, ways)
                strokes = canvas.canvas(f"draw-s{cls}-{shot}-v{version}", example)
            support[cls * shots + shot] = drawing.slot_rgba(strokes, example)
    st.subheader(t("draw.query_heading"))
    query, truth = [], []
    for q, column in enumerate(st.columns(max(queries, 5))[:queries]):
        with column:
            st.markdown(f"**{t('draw.drawing', q=q + 1)}**")
            example = _example(q % ways, drawing.MAX_SHOTS + q // ways, ways)
            strokes = canvas.canvas(f"draw-q{q}-v{version}", example)
        query.append(drawing.slot_rgba(strokes, example))
        truth.append(q % ways if example is not None else None)
    return support, truth, query


def _check(support_problems: list, query_problems: list, shots: int) -> bool:
    """One sentence for drawings unlike any character; True when some prediction can be shown."""
    bad = [(i // shots, i % shots, p) for i, p in enumerate(support_problems) if p]
    if bad:
        cls, shot, why = bad[0]
        more = t("draw.problem.more", n=len(bad) - 1) if len(bad) > 1 else ""
        st.warning(t(f"draw.problem.support.{why}", c=cls + 1, shot=shot + 1) + more)
        return False
    if all(query_problems):
        st.warning(t(f"draw.problem.query.{query_problems[0]}", q=1))
        return False
    return True


def main() -> None:
    st.title(t("draw.title"))
    model = _model()
    if model is None:
        st.info(t("draw.no_model", key=gallery.OMNIGLOT_KEY))
        return
    st.markdown(t("draw.intro", ways=model.ways))
    found = _examples()
    shots, queries = _controls(found is not None)
    support_rgba, truth, query_rgba = _canvases(model.ways, shots, queries)
    support = drawing.images(support_rgba, model.image_size)
    query = drawing.images(query_rgba, model.image_size)

    st.caption(t("draw.seen", size=model.image_size))
    st.image(seen_mosaic(support, shots, query))
    support_problems, query_problems = drawing.problems(support), drawing.problems(query)
    if not _check(support_problems, query_problems, shots):
        return
    step = st.slider(t("draw.step"), 0, model.max_step, 1, key="draw_step")
    probs = _adapted(model, support, shots, query)
    shown = [q for q, p in enumerate(query_problems) if p is None]
    for q, why in enumerate(query_problems):
        if why:
            st.info(t(f"draw.problem.query.{why}", q=q + 1))
    for q in shown:
        picked = drawing.picks(probs, step, q)
        meant = "" if truth[q] is None else t("draw.meant", c=truth[q] + 1)
        st.markdown(drawing.sentence(picked, step, q) + meant)
    st.plotly_chart(probabilities_figure(probs, shown, step), key="draw-chart")
    left_out = [label(m) for m in model.left_out]
    if left_out:
        st.caption(t("draw.left_out", methods=", ".join(left_out)))
    st.caption(t("draw.how", steps=model.max_step))


def _adapted(model: drawing.DrawModel, support: np.ndarray, shots: int,
             query: np.ndarray) -> dict[str, np.ndarray]:
    """Every method adapted to this visitor's drawings, once per set of drawings (kept in the
    visitor's own session: one visitor's drawings never reach another's page)."""
    key = (support.tobytes(), shots, query.tobytes())
    kept = st.session_state.get("draw_adapted")
    if kept is None or kept[0] != key:
        task = drawing.drawn_task(support, shots, query)
        kept = (key, drawing.probabilities(model, task, model.max_step))
        st.session_state["draw_adapted"] = kept
    return kept[1]


main()
