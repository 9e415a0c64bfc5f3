"""The drawing canvas (streamlit-drawable-canvas), behind one function the tests replace.

The component registers itself when imported, which works only inside a running Streamlit app
(a plain `import` elsewhere raises about its pyproject.toml manifest), so it is imported when a
canvas is drawn. AppTest cannot draw strokes: tests/test_draw.py puts its images in through
`canvas`.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

CANVAS_PX = 140  # on screen; the model sees 28 px (the family's preprocessing resizes)
STROKE_PX = 7  # Omniglot's strokes are ~5 px wide at its 105 px: the same share of the side


def canvas(key: str, background: np.ndarray | None = None) -> np.ndarray | None:
    """A square canvas; its pixels (H, W, 4) uint8 RGBA once something was drawn, else None.
    `background` (grey, 0 = ink) is shown behind the strokes and is not part of the pixels."""
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(stroke_width=STROKE_PX, stroke_color="#000000", background_color="#ffffff",
                       background_image=None if background is None else Image.fromarray(background),
                       height=CANVAS_PX, width=CANVAS_PX, drawing_mode="freedraw",
                       return_image_data=True, key=key)
    return result.image_data
