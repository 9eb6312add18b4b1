"""Drawing records onto images and the HTML contact sheet of `vlmdata render`."""

from vlmdata.viz.sheet import RenderResult, render_dataset

__all__ = ["RenderResult", "render_dataset"]
