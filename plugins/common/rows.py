"""Raw conversation rows for ms-swift's rollout-style trainers (GRPO, GKD), built by vlmdata's data layer.

ms-swift's GRPO and GKD trainers take raw rows (`messages` + `images` + passthrough columns) and encode them
themselves. `RawRows` is the `TrainSamples` that produces them: the same record → (online augmentation on the
training split) → conversation path as `sft`, then

- the messages in ms-swift's standard form (`<image>` tags in the text): ms-swift keys rollout groups by the
  JSON of the messages, and its rollout requests carry images as strings. Each image is its path when the
  file's pixels are exactly what training sees, else (EXIF-rotated or augmented) a lossless PNG base64 of the
  pixels — ms-swift applies no EXIF orientation itself;
- `prompt_only=True` (GRPO) drops the assistant turn and keeps it as `solution`;
- the length check: the encoded row (prompt only, or the whole conversation) plus `completion_budget`
  (the generation budget of on-policy steps) must stay below `global_max_length`, else the run stops naming
  the record (never a silent drop);
- `vlmdata_record`: the record as JSON with its template in `metadata._template` (augmented geometry when
  augmented), for rewards that score against the reference;
- `vlmdata_key`: `[epoch, position, step]` of the row in the data stream (the draw log reads it);
- with `prefetch` (GKD): `vlmdata_encoded`, the row encoded exactly as ms-swift's trainer would encode it for a
  dataset batch (`prefetch_encoder`: the same `encode_sample` on the same sample, with the template mode it
  ran under). The dataset runs in the dataloader workers, so the encoding (image decode, resize, processor,
  tokenizer: ~0.1 s per 1024-px sample) overlaps the GPU work instead of stalling the training loop; ms-swift's
  GKD trainer otherwise encodes every batch on the main process.

Rollout trainers read one round several times (each prompt `num_generations` times, each round once per
micro-batch that reuses its completions); the rows of the last keys are kept, so the images are read and
augmented once per key.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from typing import Any

from vlmdata.models.qwen import over_length, record_image_kwargs, record_metadata, record_source
from vlmdata.train.data.samples import TrainSamples, over_length_error

RECENT_ROWS = 32  # distinct rows kept per process: a round's prompts, read again for every repeat


def exif_rotated(path: str) -> bool:
    from PIL import Image

    with Image.open(path) as im:
        return im.getexif().get(0x0112, 1) not in (1, None)


def png_base64(image: Any) -> str:
    import base64
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


class RawRows(TrainSamples):
    def __init__(
        self,
        *args: Any,
        row_encode: Any,
        prompt_only: bool,
        completion_budget: int = 0,
        prefetch: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.row_encode = row_encode  # (messages, images, image_kwargs) -> encoded, see `row_encoder`
        self.prefetch = prefetch  # row -> {"mode", "encoded"}, see `prefetch_encoder`
        self.prompt_only = prompt_only
        self.completion_budget = int(completion_budget)
        self._recent: OrderedDict[tuple[int, int, int], dict[str, Any]] = OrderedDict()

    def __getitem__(self, key: Any) -> dict[str, Any]:
        if isinstance(key, (tuple, list)):
            epoch, position, step = (int(k) for k in key)
        else:
            epoch, position, step = 0, int(key), 0
        cached = self._recent.get((epoch, position, step))
        if cached is None:
            source, record = self.sources.record(epoch, position)
            cached = self.build(source, record, epoch, step)
            cached["vlmdata_key"] = [epoch, position, step]
            self._recent[(epoch, position, step)] = cached
            while len(self._recent) > RECENT_ROWS:
                self._recent.popitem(last=False)
        row = copy.deepcopy(cached)
        if self.prefetch is not None:  # not kept in the cache: a 1024-px image's tensors are ~25 MB
            row["vlmdata_encoded"] = self.prefetch(cached)
        return row

    def build(self, source: Any, record: dict[str, Any], epoch: int, step: int | None) -> dict[str, Any]:
        from vlmdata.render import to_swift_standard

        rid = str(record.get("id"))
        paths = list(record.get("images") or [])
        conv = self.conversation(source, record, epoch, step)
        target = conv.messages[-1]["content"]
        flat, _ = to_swift_standard(conv.messages[:-1] if self.prompt_only else conv.messages)
        row_images = [
            p if not conv.augmented and not exif_rotated(p) else png_base64(im)
            for p, im in zip(paths, conv.images, strict=True)
        ]
        encoded = self.row_encode(flat, row_images, record_image_kwargs(conv.record))
        length = int(encoded.get("length") or len(encoded["input_ids"])) + self.completion_budget
        if over_length(length, self.global_max_length):
            raise over_length_error(rid, source, length, self.global_max_length)
        meta = record_metadata(conv.record)
        meta["_template"] = conv.template
        reference = {k: v for k, v in conv.record.items() if k != "length"}
        reference["metadata"] = json.dumps(meta, ensure_ascii=False)
        return {
            "messages": flat,
            "images": row_images,
            "solution": target,
            "channel": record_source(record, source.name),
            "vlmdata_record": json.dumps(reference, ensure_ascii=False, default=str),
        }


def row_encoder(template: Any) -> Any:
    """encode(messages, images, image_kwargs) with ms-swift's template (standard-form messages)."""

    def encode(messages: list[dict[str, Any]], images: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {"messages": messages, "images": images}
        if kwargs:
            row["chat_template_kwargs"] = dict(kwargs)
        return template.encode(row, return_length=True)

    return encode


def prefetch_encoder(template: Any, sample_cls: Any) -> Any:
    """row -> {"mode", "encoded"}: what ms-swift's GKD trainer encodes for this row on a dataset batch
    (`encode_sample` on `sample_cls.from_row(row)`, `_extra_kwargs` dropped, as `encode_gkd_samples` does)."""
    from swift.rlhf_trainers.utils import encode_sample

    def prefetch(row: dict[str, Any]) -> dict[str, Any]:
        kept = template.max_length
        template.max_length = None  # the trainer encodes under `_template_context`, which unsets it too
        try:
            encoded = encode_sample(sample_cls.from_row(row), template)
        finally:
            template.max_length = kept
        encoded.pop("_extra_kwargs", None)
        return {"mode": template.mode, "encoded": encoded}

    return prefetch


def _unused_encoder(messages: list[dict[str, Any]], image_kwargs: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("RawRows encodes through `row_encode`")  # pragma: no cover


def open_rows(
    pipeline: Any, split: str, *, prompt_only: bool, completion_budget: int, prefetch: Any = None
) -> RawRows | None:
    data = pipeline.vlmdata_data
    sources = data.train if split == "train" else data.val
    if sources is None or not sources.items:
        return None
    return RawRows(
        sources,
        _unused_encoder,
        row_encode=row_encoder(pipeline.template),
        prompt_only=prompt_only,
        completion_budget=completion_budget,
        prefetch=prefetch,
        **data.sample_options(split),
    )
