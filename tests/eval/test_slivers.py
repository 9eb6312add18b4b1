"""Objects thinner than one grid unit: what the renderer writes, our own parser reads back (every dense
template, every object kind, extreme aspect ratios), and eval/rewards can match it.

Records are generated as contract JSON and kept only when the contract accepts them, so every case is data
`vlmdata validate` would pass. IoU of the widened reading is checked against shapely.
"""

from __future__ import annotations

import json
import math

import pytest
import shapely.geometry as sg
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vlmdata.contract.models import Record
from vlmdata.contract.rows import record_row
from vlmdata.errors import VlmdataError
from vlmdata.eval.match import geometry_iou, region_of
from vlmdata.eval.metrics import loc_fbeta, score_dense
from vlmdata.eval.parse import dense_reference, parse_dense, parse_dense_answer
from vlmdata.render import TEMPLATES, render_target
from vlmdata.render.dense import grid_objects
from vlmdata.render.templates import register_template
from vlmdata.render.user import load_template_file

DENSE = sorted(n for n, t in TEMPLATES.items() if t.mode == "dense")
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# sizes up to the contract's 200:1 aspect limit, the tiniest images, and the grid's own size
sizes = st.one_of(
    st.sampled_from([(1, 1), (1, 200), (200, 1), (7, 1), (1000, 1000), (40000, 200), (200, 40000), (3, 600)]),
    st.tuples(st.integers(1, 30000), st.integers(1, 30000)).filter(lambda s: max(s) / min(s) <= 200),
)
unit = st.floats(0, 1, allow_nan=False)
# thickness as a fraction of the side: far below one grid unit (1e-3) down to a hair above float noise
thin = st.floats(-9, -3.05).map(lambda e: 10.0**e)


@st.composite
def sliver(draw: st.DrawFn, w: int, h: int) -> dict:
    kind = draw(st.sampled_from(["bbox_2d", "poly", "line"]))
    axis = draw(st.sampled_from(["x", "y", "both", "diagonal"]))
    tx, ty = draw(thin) * w, draw(thin) * h
    if kind == "bbox_2d":
        if axis == "diagonal":
            axis = "both"
        ex = tx if axis in ("x", "both") else max(draw(unit) * w, tx)
        ey = ty if axis in ("y", "both") else max(draw(unit) * h, ty)
        x1, y1 = draw(unit) * (w - ex), draw(unit) * (h - ey)
        return {"desc": "box", "bbox_2d": [x1, y1, x1 + ex, y1 + ey]}
    x0, y0 = draw(unit) * w, draw(unit) * h
    if axis == "diagonal":  # along a slanted direction, a sliver across it
        length = draw(unit) * min(w, h) / 4
        base = [(x0, y0), (x0 + length, y0 + length)]
        offset = (tx, -ty)
    elif axis == "x":  # thin in x, long in y
        base = [(x0, y0), (x0, y0 + draw(unit) * (h - y0))]
        offset = (tx, 0.0)
    elif axis == "y":
        base = [(x0, y0), (x0 + draw(unit) * (w - x0), y0)]
        offset = (0.0, ty)
    else:  # a speck
        base = [(x0, y0), (x0 + tx, y0)]
        offset = (0.0, ty)
    if kind == "line":
        pts = [base[0], (base[0][0] + offset[0], base[0][1] + offset[1])]
        if draw(st.booleans()):
            pts.append(base[1])
        return {
            "desc": "line",
            "line": [min(max(c, 0.0), lim) for p in pts for c, lim in zip(p, (w, h), strict=True)],
        }
    pts = [base[0], base[1], (base[1][0] + offset[0], base[1][1] + offset[1])]
    if draw(st.booleans()):
        pts.append((base[0][0] + offset[0], base[0][1] + offset[1]))
    flat = [min(max(c, 0.0), lim) for p in pts for c, lim in zip(p, (w, h), strict=True)]
    return {"desc": "poly", "poly": flat}


@st.composite
def records(draw: st.DrawFn) -> tuple[dict, str]:
    w, h = draw(sizes)
    n_images = draw(st.sampled_from([1, 1, 2]))
    objs = draw(st.lists(sliver(w, h), min_size=1, max_size=5))
    for obj in objs:
        obj["image_index"] = draw(st.integers(0, n_images - 1))
    raw = {
        "id": "s",
        "images": [f"/i/{k}.jpg" for k in range(n_images)],
        "width": w,
        "height": h,
        "objects": objs,
        "metadata": {"domain": "BBU"},
    }
    try:
        rec = Record.model_validate(raw)
    except ValidationError:  # e.g. a sliver polygon below the contract's 1e-9 px² area
        assume(False)
        raise
    return record_row(rec, raw["images"]), draw(st.sampled_from(DENSE))


def _flat(geom: list) -> list[float]:
    return (
        [float(c) for p in geom for c in p]
        if geom and isinstance(geom[0], list)
        else [float(c) for c in geom]
    )


@SETTINGS
@given(case=records())
def test_render_then_parse_round_trips_slivers(case: tuple[dict, str]) -> None:
    row, name = case
    text = render_target(row, name)
    parsed = parse_dense_answer(text, TEMPLATES[name], row)
    assert parsed.ok and parsed.strict_ok and parsed.format_ok, (parsed.issues, text)
    expected = [(kind, _flat(geom), index) for _, kind, geom, index in grid_objects(row)]
    assert [(o.kind, o.points, o.image) for o in parsed.objects] == expected
    # the reference eval and the rewards use is that parse, and a perfect answer scores 1 on every threshold
    refs = dense_reference(row, name)
    assert [(o.kind, o.points) for o in refs] == [(k, p) for k, p, _ in expected]
    assert loc_fbeta(score_dense(refs, refs)) == 1.0
    for o in refs:
        assert geometry_iou(o.kind, o.points, o.kind, o.points) == 1.0


@pytest.fixture(scope="module")
def user_templates(tmp_path_factory: pytest.TempPathFactory) -> list:
    folder = tmp_path_factory.mktemp("templates")
    out = []
    for target in ("{format: qwen, fence: true}", "{format: qwen, fence: false}", "object_map"):
        path = folder / f"t{len(out)}.yaml"
        path.write_text(f"name: sliver_{len(out)}\nuser: Find. {{format}}\nheader: '<S>'\ntarget: {target}\n")
        out.append(load_template_file(path))
    return out  # registered inside the test: the registry is restored after each test (conftest)


@SETTINGS
@given(case=records())
def test_user_templates_of_both_formats_round_trip_slivers(user_templates: list, case) -> None:
    row, _ = case
    for tpl in map(register_template, user_templates):
        text = render_target(row, tpl.name)
        parsed = parse_dense_answer(text, tpl, row)
        assert parsed.ok and parsed.strict_ok, (tpl.name, parsed.issues, text)
        assert [(o.kind, o.points) for o in parsed.objects] == [
            (kind, _flat(geom)) for _, kind, geom, _ in grid_objects(row)
        ]


def test_a_sub_grid_box_renders_as_a_zero_extent_box_and_parses() -> None:
    # 0.3 px wide on a 4000 px image: x1 and x2 both round to grid 250
    row = {
        "id": "b",
        "images": ["/i/0.jpg"],
        "width": 4000,
        "height": 100,
        "objects": [
            {"desc": "wire", "kind": "bbox_2d", "points": [1000.0, 10.0, 1000.3, 90.0], "image_index": 0}
        ],
        "summary": None,
        "messages": None,
        "metadata": "{}",
    }
    text = render_target(row, "grounding")
    assert json.loads(text)["object_1"]["bbox_2d"] == [250, 100, 250, 900]
    assert parse_dense(text, False).strict_ok
    qwen = render_target(row, "grounding_qwen")
    assert '"bbox_2d": [250, 100, 250, 900]' in qwen
    assert parse_dense_answer(qwen, TEMPLATES["grounding_qwen"], row).strict_ok


@pytest.mark.parametrize(
    ("box", "issue"),
    [([5, 0, 4, 10], "inverted"), ([0, 6, 10, 5], "inverted"), ([0, 0, 1001, 1], "outside")],
)
def test_inverted_boxes_still_fail(box: list[int], issue: str) -> None:
    parsed = parse_dense(json.dumps({"object_1": {"desc": "a", "bbox_2d": box}}), False)
    assert not parsed.ok and any(issue in i for i in parsed.issues)


def test_a_reference_that_does_not_parse_is_an_error_not_an_empty_reference(monkeypatch) -> None:
    import vlmdata.eval.parse as parse_mod

    row = {
        "id": "r9",
        "images": ["/i/0.jpg"],
        "width": 10,
        "height": 10,
        "objects": [{"desc": "a", "kind": "bbox_2d", "points": [1.0, 1.0, 5.0, 5.0], "image_index": 0}],
        "summary": None,
        "messages": None,
        "metadata": "{}",
    }
    monkeypatch.setattr(parse_mod, "parse_dense_answer", lambda *a: parse_mod.DenseParse(issues=["broken"]))
    with pytest.raises(VlmdataError) as err:
        dense_reference(row, "grounding")
    assert err.value.code_str == "VD422" and "r9" in str(err.value) and "broken" in str(err.value)


def _shapely(kind: str, pts: list[float]) -> sg.Polygon:
    if kind == "bbox_2d":
        return sg.box(*pts)
    return sg.Polygon(list(zip(pts[0::2], pts[1::2], strict=True)))


grid = st.integers(0, 1000)


@settings(max_examples=300, deadline=None)
@given(a=st.tuples(grid, grid, grid, grid), b=st.tuples(grid, grid, grid, grid), flat_a=st.booleans())
def test_zero_extent_boxes_read_as_one_unit_against_shapely(a, b, flat_a) -> None:
    ax1, ay1, ax2, ay2 = min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]), max(a[1], a[3])
    if flat_a:
        ax2 = ax1  # a vertical sliver
    bx1, by1, bx2, by2 = min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])

    def widened(x1: float, y1: float, x2: float, y2: float) -> sg.Polygon:
        if x1 == x2:
            x1, x2 = x1 - 0.5, x2 + 0.5
        if y1 == y2:
            y1, y2 = y1 - 0.5, y2 + 0.5
        return sg.box(x1, y1, x2, y2)

    pa, pb = widened(ax1, ay1, ax2, ay2), widened(bx1, by1, bx2, by2)
    oracle = pa.intersection(pb).area / pa.union(pb).area
    got = geometry_iou("bbox_2d", [ax1, ay1, ax2, ay2], "bbox_2d", [bx1, by1, bx2, by2])
    assert math.isclose(got, oracle, rel_tol=1e-9, abs_tol=1e-12)
    # a box of area keeps its exact IoU against a polygon too (the region reading changes nothing)
    if bx2 > bx1 and by2 > by1:
        tri = [bx1, by1, bx2, by1, bx1, by2]
        want = pa.intersection(_shapely("poly", tri)).area / pa.union(_shapely("poly", tri)).area
        assert math.isclose(geometry_iou("bbox_2d", [ax1, ay1, ax2, ay2], "poly", tri), want, abs_tol=1e-9)


def test_collapsed_polygons_are_read_one_unit_wide() -> None:
    assert region_of("poly", [5, 0, 5, 4, 5, 9]) == ("poly", [4.5, 0.0, 4.5, 9.0, 5.5, 9.0, 5.5, 0.0])
    assert region_of("poly", [3, 3, 3, 3, 3, 3]) == ("bbox_2d", [2.5, 2.5, 3.5, 3.5])
    assert region_of("poly", [0, 0, 4, 0, 0, 4]) == ("poly", [0, 0, 4, 0, 0, 4])  # an area: unchanged
    assert region_of("bbox_2d", [1, 2, 3, 4]) == ("bbox_2d", [1, 2, 3, 4])
    assert region_of("line", [1, 1, 1, 1]) == ("line", [1, 1, 1, 1])
    # a collapsed polygon matches the zero-width box of the same sliver exactly, a real thin box in part
    assert geometry_iou("poly", [5, 0, 5, 4, 5, 9], "bbox_2d", [5, 0, 5, 9]) == pytest.approx(1.0)
    assert geometry_iou("poly", [5, 0, 5, 4, 5, 9], "bbox_2d", [5, 0, 6, 9]) == pytest.approx(1 / 3)


@settings(max_examples=300, deadline=None)
@given(
    p=st.tuples(grid, grid),
    q=st.tuples(grid, grid),
    t=st.lists(st.integers(0, 8), min_size=1, max_size=4),
    other=st.tuples(grid, grid, grid, grid),
)
def test_segment_polygons_against_shapely_bands(p, q, t, other) -> None:
    # vertices on the segment p–q (at eighths of it, exact on the grid when p–q spans multiples of 8)
    q = (p[0] + 8 * ((q[0] - p[0]) // 8), p[1] + 8 * ((q[1] - p[1]) // 8))
    assume(all(0 <= c <= 1000 for c in q))
    mids = [(p[0] + (q[0] - p[0]) * k // 8, p[1] + (q[1] - p[1]) * k // 8) for k in t]
    flat = [float(c) for v in (p, *mids, q) for c in v]
    if p == q:
        band = sg.box(p[0] - 0.5, p[1] - 0.5, p[0] + 0.5, p[1] + 0.5)
    else:
        band = sg.LineString([p, q]).buffer(0.5, cap_style="flat")
    x1, x2 = sorted((other[0], other[2]))
    y1, y2 = sorted((other[1], other[3]))
    assume(x2 > x1 and y2 > y1)
    target = sg.box(x1, y1, x2, y2)
    want = band.intersection(target).area / band.union(target).area
    assert math.isclose(geometry_iou("poly", flat, "bbox_2d", [x1, y1, x2, y2]), want, abs_tol=1e-9)
    assert geometry_iou("poly", flat, "poly", flat) == pytest.approx(1.0)
