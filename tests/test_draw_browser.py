"""A real browser draws characters with the mouse on the Draw page's canvases and gets predictions."""
from __future__ import annotations

import pytest

from tests.support.browser import ARTIFACTS, open_page, require_browser, serve_app, wait_idle

require_browser()
pytestmark = pytest.mark.slow

# Five made-up characters as strokes, in fractions of the canvas (the component's toolbar covers
# its top ~30 px while the pointer hovers there, so strokes start below it).
STROKES = [
    [[(0.3, 0.3), (0.7, 0.3), (0.7, 0.8)]],                      # a hook
    [[(0.5, 0.25), (0.5, 0.85)], [(0.25, 0.55), (0.75, 0.55)]],  # a cross
    [[(0.25, 0.8), (0.5, 0.3), (0.75, 0.8), (0.25, 0.8)]],       # a triangle
    [[(0.3, 0.3), (0.7, 0.5), (0.3, 0.7), (0.7, 0.85)]],         # a zigzag
    [[(0.25, 0.35), (0.75, 0.35)], [(0.25, 0.6), (0.75, 0.6)], [(0.25, 0.85), (0.75, 0.85)]],
]


def _draw(page, index: int, strokes) -> None:
    """Mouse strokes on the index-th canvas of the page, then wait for the page's rerun."""
    box = page.locator("canvas.upper-canvas").nth(index).bounding_box()
    for stroke in strokes:
        points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        page.mouse.up()
        page.wait_for_timeout(200)
    wait_idle(page)


def test_characters_drawn_with_the_mouse_get_every_methods_prediction():
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app() as (url, _), open_page(f"{url}/draw", height=2200) as page:
        page.locator("canvas.upper-canvas").nth(6).wait_for(timeout=30_000)  # 5 classes, 2 tests
        page.get_by_text("is empty").first.wait_for()
        for i, strokes in enumerate(STROKES):
            _draw(page, i, strokes)
        _draw(page, 5, STROKES[2])  # test drawing 1: class 3's triangle again
        _draw(page, 6, STROKES[1])  # test drawing 2: the cross
        sentence = page.get_by_text("Drawing 1, after 1 step:")
        sentence.wait_for(timeout=30_000)
        assert "pick" in sentence.inner_text()
        page.get_by_text("Drawing 2, after 1 step:").wait_for()
        assert page.locator(".main-svg").count() >= 1  # the probabilities chart
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "draw.png"), full_page=True)
