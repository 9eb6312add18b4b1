"""Record → (online augmentation) → conversation → the backend's encode, one sample at a time.

`TrainSamples` is a map-style dataset (plain `__len__`/`__getitem__`, no torch import) that a DataLoader reads
with the keys `StreamBatchSampler` yields, `(epoch, position, step)`, or with plain integer positions for the
evaluation split (epoch 0, no augmentation). For one key it:

1. fetches the record at that position of that epoch's stream (`Sources.record`);
2. opens its images lazily from their paths with `vlmdata.io.decode.load_image` (EXIF orientation applied,
   8-bit RGB, transparent images composited on white as ms-swift's own image loader does; the run's
   `data.max_image_pixels` as the decompression-bomb limit): the pixels then match the displayed size that
   validation checked the geometry against;
3. on the training split of an augmented source, runs `vlmdata.augment.augment_record(record, images,
   pipeline, epoch, step)`: images stay in memory as PIL images (no temporary files) and the objects come back
   rewritten; the curriculum reads `step`, the optimiser step that consumes the sample;
4. builds the conversation with `vlmdata.render.build_messages` under the record's resolved template
   (`_template` in its metadata wins over the source's template; chat records use their own messages); on
   the training split an irrelevant record under the generic `summary` template gets the `summary_bbu` or
   `summary_rru` prompt, alternating per epoch (`vlmdata.render.epoch_template`);
5. calls the backend's `encode(messages, image_kwargs)` (the record's own pixel bounds, if any) and checks the encoded length: a sample with
   `length >= global_max_length` stops the run with a `VD550` error naming the record, its source and its
   length. Nothing is truncated and nothing is silently skipped.

The encoded dict gets `channel` = the record's `metadata._source` (set by fusion, and by `Sources.record` for
plain datasets to the dataset's name), which the trainer uses for per-dataset loss and accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS
from vlmdata.models.qwen import over_length, record_image_kwargs, record_source
from vlmdata.train.data import codes
from vlmdata.train.data.sources import Source, Sources

# encode(messages, image_kwargs): image_kwargs are the record's own pixel bounds (`metadata.min_pixels` /
# `metadata.max_pixels`), which the backend passes to its image resize.
Encoder = Callable[[list[dict[str, Any]], dict[str, Any]], dict[str, Any]]


def open_image(
    path: str, record_id: str, source: str, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
) -> Any:
    """The image at `path` as an 8-bit RGB PIL image with its EXIF orientation applied (`vlmdata.io.decode`:
    transparency composited on white, as qwen_vl_utils does for paths; 16-bit grayscale refused, not clipped),
    under the run's decompression-bomb limit `max_pixels` (`data.max_image_pixels`)."""
    from vlmdata.io.decode import load_image
    from vlmdata.io.images import ImageProblem

    try:
        return load_image(path, max_pixels)
    except ImageProblem as exc:
        raise VlmdataError(
            codes.IMAGE_UNREADABLE,
            f"cannot read image {path}: {exc.code} {exc.message}",
            where=Location(file=source, record_id=record_id, field="images"),
        ) from None


def _to_pil(image: Any) -> Any:
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    return Image.fromarray(image)


def resolve_record_template(record: Mapping[str, Any], default: str) -> str:
    from vlmdata.render import resolve_template

    return resolve_template(record, default)


@dataclass
class Conversation:
    """One record's conversation, with the record and images it was built from (augmented or not)."""

    messages: list[dict[str, Any]]
    template: str
    record: dict[str, Any]
    images: list[Any]
    augmented: bool


class TrainSamples:
    """Encoded samples of one split (see the module docstring)."""

    def __init__(
        self,
        sources: Sources,
        encode: Encoder,
        *,
        global_max_length: int,
        system: str | None = None,
        augment_pipeline: Any = None,
        train: bool = True,
        pixel_bounds: tuple[int, int] | None = None,
        max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
    ) -> None:
        self.sources = sources
        self.encode = encode
        self.global_max_length = int(global_max_length)
        self.system = system
        self.augment_pipeline = augment_pipeline
        self.train = train
        self.pixel_bounds = pixel_bounds  # the run's (min, max) pixels: images are checked before encoding
        self.max_image_pixels = max_image_pixels  # the decompression-bomb limit of every image read

    def __len__(self) -> int:
        return len(self.sources.order(0))

    def __getstate__(self) -> dict[str, Any]:
        """A worker process started by spawn (not fork) gets the templates registered from YAML with it."""
        from vlmdata.render.templates import user_templates

        return {**self.__dict__, "_user_templates": list(user_templates().values())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from vlmdata.render.templates import register_template

        for template in state.pop("_user_templates", []):
            register_template(template)
        self.__dict__.update(state)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        if isinstance(key, (tuple, list)):
            epoch, position, step = (int(k) for k in key)
        else:
            epoch, position, step = 0, int(key), 0
        source, record = self.sources.record(epoch, position)
        return self.build(source, record, epoch, step)

    def conversation(
        self, source: Source, record: dict[str, Any], epoch: int = 0, step: int | None = None
    ) -> Conversation:
        """The conversation of `record` as training will see it (augmented when this split augments)."""
        from vlmdata.render import build_messages

        rid = str(record.get("id"))
        images = [open_image(p, rid, source.path, self.max_image_pixels) for p in record.get("images") or []]
        objects = None
        augmented = False
        if self.train and source.augment and self.augment_pipeline is not None and images:
            from vlmdata.augment import augment_record

            result = augment_record(record, images, self.augment_pipeline, epoch, step=step)
            images = [_to_pil(im) for im in result.images]
            record = result.apply_to(record)
            objects = record["objects"]
            augmented = True
        if self.pixel_bounds is not None:
            self._check_sizes(source, record, images, augmented)
        template = resolve_record_template(record, source.template)
        if self.train:  # irrelevant records under `summary` alternate between the domain prompts per epoch
            from vlmdata.render import epoch_template

            template = epoch_template(record, template, self.sources.seed, epoch)
        try:
            messages = build_messages(
                record, template, images=images or None, objects=objects, system=self.system
            )
        except VlmdataError:
            raise
        except Exception as exc:
            raise VlmdataError(
                codes.SAMPLE_FAILED,
                f"building the conversation failed: {exc}",
                where=Location(file=source.path, record_id=rid),
            ) from exc
        return Conversation(messages, template, record, images, augmented)

    def _check_sizes(
        self, source: Source, record: dict[str, Any], images: list[Any], augmented: bool
    ) -> None:
        """The pre-flight's rule on the pixels about to be encoded (augmentation may have changed the canvas)."""
        from vlmdata.errors import CODES
        from vlmdata.train.data.preflight import image_problem

        assert self.pixel_bounds is not None
        for i, img in enumerate(images):
            size = {
                "images": [""],
                "width": img.width,
                "height": img.height,
                "metadata": record.get("metadata"),
            }
            problem = image_problem(size, self.pixel_bounds)
            if problem is not None:
                what = "augmented" if augmented else "stored"
                raise VlmdataError(
                    CODES[problem[0]],
                    f"image {i} of record {record.get('id')!r} ({what}, {img.width}×{img.height}) cannot be "
                    f"encoded: {problem[1]}",
                    where=Location(file=source.path, record_id=str(record.get("id")), field=f"images[{i}]"),
                )

    def build(self, source: Source, record: dict[str, Any], epoch: int, step: int | None) -> dict[str, Any]:
        rid = str(record.get("id"))
        messages = self.conversation(source, record, epoch, step).messages
        try:
            encoded = self.encode(messages, record_image_kwargs(record))
        except VlmdataError:
            raise
        except Exception as exc:
            raise VlmdataError(
                codes.SAMPLE_FAILED,
                f"the backend's encode failed: {exc}",
                where=Location(file=source.path, record_id=rid),
            ) from exc
        length = int(encoded.get("length") or len(encoded["input_ids"]))
        if over_length(length, self.global_max_length):
            raise over_length_error(rid, source, length, self.global_max_length)
        encoded["channel"] = record_source(record, source.name)
        return encoded


def over_length_error(record_id: str, source: Source, length: int, limit: int) -> VlmdataError:
    return VlmdataError(
        codes.OVER_LENGTH,
        f"sample of record {record_id!r} (dataset {source.name!r}) is {length} tokens, at or over "
        f"global_max_length={limit}; the run stops instead of truncating or dropping it",
        where=Location(file=source.path, record_id=record_id),
        value=length,
    )
