"""`vlmdata infer`: batched greedy generation with transformers, writing a predictions JSONL.

The prompt is exactly the training prompt (the record's template via `build_messages`, assistant turn
removed). Images are decoded as training decodes them (EXIF orientation applied) and sized as ms-swift sizes
them in training and as the audit counts them: the run's `template.min_pixels`/`max_pixels` act as whole
32×32-px tokens (`vlmdata.models.qwen.effective_pixel_bounds`: 3136 → 3072), a record's own
`metadata.min_pixels`/`max_pixels` exactly (`record_pixel_bounds`), and the resized image reaches the
processor with `do_resize=False`, as ms-swift passes it, so the model's own processor bounds (65536 px and up
for Qwen3-VL) cannot resize it again. With `--adapter` the LoRA adapter is merged into the base model before
generation. Output lines: `{"id", "template", "completion"}`, written under the single-file `--out` rule
(`vlmdata.io.output`; checked before the model loads); `vlmdata eval` scores them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


def pixel_bounds(min_pixels: int | None = None, max_pixels: int | None = None) -> tuple[int, int]:
    """The run-wide (min, max) pixels training uses for a `template` section with these values (None: the run
    config's defaults)."""
    from vlmdata.config.run import TemplateConfig
    from vlmdata.models.qwen import effective_pixel_bounds

    defaults = TemplateConfig()
    return effective_pixel_bounds(
        {
            "min_pixels": defaults.min_pixels if min_pixels is None else min_pixels,
            "max_pixels": defaults.max_pixels if max_pixels is None else max_pixels,
        }
    )


def _load_image(path: str, record: Mapping[str, Any], bounds: tuple[int, int]) -> Any:
    from PIL import Image

    from vlmdata.contract.imagesize import ResizeError, checked_resize
    from vlmdata.errors import CODES, Location, VlmdataError
    from vlmdata.io.decode import load_image
    from vlmdata.io.images import ImageProblem
    from vlmdata.models.qwen import record_pixel_bounds
    from vlmdata.render.codes import BAD_PIXEL_BOUNDS

    record_id = str(record["id"])
    try:
        min_pixels, max_pixels = record_pixel_bounds(record, bounds)
    except ValueError as exc:
        where = Location(field="metadata", record_id=record_id)
        raise VlmdataError(BAD_PIXEL_BOUNDS, str(exc), where=where) from None
    try:
        img = load_image(path)  # decoded exactly as training decodes it
        h, w = checked_resize(img.height, img.width, min_pixels, max_pixels)
    except ImageProblem as exc:
        raise VlmdataError(
            CODES[exc.code], exc.message, where=Location(file=path, record_id=record_id)
        ) from None
    except ResizeError as exc:
        code = {"aspect": "VD431", "zero": "VD434"}.get(exc.kind, "VD433")
        raise VlmdataError(CODES[code], str(exc), where=Location(file=path, record_id=record_id)) from None
    return img if (h, w) == (img.height, img.width) else img.resize((w, h), Image.Resampling.BICUBIC)


def model_inputs(
    processor: Any,
    records: Sequence[Mapping[str, Any]],
    template: str,
    bounds: tuple[int, int],
    system: str | None = None,
) -> tuple[Any, list[str]]:
    """(the processor's batch for these records' prompts, the template name of each record)."""
    from vlmdata.render import build_messages, resolve_template

    texts, images, names = [], [], []
    for record in records:
        name = resolve_template(record, template)
        imgs = [_load_image(p, record, bounds) for p in record["images"] or []]
        messages = build_messages(
            record, name, images=imgs if name != "chat" else None, system=system, prompt_only=True
        )
        texts.append(processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        images.extend(imgs)
        names.append(name)
    inputs = processor(text=texts, images=images or None, return_tensors="pt", padding=True, do_resize=False)
    return inputs, names


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def infer(
    model_dir: str | Path,
    dataset: str | Path | Any,
    out: str | Path,
    *,
    adapter: str | Path | None = None,
    template: str | None = None,
    batch_size: int = 4,
    max_new_tokens: int = 512,
    limit: int | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    device: str | None = None,
    system: str | None = None,
    progress: Callable[..., None] | None = None,
) -> Path:
    """`template`: for records that name none (default: the neutral `grounding`); `system` replaces the
    template's system prompt, as the run config's `template.system` does in training; `min_pixels` /
    `max_pixels`: the run config's `template` values as written (None: its defaults), applied as training
    applies them (`pixel_bounds`); `progress(n)` after each batch of n records."""
    from vlmdata.io.dataset import open_dataset
    from vlmdata.io.output import check_out, write_output

    sources: list[str | Path | None] = [dataset] if isinstance(dataset, (str, Path)) else []
    sources += [model_dir, adapter]
    check_out(out, command="infer", kind="file", inputs=sources)  # before any model is loaded

    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from vlmdata.render import DEFAULT_TEMPLATE

    template = template or DEFAULT_TEMPLATE
    bounds = pixel_bounds(min_pixels, max_pixels)

    ds = open_dataset(dataset) if isinstance(dataset, (str, Path)) else dataset
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    processor = AutoProcessor.from_pretrained(str(model_dir), local_files_only=True)
    processor.tokenizer.padding_side = "left"
    model: Any = AutoModelForImageTextToText.from_pretrained(
        str(model_dir), dtype=dtype, local_files_only=True
    )
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.to(device).eval()
    lines: list[str] = []
    for batch in _batches(list(range(len(ds))), batch_size):
        records = [ds[i] for i in batch]
        inputs, names = model_inputs(processor, records, template, bounds, system)
        inputs = inputs.to(device)
        with torch.inference_mode():
            generated = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        new_tokens = generated[:, inputs["input_ids"].shape[1] :]
        decoded = processor.batch_decode(new_tokens, skip_special_tokens=True)
        for record, name, text in zip(records, names, decoded, strict=True):
            lines.append(
                json.dumps(
                    {"id": record["id"], "template": name, "completion": text.strip()}, ensure_ascii=False
                )
            )
        if progress is not None:
            progress(len(records))
    return write_output(out, "".join(line + "\n" for line in lines), command="infer", inputs=sources)
