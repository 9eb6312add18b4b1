"""The fusion config: which datasets are mixed, in what proportion, rendered how.

A fusion config is layered YAML (`extends`, see `vlmdata.io.layered`): the `targets` and `sources` lists
merge across files by entry `name`, and an explicit empty list clears what the bases had. After merging, the
models below validate everything at once (unknown keys are rejected at every level) and each problem is
reported with the file that set the key and its key path.

Paths (`data`, `val`) are resolved relative to the YAML file that set them, so a base config can name
datasets next to itself and a child can override one entry's `data` with a path next to the child.

Defaults an experienced user would expect (docs/fusion.md has the reasoning):
- `ratio` 1.0 for targets; sources must say their ratio (0.0 disables an entry without deleting it);
- `augment` true for targets, false for sources (general data keeps its original geometry);
- `template` from the mode and domain, always a neutral one: targets `grounding` / `counting` / `chat`,
  sources `source_dense` / `counting` / `chat` (BBU/RRU entries name theirs, e.g. `target_dense_bbu`); a
  template is a name or a template YAML file, and `templates:` lists template files or folders whose
  templates the entries may name (docs/templates.md);
- `replacement` false: draws are whole passes plus a seeded remainder; true draws i.i.d. with replacement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError

from vlmdata.config.base import ConfigModel
from vlmdata.fuse import codes
from vlmdata.io.layered import (
    ConfigProblem,
    Layered,
    load_layered,
    problems_from_validation_error,
    raise_problems,
)

Mode = Literal["dense", "summary", "chat"]
Domain = Literal["target", "source"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

_DEFAULT_TEMPLATES: dict[tuple[str, str], str] = {  # neutral: no domain prompt, no domain header
    ("target", "dense"): "grounding",
    ("target", "summary"): "counting",
    ("target", "chat"): "chat",
    ("source", "dense"): "source_dense",
    ("source", "summary"): "counting",
    ("source", "chat"): "chat",
}


class _Strict(ConfigModel):
    """Unknown keys, NaN/infinity and booleans written for numbers are refused (`ConfigModel`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


class EntryConfig(_Strict):
    """One dataset of the mixture; its `name` becomes the records' `_source`."""

    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    data: str = Field(min_length=1)
    val: str | None = Field(default=None, min_length=1)
    mode: Mode = "dense"
    template: str | None = None
    ratio: float = Field(default=1.0, ge=0.0, le=1_000_000.0)
    augment: bool | None = None
    max_objects: int | None = Field(default=None, ge=1, le=1_000_000)
    replacement: bool = False
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        description="pins this entry's stream independently of the top-level seed",
    )
    description: str | None = None


class TargetConfig(EntryConfig):
    pass


class SourceConfig(EntryConfig):
    ratio: float = Field(ge=0.0, le=1_000_000.0)  # required: a source is always counted relative to targets


class FusionConfig(_Strict):
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    templates: list[str] = Field(default_factory=list, description="template YAML files or folders")
    targets: list[TargetConfig] = Field(default_factory=list)
    sources: list[SourceConfig] = Field(default_factory=list)
    interleave: Literal["shuffle", "stratified"] = "shuffle"
    eval_sources: bool = False
    description: str | None = None

    _files: list[str] = PrivateAttr(default_factory=list)

    @property
    def files(self) -> list[str]:
        """The YAML files that were merged, bases first (empty for configs built in code)."""
        return list(self._files)

    def entries(self) -> list[tuple[Domain, EntryConfig]]:
        """Targets then sources, in config order: the entry ids of a plan index this list."""
        out: list[tuple[Domain, EntryConfig]] = [("target", t) for t in self.targets]
        out += [("source", s) for s in self.sources]
        return out

    def entry_names(self) -> tuple[str, ...]:
        return tuple(e.name for _, e in self.entries())

    def template_of(self, domain: Domain, entry: EntryConfig) -> str:
        return entry.template or _DEFAULT_TEMPLATES[(domain, entry.mode)]

    def augment_of(self, domain: Domain, entry: EntryConfig) -> bool:
        return entry.augment if entry.augment is not None else domain == "target"

    def to_manifest(self) -> dict[str, Any]:
        """The merged config with resolved paths and filled defaults (what the manifest records)."""
        data = self.model_dump(mode="json")
        used = set()
        for key, domain in (("targets", "target"), ("sources", "source")):
            for raw, entry in zip(data[key], getattr(self, key), strict=True):
                raw["template"] = self.template_of(domain, entry)  # type: ignore[arg-type]
                raw["augment"] = self.augment_of(domain, entry)  # type: ignore[arg-type]
                used.add(raw["template"])
        definitions = _user_definitions(used)
        if definitions:
            data["template_definitions"] = definitions
        return data


def load_fusion_config(path: str | Path, *, check_paths: bool = True) -> FusionConfig:
    """Load, merge and validate a fusion config; every problem is reported at once with file and key path."""
    layered = load_layered(path, merge_lists_by_name=("targets", "sources"))
    data = _resolve_paths(layered)
    template_problems = _template_files(layered)
    try:
        config = FusionConfig.model_validate(data)
    except ValidationError as exc:
        problems = template_problems + problems_from_validation_error(exc, layered, model=FusionConfig)
        raise_problems([_recode(p) for p in problems], what="fusion config")
        raise  # unreachable: raise_problems raised
    problems = template_problems + check_fusion_config(config, layered, check_paths=check_paths)
    raise_problems(problems, what="fusion config")
    config._files = list(layered.files)
    return config


def check_fusion_config(
    config: FusionConfig, layered: Layered | None = None, *, check_paths: bool = True
) -> list[ConfigProblem]:
    """Cross-entry rules the field models cannot express (also usable on configs built in code)."""

    def origin(path: tuple[Any, ...]) -> str | None:
        return layered.origin_of(path) if layered is not None else None

    problems: list[ConfigProblem] = []
    if not config.targets:
        problems.append(
            ConfigProblem(
                ("targets",),
                "no targets: a fusion needs at least one target dataset",
                origin(("targets",)),
                None,
                codes.NO_TARGETS.code,
            )
        )
    target_names = {t.name for t in config.targets}
    for i, src in enumerate(config.sources):
        if src.name in target_names:
            problems.append(
                ConfigProblem(
                    ("sources", i, "name"),
                    f"{src.name!r} is also a target name",
                    origin(("sources", i, "name")),
                    None,
                    codes.DUPLICATE_ENTRY.code,
                )
            )
    from vlmdata.render.user import is_template_path

    templates = _known_templates()
    for key, domain in (("targets", "target"), ("sources", "source")):
        for i, entry in enumerate(getattr(config, key)):
            name = config.template_of(domain, entry)  # type: ignore[arg-type]
            if not is_template_path(name):  # a file that did not load: reported
                mode = templates.get(name)
                if mode is None:
                    problems.append(
                        ConfigProblem(
                            (key, i, "template"),
                            f"unknown template {name!r} (known: {', '.join(sorted(templates))})",
                            origin((key, i, "template")),
                            None,
                            codes.UNKNOWN_TEMPLATE.code,
                        )
                    )
                elif mode != entry.mode:
                    problems.append(
                        ConfigProblem(
                            (key, i, "template"),
                            f"template {name!r} renders {mode} targets but the entry's mode is {entry.mode!r}",
                            origin((key, i, "template")),
                            "make `mode` and `template` agree",
                            codes.UNKNOWN_TEMPLATE.code,
                        )
                    )
            if not check_paths:
                continue
            for field in ("data", "val"):
                value = getattr(entry, field)
                if value is not None and not Path(value).exists():
                    problems.append(
                        ConfigProblem(
                            (key, i, field),
                            f"no such dataset: {value}",
                            origin((key, i, field)),
                            "paths are relative to the YAML file that sets them",
                            codes.DATA_PATH_MISSING.code,
                        )
                    )
    return problems


def _template_files(layered: Layered) -> list[ConfigProblem]:
    """Register the template files listed under `templates` or named by an entry's `template` (a path)."""
    from vlmdata.render.user import config_templates

    keys = []
    for key in ("targets", "sources"):
        entries = layered.data.get(key)
        if isinstance(entries, list):
            keys += [(key, i, "template") for i, e in enumerate(entries) if isinstance(e, dict)]
    return config_templates(layered, ("templates",), keys)


def _resolve_paths(layered: Layered) -> dict[str, Any]:
    """Make `data`/`val` absolute, relative to the folder of the file that set each one."""
    data = layered.data
    for key in ("targets", "sources"):
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            for field in ("data", "val"):
                value = entry.get(field)
                if isinstance(value, str) and value:
                    file = layered.origin_of((key, i, field))
                    base = Path(file).parent if file else Path.cwd()
                    entry[field] = str((base / Path(value).expanduser()).resolve())
    return data


def _recode(problem: ConfigProblem) -> ConfigProblem:
    if problem.code == "VD605":
        problem.code = codes.FUSION_CONFIG.code
    return problem


def _known_templates() -> dict[str, str]:
    """Template name → mode from the renderer registry (built-in and registered)."""
    from vlmdata.render.templates import known_templates

    return {name: t.mode for name, t in known_templates().items()}


def _user_definitions(names: set[str]) -> dict[str, Any]:
    """The definitions of the user templates among `names` (the manifest records what the records were
    rendered with, not only a name that another file could redefine)."""
    from vlmdata.render.templates import user_templates

    return {
        name: {**t.definition(), "source": t.source}
        for name, t in sorted(user_templates().items())
        if name in names
    }
