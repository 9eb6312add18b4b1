"""`vlmdata config migrate`: a config written for the playbook's original trainer → vlmdata's run config.

The original trainer took ms-swift's argument names in YAML sections plus a `custom:` section of its own. The
rules below say, key by key, what each becomes; every key of the old file ends up in exactly one of:

- *moved* / *rewritten*: it has a vlmdata equivalent (a new key, a converted value);
- *dropped*: vlmdata does it itself, so the key has nothing left to say (the placeholder dataset,
  `truncation_strategy`, the chat-template name, `optimizer: multimodal`, …), with the reason;
- *refused*: no equivalent (packing, hard-sample mining, teacher-generated sequences, keys vlmdata does not
  know), with the reason. The rest of the config is still written; the command then exits 1 so a refusal is
  never missed.

The old file's `extends` chain is merged first (mappings deep-merge). Paths are resolved against the file that
set them and rewritten relative to the new file's folder (absolute ones stay absolute). The result is
validated exactly as `vlmdata train` validates a config.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.config.removed import PACKING_FIX, PACKING_KEYS
from vlmdata.config.run import SECTION_MODELS
from vlmdata.io.layered import KeyPath, Layered, format_key_path, load_layered

SECTION_ORDER = (
    "plugin",
    "model",
    "template",
    "global_max_length",
    "data",
    "augmentation",
    "tuner",
    "training",
    "rlhf",
    "deepspeed",
)
DEEPSPEED_FIX = "DeepSpeed presets are named (`deepspeed: zero2`) or given as a JSON file path"


@dataclass
class Change:
    old: str  # the old key path
    action: str  # moved | rewritten | dropped | refused
    detail: str  # the new key (moved / rewritten) or the reason (dropped / refused)

    def render(self) -> str:
        arrow = {"moved": "→", "rewritten": "→"}.get(self.action, "—")
        return f"{self.action:<9} {self.old} {arrow} {self.detail}"


@dataclass
class Migration:
    config: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def refused(self) -> list[Change]:
        return [c for c in self.changes if c.action == "refused"]


class _Migrator:
    def __init__(self, layered: Layered, out_dir: Path) -> None:
        self.layered = layered
        self.old = copy.deepcopy(layered.data)
        self.out_dir = out_dir
        self.new: dict[str, Any] = {}
        self.changes: list[Change] = []

    # -- bookkeeping -----------------------------------------------------------------------------------------
    def note(self, old: KeyPath, action: str, detail: str) -> None:
        self.changes.append(Change(format_key_path(old), action, detail))

    def put(self, new: KeyPath, value: Any) -> None:
        node = self.new
        for key in new[:-1]:
            node = node.setdefault(key, {})
        node[new[-1]] = value

    def move(self, old: KeyPath, new: KeyPath, value: Any, rewritten: bool = False) -> None:
        self.put(new, value)
        if rewritten:
            shown = f"{format_key_path(new)}: {value}" if isinstance(value, (str, int, float)) else None
            self.note(old, "rewritten", shown or format_key_path(new))
        elif tuple(old) != tuple(new):
            self.note(old, "moved", format_key_path(new))

    def path(self, old: KeyPath, value: Any) -> Any:
        """A path set in the old files, rewritten relative to the new file's folder."""
        if not isinstance(value, str) or not value:
            return value
        if Path(value).is_absolute():
            return value
        origin = self.layered.origin_of(old)
        base = Path(origin).parent if origin else Path.cwd()
        return os.path.relpath(os.path.normpath(base / value), self.out_dir)  # symlinks kept as written

    # -- sections --------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        raw = self.old.get("rlhf")
        rlhf_type = str(raw.get("rlhf_type")) if isinstance(raw, dict) else ""
        plugin = self.old.pop("plugin", None) or {"gkd": "gkd", "grpo": "grpo"}.get(rlhf_type, "sft")
        self.new["plugin"] = plugin
        for key in list(self.old):
            value = self.old.pop(key)
            handler = getattr(self, f"_{key}", None)
            if handler is not None:
                handler(value)
            elif key == "global_max_length":
                self.new["global_max_length"] = value
            else:
                self.note((key,), "refused", "not a section of the original trainer vlmdata knows")
        return {k: self.new[k] for k in SECTION_ORDER if k in self.new}

    def _section(self, name: str, value: Any, rules: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            self.note((name,), "refused", f"expected a mapping, got {type(value).__name__}")
            return
        known = SECTION_MODELS[name].model_fields if name in SECTION_MODELS else {}
        for key, item in value.items():
            rule = rules.get(key)
            here = (name, key)
            if callable(rule):
                rule(here, item)
            elif isinstance(rule, tuple):
                self.move(here, rule, item)
            elif isinstance(rule, str):
                self.note(here, "dropped", rule)
            elif key in PACKING_KEYS:
                self.note(here, "refused", PACKING_FIX)
            elif key in known:
                self.move(here, here, item)
            else:
                self.note(here, "refused", f"vlmdata has no `{name}.{key}`")

    def _model(self, value: Any) -> None:
        path = lambda here, v: self.move(here, ("model", "path"), self.path(here, v))  # noqa: E731
        self._section(
            "model",
            value,
            {
                "model": path,
                "model_id_or_path": path,
                "model_name_or_path": path,
                "torch_dtype": ("model", "dtype"),
                "model_type": "the model type is read from model.path/config.json",
                "max_model_len": "global_max_length sets the model's max length",
                "path": lambda here, v: self.move(here, here, self.path(here, v)),
            },
        )

    def _template(self, value: Any) -> None:
        from vlmdata.render import TEMPLATES

        def template(here: KeyPath, v: Any) -> None:
            if v in TEMPLATES:
                self.move(here, ("template", "name"), v)
            else:
                self.note(
                    here, "dropped", f"{v!r} is ms-swift's chat template, which vlmdata takes from the model"
                )

        def max_length(here: KeyPath, v: Any) -> None:
            if "global_max_length" in self.old or "global_max_length" in self.new:
                self.note(here, "dropped", "global_max_length is set and is the single length knob")
            else:
                self.move(here, ("global_max_length",), v)

        self._section(
            "template",
            value,
            {
                "template": template,
                "template_type": template,
                "max_length": max_length,
                "truncation_strategy": "vlmdata never truncates; over-length samples stop the run (VD550)",
            },
        )

    def _data(self, value: Any) -> None:
        self._section(
            "data",
            value,
            {
                "dataset": "vlmdata needs no placeholder dataset",
                "val_dataset": "vlmdata needs no placeholder dataset",
                "dataloader_num_workers": ("training", "dataloader_num_workers"),
                "dataloader_pin_memory": "vlmdata pins memory on CUDA by itself",
                "train": lambda here, v: self.move(here, here, [self.path(here, p) for p in _as_list(v)]),
                "val": lambda here, v: self.move(here, here, [self.path(here, p) for p in _as_list(v)]),
                "fusion": lambda here, v: self.move(here, here, self.path(here, v)),
            },
        )

    def _tuner(self, value: Any) -> None:
        self._section(
            "tuner",
            value,
            {
                "train_type": lambda here, v: (
                    self.move(here, ("tuner", "train_type"), v)
                    if v in ("lora", "full")
                    else self.note(here, "refused", f"train_type {v!r}: vlmdata trains lora or full")
                ),
                "resume_from_checkpoint": lambda here, v: self.move(
                    here, ("training", "init_from_checkpoint"), self.path(here, v), rewritten=True
                ),
            },
        )

    def _training(self, value: Any) -> None:
        from vlmdata.train.migrate_rules import training_rules

        self._section("training", value, training_rules(self))

    def _deepspeed(self, value: Any) -> None:
        if isinstance(value, dict):
            if not value.get("enabled", True):
                self.note(("deepspeed",), "dropped", "deepspeed.enabled is false")
                return
            config = value.get("config")
            if not isinstance(config, str):
                self.note(("deepspeed",), "refused", DEEPSPEED_FIX)
                return
            preset = Path(config).stem if not config.endswith(".json") else None
            new = preset if preset is not None else self.path(("deepspeed", "config"), config)
            self.move(("deepspeed", "config"), ("deepspeed",), new, rewritten=True)
        elif isinstance(value, str):
            self.move(
                ("deepspeed",),
                ("deepspeed",),
                value if not value.endswith(".json") else self.path(("deepspeed",), value),
            )
        else:
            self.note(("deepspeed",), "refused", DEEPSPEED_FIX)

    def _augmentation(self, value: Any) -> None:  # already vlmdata's section
        self.move(("augmentation",), ("augmentation",), value)

    def _custom(self, value: Any) -> None:
        from vlmdata.train.migrate_rules import custom_rules

        self._section("custom", value, custom_rules(self, value if isinstance(value, dict) else {}))

    def _rlhf(self, value: Any) -> None:
        from vlmdata.train.migrate_rules import rlhf_rules

        self._section("rlhf", value, rlhf_rules(self, value if isinstance(value, dict) else {}))


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def migrate_config(old: str | Path, out: str | Path) -> Migration:
    """The vlmdata config for the original trainer's config at `old`, with what changed (nothing is written)."""
    layered = load_layered(old)
    migrator = _Migrator(layered, Path(os.path.abspath(out)).parent)
    config = migrator.run()
    return Migration(config, migrator.changes, list(layered.files))


MARK = "# Written by `vlmdata config migrate`"
COMMAND = "config migrate"


def write_migration(old: str | Path, out: str | Path) -> tuple[Migration, list[str]]:
    """Migrate `old`, write the result to `out` (the `--out` rule of `vlmdata.io.output`: never an input, never
    a file vlmdata did not write), and validate it as `vlmdata train` would.

    Returns the migration and the problems of the written config (empty when it loads cleanly).
    """
    import yaml

    from vlmdata.errors import VlmdataError
    from vlmdata.io.output import check_out, write_output
    from vlmdata.train.config import load_train_config

    old, out = Path(old), Path(out)
    check_out(out, command=COMMAND, kind="file", inputs=[old])  # refuse before any work
    migration = migrate_config(old, out)
    counts = {
        a: sum(c.action == a for c in migration.changes) for a in ("moved", "rewritten", "dropped", "refused")
    }
    header = [
        f"{MARK} from {old.resolve()}",
        "# (" + ", ".join(f"{n} {a}" for a, n in counts.items()) + "; the command printed each change).",
        *(f"# refused: {c.old}: {c.detail}" for c in migration.refused),
    ]
    body = yaml.safe_dump(migration.config, sort_keys=False, allow_unicode=True)
    write_output(out, "\n".join(header) + "\n" + body, command=COMMAND, inputs=migration.files)
    try:
        load_train_config(out)
    except VlmdataError as exc:
        return migration, [str(exc)]
    return migration, []
