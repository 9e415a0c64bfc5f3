"""Sweep page: a grid of comparisons, and where meta-learning starts to beat pre-training."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.sweep_results import SweepFileError, load_sweep, main_metric, summarise_seeds
from dashboard.figures.sweep import sweep_figures
from dashboard.theme import steps_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "Clusters: shift × shots": ROOT / "gallery/sweeps/clusters-shift-shots.json",
    "Trend: slope range": ROOT / "gallery/sweeps/trend-slope.json",
}
UPLOAD = "A file of my own"
INTRO = (
    "One comparison shows one setting. A **sweep** runs a comparison for every combination of "
    "one or two settings and several seeds, so you can see *where* meta-learning's potential "
    "starts to pay: when tasks are alike, pre-training's φ is already good and adaptation adds "
    "little; when they differ, only a φ trained for its potential adapts well. Run your own with "
    "`python -m core sweep` (see `--help`) and load its `--json` file here.")


@st.cache_data(max_entries=4)
def _shipped(path: str) -> bytes:
    return Path(path).read_bytes()


def _source() -> bytes | None:
    """The chosen sweep file's bytes: a shipped one, or an upload (None until one is given)."""
    choice = st.radio("Sweep", [*SHIPPED, UPLOAD], horizontal=True, key="sweep.source")
    if choice != UPLOAD:
        return _shipped(str(SHIPPED[choice]))
    upload = st.file_uploader("A sweep file written by `python -m core sweep --json PATH`",
                              type=["json"], key="sweep.upload")
    if upload is None:
        st.info("Choose a file that `python -m core sweep --json` wrote.")
        return None
    return upload.getvalue()


def _controls(rows) -> tuple[str, int]:
    metrics = list(dict.fromkeys(rows.metric))
    steps = sorted(s for s in set(rows.step) if s > 0) or [0]
    left, right = st.columns(2)
    metric = left.selectbox("Metric", metrics, index=metrics.index(main_metric(rows)),
                            key="sweep.metric")
    after = right.selectbox("Compare after", steps, format_func=steps_text, key="sweep.after")
    return metric, int(after)


def main() -> None:
    """A sweep file → its figures and the sentence of where the boundary lies."""
    st.title("Sweeps: where meta-learning pays")
    st.markdown(INTRO)
    data = _source()
    if data is None:
        return
    try:
        meta, rows = load_sweep(data)
    except SweepFileError as err:
        st.error(str(err))
        return
    st.caption(f"Made with `{meta.get('command', 'an unknown command')}`"[:2000])
    metric, after = _controls(rows)
    try:
        figures, sentences = sweep_figures(meta, rows, metric, after)
    except (KeyError, ValueError, TypeError, IndexError):
        st.error("The file's rows do not form a sweep the figures can draw.")
        return
    for line in sentences:
        st.markdown("- " + line)
    for i, fig in enumerate(figures):
        st.plotly_chart(fig, key=f"chart-sweep-{i}")
    axes = [a["name"] for a in meta["axes"]]
    problems = summarise_seeds(rows, axes).problem
    if (problems != "").any():
        st.warning(f"{(problems != '').sum()} points are left out: a seed failed or a method "
                   "diverged there.")


main()
