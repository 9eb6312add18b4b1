"""Vocabularies of the synthetic domains, `desc` strings and BBU/RRU summaries.

Three domains:
- `bbu` / `rru`: telecom-site inspection data. `desc` is a comma-separated list of `key=value` tokens with
  `类别=<category>` first and `|` joining several values of one key (`类别=光纤,保护措施=有护套|有标签`).
  Records carry a one-line JSON `summary` (targets-audit.md): top key `统计`, one entry per category.
- `generic`: detection data with plain category names (`person`) and no summary.

`build_summary` follows the counting rule of targets-audit.md (each observed `key=value` counted, `|` values
counted separately, categories sorted, attribute keys sorted, values sorted); BBU summaries may add `备注`
(remarks), RRU summaries add `分组统计` (group id -> number of objects carrying `组=<id>`).

Randomness always comes from a `numpy.random.Generator` passed in, never from `random` or `hash()`, so the
output depends only on the seed.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DOMAINS = ("bbu", "rru", "generic")
IRRELEVANT = "无关图片"
SUMMARY_SEPARATORS = (", ", ": ")


@dataclass(frozen=True)
class Category:
    name: str
    kinds: tuple[str, ...]  # geometry kinds this category is drawn as
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    multi: tuple[str, ...] = ()  # attribute keys that may carry several `|`-joined values
    grouped: bool = False  # RRU: objects carry `组=<id>`
    weight: float = 1.0


_BRANDS = ("华为", "中兴", "爱立信", "诺基亚")
_VIS = ("完整", "部分遮挡")

BBU_CATEGORIES: tuple[Category, ...] = (
    Category("BBU设备", ("bbox_2d",), {"品牌": _BRANDS, "可见性": _VIS}, weight=2.0),
    Category("挡风板", ("bbox_2d",), {"安装状态": ("已安装", "未安装"), "可见性": _VIS}),
    Category("螺丝", ("bbox_2d",), {"状态": ("已拧紧", "未拧紧", "缺失")}, weight=1.5),
    Category(
        "光纤",
        ("line",),
        {"弯曲半径": ("合理", "过小"), "保护措施": ("有护套", "有标签", "无保护")},
        multi=("保护措施",),
        weight=1.5,
    ),
    Category("电源线", ("line",), {"捆扎": ("整齐", "散乱"), "颜色": ("黑色", "红色", "蓝色")}),
    Category("接地线", ("line",), {"连接": ("牢固", "松动")}),
    Category(
        "标签",
        ("poly",),
        {"可读性": ("清晰", "模糊"), "内容": ("设备编号", "端口号", "站点名")},
        multi=("内容",),
    ),
    Category("机柜门", ("poly", "bbox_2d"), {"状态": ("关闭", "打开")}, weight=0.5),
)

RRU_CATEGORIES: tuple[Category, ...] = (
    Category("RRU设备", ("bbox_2d",), {"品牌": _BRANDS, "可见性": _VIS}, grouped=True, weight=2.0),
    Category("紧固件", ("bbox_2d",), {"状态": ("合格", "松动", "锈蚀")}, weight=1.5),
    Category(
        "尾纤",
        ("line",),
        {"防水": ("已做防水", "未做防水"), "弯曲半径": ("合理", "过小")},
        grouped=True,
        weight=1.5,
    ),
    Category("接地线", ("line",), {"连接": ("牢固", "松动"), "颜色": ("黄绿色", "黑色")}),
    Category("抱杆", ("poly",), {"材质": ("钢管", "角钢")}, weight=0.5),
    Category(
        "标签", ("poly",), {"可读性": ("清晰", "模糊"), "内容": ("设备编号", "扇区号")}, multi=("内容",)
    ),
)

GENERIC_CATEGORIES: tuple[Category, ...] = (
    Category("person", ("bbox_2d",), weight=2.0),
    Category("car", ("bbox_2d",), weight=1.5),
    Category("dog", ("bbox_2d",)),
    Category("window", ("bbox_2d",)),
    Category("traffic_sign", ("poly",)),
    Category("building", ("poly",)),
    Category("lane_line", ("line",), weight=1.5),
    Category("power_line", ("line",)),
)

CATEGORIES: dict[str, tuple[Category, ...]] = {
    "bbu": BBU_CATEGORIES,
    "rru": RRU_CATEGORIES,
    "generic": GENERIC_CATEGORIES,
}

BBU_REMARKS = ("机柜门未关闭", "部分线缆遮挡设备", "拍摄角度倾斜", "光线不足", "存在未使用端口")

CHAT_QA: dict[str, tuple[tuple[str, str], ...]] = {
    "bbu": (
        ("BBU设备的挡风板有什么作用？", "挡风板用于引导机柜内的气流，保证BBU设备散热良好。"),
        ("光纤弯曲半径过小会有什么后果？", "弯曲半径过小会增加光信号损耗，严重时会导致光纤断裂。"),
    ),
    "rru": (
        ("RRU尾纤为什么要做防水？", "尾纤接头暴露在室外，防水处理可以防止雨水进入接头造成信号中断。"),
        ("接地线松动有什么风险？", "接地线松动会导致防雷接地失效，雷击时可能损坏RRU设备。"),
    ),
    "generic": (
        ("What is a bounding box?", "An axis-aligned rectangle [x1, y1, x2, y2] that encloses an object."),
        ("How many corners does a polygon need?", "At least three points with non-zero area."),
    ),
}


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = sum(weights), []
    acc = 0.0
    for w in weights:
        acc += w
        out.append(acc / total)
    return out


_CUMULATIVE = {d: _cumulative([c.weight for c in cats]) for d, cats in CATEGORIES.items()}


def weighted_index(rng: np.random.Generator, cumulative: Sequence[float]) -> int:
    """Index i drawn with probability proportional to its weight (one uniform draw, cheaper than rng.choice)."""
    return min(bisect.bisect_right(cumulative, rng.random()), len(cumulative) - 1)


def pick_category(rng: np.random.Generator, domain: str) -> Category:
    return CATEGORIES[domain][weighted_index(rng, _CUMULATIVE[domain])]


def make_desc(rng: np.random.Generator, domain: str, category: Category, group: int | None = None) -> str:
    """A desc string for one object: `类别=…,key=value|value` (BBU/RRU) or the plain name (generic)."""
    if domain == "generic":
        return category.name
    tokens = [f"类别={category.name}"]
    for key, values in category.attributes.items():
        if key in category.multi and rng.random() < 0.35:
            k = int(rng.integers(2, len(values) + 1))
            chosen = sorted(int(v) for v in rng.choice(len(values), size=k, replace=False))
            tokens.append(f"{key}={'|'.join(values[i] for i in chosen)}")
        else:
            tokens.append(f"{key}={values[int(rng.integers(len(values)))]}")
    if category.grouped and group is not None:
        tokens.append(f"组={group}")
    return ",".join(tokens)


def parse_desc(desc: str) -> tuple[str, dict[str, list[str]]]:
    """Split a BBU/RRU desc into (category, {key: [values]}); a plain name gives (name, {})."""
    if "=" not in desc:
        return desc, {}
    category = ""
    attrs: dict[str, list[str]] = {}
    for token in desc.split(","):
        key, _, value = token.partition("=")
        if key == "类别":
            category = value
        else:
            attrs.setdefault(key, []).extend(v for v in value.split("|") if v)
    return category, attrs


def count_summary(descs: Iterable[str]) -> list[dict[str, Any]]:
    """The `统计` list: one entry per category (sorted), attribute keys and values sorted, values counted."""
    table: dict[str, dict[str, dict[str, int]]] = {}
    for desc in descs:
        category, attrs = parse_desc(desc)
        per_cat = table.setdefault(category, {})
        for key, values in attrs.items():
            counts = per_cat.setdefault(key, {})
            for v in values:
                counts[v] = counts.get(v, 0) + 1
    out = []
    for category in sorted(table):
        entry: dict[str, Any] = {"类别": category}
        for key in sorted(table[category]):
            entry[key] = {v: table[category][key][v] for v in sorted(table[category][key])}
        out.append(entry)
    return out


def group_counts(descs: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for desc in descs:
        for v in parse_desc(desc)[1].get("组", []):
            counts[v] = counts.get(v, 0) + 1
    return {k: counts[k] for k in sorted(counts, key=lambda s: (len(s), s))}


def build_summary(descs: Sequence[str], domain: str, rng: np.random.Generator | None = None) -> str:
    """The one-line JSON summary of a BBU/RRU record built from its objects' descs.

    With `rng`, a BBU summary gets a `备注` list about a third of the time; an RRU summary gets `分组统计`
    whenever its objects carry groups.
    """
    summary: dict[str, Any] = {"统计": count_summary(descs)}
    if domain == "bbu" and rng is not None and rng.random() < 0.35:
        k = int(rng.integers(1, 3))
        idx = sorted(int(i) for i in rng.choice(len(BBU_REMARKS), size=k, replace=False))
        summary["备注"] = [BBU_REMARKS[i] for i in idx]
    if domain == "rru":
        groups = group_counts(descs)
        if groups:
            summary["分组统计"] = groups
    return dump_summary(summary)


def dump_summary(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, ensure_ascii=False, separators=SUMMARY_SEPARATORS)
