"""Keys a run config may not hold, found on the raw mapping before validation, each with what replaced it.

Removed knobs (packing, `max_length`/`truncation_strategy`, hard-sample mining) are VD640; ms-swift's
command-line vocabulary written where vlmdata expects a section (`dataset:`, `torch_dtype`, `model.model`,
`model: "a/b"`, `lora_rank` at the top level) is VD641. A key reported here is *silenced*: the pydantic error
the same key would also raise (unknown key, missing `model.path`) is not reported a second time.
`vlmdata.train.migrate` rewrites old configs with the same fixes.
"""

from __future__ import annotations

from typing import Any

from vlmdata.config import run_codes as rc
from vlmdata.config.checks import problem
from vlmdata.config.run import SECTION_MODELS, RunConfig
from vlmdata.io.layered import ConfigProblem, KeyPath, Layered

PACKING_KEYS = (
    "packing",
    "padding_free",
    "packing_cache",
    "packing_length",
    "packing_num_proc",
    "streaming_packing",
)
PACKING_FIX = "packing is not supported: batches are padded and length-grouped (`training.group_by_length` uses the audited `length` column); delete the key"
LENGTH_KEYS = ("max_length", "truncation_strategy", "max_model_len", "model_max_length")
LENGTH_FIX = "use global_max_length; over-length records are reported by `vlmdata audit`, never truncated"
MINING_FIX = "hard-sample mining was removed; to weight difficult data, give it its own fusion source with a quota (`data.fusion`)"
BACKEND_KEYS = {
    "dataset": "data.train (an Arrow dataset folder; no placeholder dataset is ever needed)",
    "val_dataset": "data.val",
    "torch_dtype": "model.dtype",
    "model_type": "nothing: the model type is read from model.path",
}
MODEL_PATH_ALIASES = ("model", "model_id_or_path", "model_name_or_path")


def is_silenced(path: KeyPath, silenced: list[KeyPath]) -> bool:
    return any(path[: len(s)] == s or s[: len(path)] == path for s in silenced)


def removed_and_backend_keys(
    data: dict[str, Any], layered: Layered
) -> tuple[list[ConfigProblem], list[KeyPath]]:
    problems: list[ConfigProblem] = []
    silenced: list[KeyPath] = []

    def walk(node: Any, path: KeyPath) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            here = (*path, key)
            if key in PACKING_KEYS:
                problems.append(problem(layered, here, "removed knob", rc.REMOVED_KNOB, PACKING_FIX))
                silenced.append(here)
            elif key in LENGTH_KEYS:
                problems.append(problem(layered, here, "removed knob", rc.REMOVED_KNOB, LENGTH_FIX))
                silenced.append(here)
            elif key == "hard_sample_mining":
                problems.append(problem(layered, here, "removed knob", rc.REMOVED_KNOB, MINING_FIX))
                silenced.append(here)
            elif key in BACKEND_KEYS:
                problems.append(
                    problem(layered, here, "ms-swift argument", rc.BACKEND_KEY, f"use {BACKEND_KEYS[key]}")
                )
                silenced.append(here)
            elif key != "augmentation":
                walk(value, here)

    walk(data, ())
    custom = data.get("custom")
    if isinstance(custom, dict) and set(custom) <= {"hard_sample_mining"}:
        silenced.append(("custom",))
    model = data.get("model")
    if isinstance(model, str):
        problems.append(
            problem(
                layered,
                ("model",),
                "`model` is a section, not a path",
                rc.BACKEND_KEY,
                f"write `model: {{path: {model}}}`",
            )
        )
        silenced.append(("model",))
    elif isinstance(model, dict):
        for alias in MODEL_PATH_ALIASES:
            if alias in model:
                problems.append(
                    problem(layered, ("model", alias), "ms-swift argument", rc.BACKEND_KEY, "use model.path")
                )
                silenced.append(("model", alias))
                if "path" not in model:
                    silenced.append(("model", "path"))
    for key in list(data):
        if key in SECTION_MODELS or key in RunConfig.model_fields:
            continue
        section = next((s for s, m in SECTION_MODELS.items() if key in m.model_fields), None)
        if section is not None and (key,) not in silenced:
            problems.append(
                problem(
                    layered,
                    (key,),
                    "ms-swift argument at the top level",
                    rc.BACKEND_KEY,
                    f"put it under `{section}.{key}`",
                )
            )
            silenced.append((key,))
    return problems, silenced
