"""Running a plan in-process, and the `--debug` sample, for any plugin built on `VlmdataSftPipeline`.

`run_training(plan, pipeline_cls)`:
1. runs the preflight (`vlmdata.train.preflight`, the same checks and codes as `--dry-run`): backend and
   loggers installed, the data opens (known over-length records refuse the run, VD551), the run folder may be
   used (a fresh run needs a folder without a run; a resume must read the same data stream);
2. writes config.yaml, run.json, data_manifest.json (+ fusion_manifest.json);
3. applies the image-resize environment, builds ms-swift's arguments and the pipeline, trains — with the
   backend's console output (argument dump, logging, warnings, tqdm) sent to `<output_dir>/backend.log`
   (`vlmdata.train.quiet`; `--verbose` keeps it on the console);
4. turns failures into one-line errors: our own errors pass through (also when a dataloader worker raised
   them, which torch re-raises as a RuntimeError carrying the original text), anything else is VD736.
"""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path
from typing import Any

from vlmdata.errors import VlmdataError
from vlmdata.models.qwen import over_length

from . import codes
from .env import image_env
from .runfolder import prepare_run_dir, write_run_files

_WORKER_ERROR = re.compile(r"VlmdataError: (VD\d{3})(?: ([^:\n]*))?: ([^\n]*)")


BACKEND_MODULES = ("swift", "torch")


def require_backend(plan: Any) -> None:
    """The backend packages are installed (looked up, not imported: importing ms-swift logs to the console)."""
    from vlmdata.train.preflight import check_backend

    check_backend(plan, BACKEND_MODULES)


def swift_preflight(plan: Any) -> Any:
    """The full preflight of the built-in plugins (what `--dry-run` shows; `run_training` calls it first)."""
    from vlmdata.train.preflight import preflight

    return preflight(plan, BACKEND_MODULES)[0]


def worker_error(exc: BaseException) -> VlmdataError | None:
    """Our error raised inside a dataloader worker, recovered from torch's re-raised text."""
    from vlmdata.errors import CODES

    match = _WORKER_ERROR.search(str(exc))
    if match is None:
        return None
    code, where, message = match.groups()
    return VlmdataError(CODES.get(code, code), f"{where}: {message}" if where else message)


def fusion_plan_digests(data: Any, epochs: int) -> dict[str, Any]:
    sources = data.train
    if sources.fusion is None:
        return {}
    from vlmdata.fuse.plan import plan_epoch

    out = {}
    for epoch in range(max(1, epochs)):
        plan = plan_epoch(sources.fusion, sources.sizes(), epoch)
        out[str(epoch)] = {"digest": plan.digest(), "counts": plan.counts(), "length": len(plan)}
        if sources.sample_limit is not None:  # what the run reads of that plan (`data.sample_limit`)
            order = sources.order(epoch)
            out[str(epoch)]["sample_limit"] = {"length": len(order), "counts": order.counts(sources.names)}
    return out


def run_training(
    plan: Any, pipeline_cls: type, extra_callbacks: list[Any] | None = None, args_cls: str = "sft"
) -> Any:
    """Train `plan` with `pipeline_cls`; `args_cls` picks ms-swift's argument class (`sft` or `rlhf`)."""
    from vlmdata.train.plugin import TrainResult
    from vlmdata.train.preflight import preflight

    # every check before the first step, the same function `vlmdata train --dry-run` runs
    _, data = preflight(plan, BACKEND_MODULES)
    output_dir = Path(plan.output_dir)
    manifest = data.manifest()
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 checks and writes the run folder
        prepare_run_dir(output_dir, plan.backend_args.get("resume_from_checkpoint"), manifest)
        epochs = int(plan.config.training.num_train_epochs + 0.999)
        write_run_files(output_dir, plan, manifest, fusion_plan_digests(data, min(epochs, 16)))

    from vlmdata.train.quiet import quiet_backend

    rank = os.environ.get("RANK", "0")
    log_file = output_dir / ("backend.log" if rank == "0" else f"backend.rank{rank}.log")
    # ms-swift exports TENSORBOARD_LOGGING_DIR with setdefault, so a second run in one process (tests,
    # notebooks) would write its events into the first run's folder: each run names its own, restored after.
    env = {**plan.env, "TENSORBOARD_LOGGING_DIR": str(output_dir / "runs")}
    # the backend's argument dump, logging, warnings and tqdm bars go to the run folder (`--verbose`: console)
    with quiet_backend(log_file), image_env(env):
        from swift.arguments import RLHFArguments, SftArguments

        arguments = {"sft": SftArguments, "rlhf": RLHFArguments}[args_cls]
        args = arguments(**{k: v for k, v in plan.backend_args.items() if not k.startswith("vlmdata_")})
        try:
            pipeline = pipeline_cls(args, plan, data, extra_callbacks)
            result = pipeline.main()
        except VlmdataError:
            raise
        except Exception as exc:
            cause: BaseException | None = exc
            while cause is not None:
                if isinstance(cause, VlmdataError):
                    raise cause from None
                recovered = worker_error(cause)
                if recovered is not None:
                    raise recovered from exc
                cause = cause.__cause__ or cause.__context__
            raise VlmdataError(codes.TRAINING_FAILED, f"{type(exc).__name__}: {exc}") from exc
    last = result.get("last_model_checkpoint")
    checkpoint = Path(last).resolve() if last else None
    adapter = (
        checkpoint if checkpoint is not None and (checkpoint / "adapter_config.json").is_file() else None
    )
    final = (result.get("last_logs") or [{}])[-1]
    metrics = {k: float(v) for k, v in final.items() if isinstance(v, (int, float))}
    return TrainResult(
        output_dir=output_dir,
        global_step=int(result.get("global_step") or 0),
        checkpoint_dir=checkpoint,
        adapter_dir=adapter,
        log_file=output_dir / "logging.jsonl",
        metrics=metrics,
    )


def debug_sample(plan: Any) -> Any:
    """One training sample through the data path and ms-swift's encode, without loading the model weights."""
    from swift.model import get_processor
    from swift.template import get_template

    from vlmdata.train.dataset import open_train_data
    from vlmdata.train.plugin import DebugSample, compress_image_pads

    require_backend(plan)
    data = open_train_data(plan.config)
    args = plan.backend_args
    with image_env(plan.env):
        processor = get_processor(args["model"], model_type=args.get("model_type"), download_model=False)
        template = get_template(processor, default_system=args.get("system"))
        template.set_mode("train")
        template.max_length = None
        from .pipeline import encode_messages

        samples = data.samples(partial(encode_messages, template), "train")
        assert samples is not None
        first = data.sampler(1).rank_batches(0)[0][0]
        source, record = data.train.record(0, first)
        encoded = samples.build(source, record, 0, 0)
    tokenizer = processor.tokenizer if hasattr(processor, "tokenizer") else processor
    ids = list(encoded["input_ids"])
    text = compress_image_pads(tokenizer.decode(ids, skip_special_tokens=False))
    labels = [t for t in encoded.get("labels") or [] if t != -100]
    image_token = getattr(template, "image_token_id", None)
    image_tokens = sum(1 for t in ids if t == image_token) if image_token is not None else 0
    grid = encoded.get("image_grid_thw")
    merge = getattr(getattr(processor, "image_processor", None), "merge_size", 1) or 1
    grid_tokens = int(sum(int(g.prod()) for g in grid) // (merge * merge)) if grid is not None else 0
    shapes = {k: list(v.shape) for k, v in encoded.items() if hasattr(v, "shape")}
    problems = []
    if image_tokens != grid_tokens:
        problems.append(f"{image_tokens} <|image_pad|> tokens but the image grids hold {grid_tokens}")
    if over_length(len(ids), plan.config.global_max_length):  # pragma: no cover - build() raises first
        problems.append(f"length {len(ids)} >= global_max_length")
    return DebugSample(
        record_id=str(record.get("id")),
        text=text,
        image_tokens=image_tokens,
        grid_tokens=grid_tokens,
        tensor_shapes=shapes,
        labels_text=tokenizer.decode(labels, skip_special_tokens=False),
        problems=problems,
    )
