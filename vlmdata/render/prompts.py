"""The prompt text of every built-in template, and the format descriptions user templates reuse.

Prompts are plain text with nothing left to fill in: the string a model sees at training time is the string
it sees at inference (`vlmdata prompts show NAME`). The only variation is a fixed sentence appended for
records with several images (see `Template.prompt`), so a given record shape always gets the same prompt.

`format_rules(...)` is the description of a target format that the built-in neutral templates end with and
that a user template gets for its `{format}` field, so a hand-written prompt can describe the target in
exactly the words the built-ins use.
"""

from __future__ import annotations

SYSTEM = (
    "You are a vision assistant for telecom site inspection. You locate objects precisely and answer in "
    "exactly the format the user asks for, with no extra text."
)

SYSTEM_GENERIC = (
    "You are a vision assistant. You locate objects precisely and answer in exactly the format the user asks "
    "for, with no extra text."
)

_DOMAIN_WORDS = {
    "BBU": "BBU (baseband unit) installation",
    "RRU": "RRU (remote radio unit) installation",
}

_DESC_RULE = (
    '"desc", the object\'s description as comma-separated key=value pairs starting with 类别= and the category '
    "(for example 类别=BBU设备,品牌=华为,可见性=完整; 可见性 is 完整 when the object is fully visible and 部分 "
    "when it is cut off or occluded; several values of one key are joined with |)"
)

_GEOMETRY_RULE = (
    'followed by exactly one geometry: "bbox_2d": [x1, y1, x2, y2] for a box, "poly": [[x, y], ...] for a '
    'polygon (clockwise, starting at its top-most point), or "line_points": n and "line": [[x, y], ...] for '
    "a polyline of n points. Coordinates are integers from 0 to 1000, relative to the image width and height."
)

_ORDER_RULE = (
    "keys object_1, object_2, ... numbered in reading order of the objects' box centres: top to bottom, "
    "then left to right"
)


_ORDER_SENTENCE = "numbered in reading order of the objects' box centres (top to bottom, then left to right)"

QWEN_ITEMS = (
    '{"bbox_2d": [x1, y1, x2, y2], "label": ...} for a box, {"polygon": [[x, y], ...], "label": ...} for a '
    'polygon (clockwise, starting at its top-most point), or {"line": [[x, y], ...], "label": ...} for a '
    "polyline"
)

_COORDS = "Coordinates are integers from 0 to 1000, relative to the image width and height."

MULTI_IMAGE_QWEN = (
    'There are several pictures, numbered from 1 in the order given; each item also has "image": k, the '
    "picture it lies on, right after its label, and its coordinates are relative to that picture. Items are "
    "ordered by picture first."
)


def format_rules(target: str, header: str | None = None, fence: bool = True, multi: bool = False) -> str:
    """The description of a target format (`object_map`, `qwen` or `summary`), with its header line if any.

    `header` is the exact first line of the target (already filled); `multi` adds the several-pictures
    sentence of the format.
    """
    lead = (
        f"Answer in two lines. Line 1 is exactly {header}. Line 2 is" if header else "Answer with one line:"
    )
    if target == "object_map":
        text = (
            f"{lead} a JSON object with keys object_1, object_2, ... {_ORDER_SENTENCE}. Each value has "
            f'"desc", the object\'s description, {_GEOMETRY_RULE} If there is no object, '
            + ("line 2 is {}." if header else "answer {}.")
        )
        return f"{text} {MULTI_IMAGE_DENSE}" if multi else text
    if target == "qwen":
        block = "a JSON list in a ```json code block" if fence else "a JSON list"
        lead = f"Answer with line 1 exactly {header}, then {block}" if header else f"Answer with {block}"
        text = (
            f"{lead}, one item per object, {_ORDER_SENTENCE.replace('numbered', 'listed')}. Each item is "
            f'{QWEN_ITEMS}, where "label" is the object\'s description. {_COORDS} If there is no object, '
            "the list is empty."
        )
        return f"{text} {MULTI_IMAGE_QWEN}" if multi else text
    text = (
        f"{lead} one JSON object "
        + '{"统计": [...]} with one entry per object category, sorted by category; '
        'each entry is {"类别": category, attribute: {value: count, ...}, ...} with attribute keys sorted, '
        "counting every value each object shows for that attribute. If the image shows nothing to count, "
        "answer exactly 无关图片 and nothing else."
    )
    return f"{text} {MULTI_IMAGE_COUNTS}" if multi else text


def dense_prompt(domain: str | None) -> str:
    if domain is None:
        subject = "this image of telecom equipment"
        header = (
            "either <DOMAIN=BBU>, <TASK=DETECTION> or <DOMAIN=RRU>, <TASK=DETECTION>, whichever equipment "
            "the image shows"
        )
    else:
        subject = f"this image of {_DOMAIN_WORDS.get(domain, domain + ' equipment')}"
        header = f"exactly <DOMAIN={domain}>, <TASK=DETECTION>"
    return (
        f"Detect every annotated object in {subject}. Answer in two lines. Line 1 is {header}. Line 2 is one "
        f"JSON object with {_ORDER_RULE}. Each value has {_DESC_RULE}, {_GEOMETRY_RULE} "
        "If there is no object, line 2 is {}."
    )


SOURCE_DENSE = (
    "Detect every object in this image. Answer with one line: a JSON object with keys object_1, object_2, "
    "... numbered in reading order of the objects' box centres (top to bottom, then left to right). Each "
    'value has "desc", the object\'s category name, ' + _GEOMETRY_RULE + " If there is no object, answer {}."
)


def summary_prompt(domain: str | None) -> str:
    if domain is None:
        subject = "this image of telecom equipment"
        header = (
            "either <DOMAIN=BBU>, <TASK=SUMMARY> or <DOMAIN=RRU>, <TASK=SUMMARY>, whichever equipment the "
            "image shows"
        )
        extras = (
            'A BBU summary may add "备注", a list of remarks; an RRU summary may add "分组统计" mapping '
            "each group id to its number of members."
        )
    else:
        subject = f"this image of {_DOMAIN_WORDS.get(domain, domain + ' equipment')}"
        header = f"exactly <DOMAIN={domain}>, <TASK=SUMMARY>"
        extras = {
            "BBU": 'You may add "备注", a list of remarks on anything worth noting.',
            "RRU": 'You may add "分组统计" mapping each group id to its number of members.',
        }.get(domain, "")
    return (
        f"Summarise {subject} as counts. Answer in two lines. Line 1 is {header}. Line 2 is one JSON object "
        '{"统计": [...]} with one entry per object category, sorted by category; each entry is {"类别": '
        "category, attribute: {value: count, ...}, ...} with attribute keys sorted, counting every "
        f"value each object shows for that attribute. {extras} If the image shows no relevant equipment, "
        "answer exactly 无关图片 and nothing else."
    ).replace("  ", " ")


GROUNDING = "Locate every object in this image. " + format_rules("object_map")

GROUNDING_QWEN = "Locate every object in this image. " + format_rules("qwen")

COUNTING = "Count the objects in this image by category and attribute. " + format_rules("summary")

CHAT = ""

MULTI_IMAGE_DENSE = (
    'There are several pictures, numbered from 1 in the order given; each object also has "image": k, the '
    "picture it lies on, right after its desc, and its coordinates are relative to that picture. Objects "
    "are ordered by picture first."
)

MULTI_IMAGE_SUMMARY = "There are several pictures of one site; count the objects of all of them together."

MULTI_IMAGE_COUNTS = "There are several pictures; count the objects of all of them together."
