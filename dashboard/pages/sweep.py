"""Sweep page: a grid of comparisons, and where meta-learning starts to beat pre-training."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.engine.evaluation import main_metric
from core.sweep.summary import SweepFileError, load_sweep, summarise_seeds
from report.figures.sweep import sweep_figures
from report.i18n import fixed, t
from report.theme import metric_name, steps_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "Clusters: shift × shots": ROOT / "gallery/sweeps/clusters-shift-shots.json",
    "Trend: slope range": ROOT / "gallery/sweeps/trend-slope.json",
}
UPLOAD = "A file of my own"  # the option's value; shown as sweep.upload_option


@st.cache_data(max_entries=4)
def _shipped(path: str) -> bytes:
    return Path(path).read_bytes()


def _source() -> bytes | None:
    """The chosen sweep file's bytes: a shipped one, or an upload (None until one is given)."""
    choice = st.radio(t("sweep.source"), [*SHIPPED, UPLOAD], horizontal=True, key="sweep.source",
                      format_func=fixed(lambda c: t("sweep.upload_option") if c == UPLOAD
                                        else t(f"sweep.shipped.{list(SHIPPED).index(c)}")))
    if choice != UPLOAD:
        return _shipped(str(SHIPPED[choice]))
    upload = st.file_uploader(t("sweep.upload"),
                              type=["json"], key="sweep.upload")
    if upload is None:
        st.info(t("sweep.choose"))
        return None
    return upload.getvalue()


def _controls(rows) -> tuple[str, int]:
    metrics = list(dict.fromkeys(rows.metric))
    steps = sorted(s for s in set(rows.step) if s > 0) or [0]
    left, right = st.columns(2)
    metric = left.selectbox(t("sweep.metric"), metrics, index=metrics.index(main_metric(rows.metric)),
                            key="sweep.metric", format_func=fixed(metric_name))
    after = right.selectbox(t("sweep.after"), steps, format_func=fixed(steps_text),
                            key="sweep.after")
    return metric, int(after)


def main() -> None:
    """A sweep file → its figures and the sentence of where the boundary lies."""
    st.title(t("sweep.title"))
    st.markdown(t("sweep.intro"))
    data = _source()
    if data is None:
        return
    try:
        meta, rows = load_sweep(data)
    except SweepFileError as err:
        st.error(t("sweep.bad_file", detail=str(err)))
        return
    st.caption(t("sweep.made_with", command=meta.get("command", "?"))[:2000])
    metric, after = _controls(rows)
    try:
        figures, sentences = sweep_figures(meta, rows, metric, after)
    except (KeyError, ValueError, TypeError, IndexError):
        st.error(t("sweep.not_a_sweep"))
        return
    for line in sentences:
        st.markdown("- " + line)
    for i, fig in enumerate(figures):
        st.plotly_chart(fig, key=f"chart-sweep-{i}")
    axes = [a["name"] for a in meta["axes"]]
    problems = summarise_seeds(rows, axes).problem
    if (problems != "").any():
        st.warning(t("sweep.left_out", n=(problems != "").sum()))


main()
