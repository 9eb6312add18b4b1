"""Image references of a contract record written into another folder than the one it was read from.

A relative image path in a JSONL file resolves against the file's folder (or `--image-root`), so a command
that writes records into a new file must rewrite every relative reference — the `images` list and the image
items of `messages` — or the output points at nothing. `relocate_record` rewrites them relative to the new
file's folder (`../` where needed) or absolute with `absolute=True`. Absolute paths and remote references are
left as they are (remote ones are refused by `validate` anyway). `outside` counts references that leave the
new file's folder: `validate` confines images to the JSONL's folder by default, so such an output validates
with `--allow-outside-root` (or, written absolute, with an `--image-root` above both). Resolution is lexical (`resolve_image_path`), the rule
`validate` applies, so a path that resolved before resolves to the same file after.

`check_references` then proves it: every reference of the written records, resolved against the output
folder, names the file the input reference named; references that did not exist in the input either are
reported separately (they are the input's problem, not the move's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from vlmdata.io.images import resolve_image_path

_REMOTE = ("://", "http:", "https:", "s3:", "gs:", "ftp:", "data:")


def _is_local_relative(ref: Any) -> bool:
    return (
        isinstance(ref, str)
        and bool(ref)
        and not os.path.isabs(ref)
        and not ref.lower().startswith(_REMOTE)
        and "://" not in ref
    )


def image_refs(record: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field path, reference) for every image reference of a record, in order."""
    images = record.get("images")
    if isinstance(images, list):
        for i, ref in enumerate(images):
            yield f"images[{i}]", ref
    messages = record.get("messages")
    if isinstance(messages, list):
        for m, msg in enumerate(messages):
            content = msg.get("content") if isinstance(msg, Mapping) else None
            if isinstance(content, list):
                for c, item in enumerate(content):
                    if isinstance(item, Mapping) and item.get("type") == "image":
                        yield f"messages[{m}].content[{c}].image", item.get("image")


def _new_ref(ref: str, old_base: str, new_base: str, absolute: bool) -> str:
    target = resolve_image_path(ref, old_base)
    return target if absolute else os.path.relpath(target, new_base)


def relocate_record(record: dict[str, Any], old_base: str, new_base: str, absolute: bool = False) -> bool:
    """Rewrite the record's relative image references in place; True when anything changed."""
    old_base, new_base = os.path.abspath(old_base), os.path.abspath(new_base)
    if old_base == new_base and not absolute:
        return False
    changed = False
    images = record.get("images")
    if isinstance(images, list):
        for i, ref in enumerate(images):
            if _is_local_relative(ref):
                new = _new_ref(ref, old_base, new_base, absolute)
                changed |= new != ref
                images[i] = new
    messages = record.get("messages")
    if isinstance(messages, list):
        for msg in messages:
            content = msg.get("content") if isinstance(msg, dict) else None
            if not isinstance(content, list):
                continue
            for item in content:
                if (
                    isinstance(item, dict)
                    and item.get("type") == "image"
                    and _is_local_relative(item.get("image"))
                ):
                    new = _new_ref(item["image"], old_base, new_base, absolute)
                    changed |= new != item["image"]
                    item["image"] = new
    return changed


@dataclass
class ReferenceCheck:
    checked: int = 0
    outside: int = 0  # local references that lie outside the new folder
    broken: list[str] = field(default_factory=list)  # resolved in the input, not in the output: a bug
    missing_in_input: list[str] = field(default_factory=list)  # did not resolve before the move either


def check_references(
    pairs: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]], old_base: str, new_base: str
) -> ReferenceCheck:
    """`pairs`: (where, input record, output record). Compares what each reference names before and after."""
    out = ReferenceCheck()
    old_base, new_base = os.path.abspath(old_base), os.path.abspath(new_base)
    for where, before, after in pairs:
        for (path, ref_in), (_, ref_out) in zip(image_refs(before), image_refs(after), strict=True):
            if not isinstance(ref_in, str) or not ref_in or not isinstance(ref_out, str):
                continue
            if ref_in.lower().startswith(_REMOTE) or "://" in ref_in:
                continue
            out.checked += 1
            src = resolve_image_path(ref_in, old_base)
            dst = resolve_image_path(ref_out, new_base)
            if not (dst == new_base or dst.startswith(new_base.rstrip("/") + "/")):
                out.outside += 1
            if not os.path.exists(src):
                out.missing_in_input.append(f"{where} {path}: {ref_in}")
            elif dst != src and not (os.path.exists(dst) and os.path.samefile(src, dst)):
                out.broken.append(f"{where} {path}: {ref_out} (was {ref_in})")
    return out
