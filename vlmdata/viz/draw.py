"""Drawing records onto their images: boxes, polygons, polylines and numbered desc labels.

Labels use a CJK-capable font when one is installed (`VLMDATA_FONT`, then common Noto/WenQuanYi/Droid
paths, then `fc-match`), else DejaVu Sans or PIL's built-in font; without CJK glyphs a label keeps its
number and the runs of characters the font can show, and the contact sheet lists every desc in
full. Colours come from a stable hash of the object's category (`类别=` or the plain desc), so one category
keeps its colour across records and before/after pairs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from vlmdata.augment.barriers import category_of

PALETTE = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
]  # fmt: skip
CJK_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
]
FALLBACK_FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]


@lru_cache(maxsize=1)
def find_font() -> tuple[str | None, bool]:
    """(path or None for PIL's built-in font, whether it has CJK glyphs)."""
    env = os.environ.get("VLMDATA_FONT")
    if env and os.path.isfile(env):
        return env, True
    for path in CJK_CANDIDATES:
        if os.path.isfile(path):
            return path, True
    if shutil.which("fc-match"):
        try:
            path = subprocess.run(
                ["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            path = ""
        if path and os.path.isfile(path) and "dejavu" not in path.lower():
            return path, True
    for path in FALLBACK_FONTS:
        if os.path.isfile(path):
            return path, False
    return None, False


@lru_cache(maxsize=8)
def _font(size: int) -> Any:
    path, _ = find_font()
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


def label_text(index: int, desc: str) -> str:
    _, cjk = find_font()
    if cjk:
        text = f"#{index} {desc}"
    else:  # keep the number and the runs of text the font can show (`类别=BBU设备` → `#0 BBU`)
        runs = re.findall(r"[\x20-\u2e7f]+", re.sub(r"[=,|]", " ", desc))
        shown = " ".join(" ".join(runs).split())
        text = f"#{index} {shown}".rstrip()
    return text if len(text) <= 48 else text[:47] + "…"


def colour_of(desc: str) -> tuple[int, int, int]:
    digest = hashlib.md5(category_of(desc).encode("utf-8")).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def draw_objects(
    image: Image.Image, objects: list[dict[str, Any]], image_index: int = 0, scale: float = 1.0
) -> Image.Image:
    """A copy of `image` (already scaled by `scale`) with the record's objects of `image_index` drawn on it."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out, "RGBA")
    size = max(12, min(22, round(out.width / 45)))
    font = _font(size)
    width = max(2, round(out.width / 400))
    for i, o in enumerate(objects):
        if int(o.get("image_index") or 0) != image_index:
            continue
        col = colour_of(o["desc"])
        pts = [(x * scale, y * scale) for x, y in zip(o["points"][::2], o["points"][1::2], strict=True)]
        if o["kind"] == "bbox_2d":
            (x1, y1), (x2, y2) = pts
            draw.rectangle([x1, y1, x2, y2], outline=col, width=width)
            anchor = (x1, y1)
        elif o["kind"] == "poly":
            draw.polygon(pts, outline=col, fill=(*col, 40))
            draw.line([*pts, pts[0]], fill=col, width=width, joint="curve")
            anchor = min(pts, key=lambda p: (p[1], p[0]))
        else:
            draw.line(pts, fill=col, width=width + 1, joint="curve")
            r = width + 2
            draw.ellipse([pts[0][0] - r, pts[0][1] - r, pts[0][0] + r, pts[0][1] + r], fill=col)
            anchor = pts[0]
        text = label_text(i, o["desc"])
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        x = min(max(anchor[0], 0), max(out.width - tw - 4, 0))
        y = anchor[1] - th - 4 if anchor[1] - th - 4 >= 0 else anchor[1] + 2
        draw.rectangle([x, y, x + tw + 4, y + th + 4], fill=(*col, 200))
        draw.text((x + 2 - left, y + 2 - top), text, fill=(0, 0, 0), font=font)
    return out
