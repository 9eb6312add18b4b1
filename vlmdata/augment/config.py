"""The `augmentation:` config section as pydantic models (embedded by the train config).

```yaml
augmentation:
  seed: 0
  bypass_prob: 0.1            # fraction of records left untouched
  fill: 128                   # warp/pad fill, mid-grey (≈ 0 after Qwen3-VL's normalisation)
  bbox_rotation: poly         # poly | enclose
  line_split: split           # split | longest
  min_visibility: 0.0         # drop objects keeping less than this fraction of their area/length
  partial_below: 0.95         # below this visibility the desc hook runs
  visibility_rewrite: bbu     # bbu (可见性=完整 → 可见性=部分) | none
  ops:
    - {name: hflip, params: {p: 0.5}}
    - {name: rotate, params: {p: 0.5, angle_range: [-10, 10]}}
  curriculum:                 # optional; see vlmdata.augment.curriculum
    total_steps: null
    phases:
      - {until_fraction: 0.3, bypass_prob: 0.5, ops: {rotate: {angle_range: [-3, 3]}}}
      - {until_fraction: 1.0, bypass_prob: 0.1}
```

Unknown op names, unknown params and unknown keys are errors that list the valid choices. Every problem is
collected and reported at once (`to_vlmdata_error`), each with the file that set it and its key path. A YAML
file is read by the shared layered loader (`vlmdata.io.layered`: `extends`, bounded reading, repeated keys
refused); it holds the section itself or a train config with an `augmentation:` key. The models are
`ConfigModel`s: NaN/infinity and booleans written for numbers are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator

from vlmdata.augment import codes
from vlmdata.augment.ops import OPS, OpParams, valid_params
from vlmdata.config.base import ConfigModel
from vlmdata.errors import Location, VlmdataError, closest
from vlmdata.io.layered import Layered, format_key_path, load_layered


def _format_errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(x) for x in e['loc']) or '(op)'}: {e['msg']}" for e in exc.errors())


class OpConfig(ConfigModel):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    _parsed: OpParams | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> OpConfig:
        if self.name not in OPS:
            guess = closest(self.name, OPS)
            hint = f"did you mean {guess!r}? " if guess else ""
            raise ValueError(f"unknown op {self.name!r}; {hint}valid ops: {', '.join(OPS)}")
        spec = OPS[self.name]
        unknown = sorted(set(self.params) - set(spec.params.model_fields))
        if unknown:
            valid = valid_params(self.name)
            guesses = [f"{u!r} → {g!r}" for u in unknown if (g := closest(u, valid)) is not None]
            hint = f"did you mean {', '.join(guesses)}? " if guesses else ""
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} for op {self.name!r}; {hint}valid: {', '.join(valid)}"
            )
        try:
            self._parsed = spec.params(**self.params)
        except ValidationError as exc:
            raise ValueError(f"op {self.name!r}: {_format_errors(exc)}") from None
        return self

    @property
    def parsed(self) -> OpParams:
        assert self._parsed is not None
        return self._parsed


class CurriculumPhase(ConfigModel):
    until_step: int | None = Field(None, ge=1)
    until_fraction: float | None = Field(None, gt=0.0, le=1.0)
    bypass_prob: float | None = Field(None, ge=0.0, le=1.0)
    ops: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_key(self) -> CurriculumPhase:
        if (self.until_step is None) == (self.until_fraction is None):
            raise ValueError("each phase needs exactly one of until_step or until_fraction")
        return self


class CurriculumConfig(ConfigModel):
    total_steps: int | None = Field(None, ge=1)
    phases: list[CurriculumPhase] = Field(min_length=1)

    @model_validator(mode="after")
    def _monotone(self) -> CurriculumConfig:
        keys = {"step" if ph.until_step is not None else "fraction" for ph in self.phases}
        if len(keys) > 1:
            raise ValueError("all phases must use the same key (until_step or until_fraction)")
        bounds = [ph.until_step if ph.until_step is not None else ph.until_fraction for ph in self.phases]
        if any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:], strict=False)):  # type: ignore[operator]
            raise ValueError(f"phase boundaries must increase strictly, got {bounds}")
        return self


def interpolable_fields(op_name: str) -> list[str]:
    out = []
    for name, info in OPS[op_name].params.model_fields.items():
        ann = info.annotation
        if ann in (float, int) or name.endswith("_range"):
            out.append(name)
    return sorted(out)


class AugmentationConfig(ConfigModel):
    ops: list[OpConfig] = Field(default_factory=list)
    bypass_prob: float = Field(0.0, ge=0.0, le=1.0)
    seed: int = 0
    fill: int = Field(128, ge=0, le=255)
    bbox_rotation: Literal["poly", "enclose"] = "poly"
    line_split: Literal["split", "longest"] = "split"
    min_visibility: float = Field(0.0, ge=0.0, le=1.0)
    partial_below: float = Field(0.95, ge=0.0, le=1.0)
    visibility_rewrite: Literal["bbu", "none"] = "bbu"
    curriculum: CurriculumConfig | None = None

    @model_validator(mode="after")
    def _curriculum_ops(self) -> AugmentationConfig:
        if self.curriculum is None:
            return self
        names = [op.name for op in self.ops]
        for i, phase in enumerate(self.curriculum.phases):
            for op_name, overrides in phase.ops.items():
                if names.count(op_name) != 1:
                    raise ValueError(
                        f"curriculum.phases[{i}].ops.{op_name}: the op must appear exactly once in ops "
                        f"(configured: {', '.join(names) or 'none'})"
                    )
                allowed = interpolable_fields(op_name)
                bad = sorted(set(overrides) - set(allowed))
                if bad:
                    raise ValueError(
                        f"curriculum.phases[{i}].ops.{op_name}: cannot interpolate {', '.join(bad)}; numeric params: {', '.join(allowed)}"
                    )
                base = self.ops[names.index(op_name)]
                try:
                    OPS[op_name].params(**{**base.params, **overrides})
                except ValidationError as exc:
                    raise ValueError(f"curriculum.phases[{i}].ops.{op_name}: {_format_errors(exc)}") from None
        return self


def to_vlmdata_error(
    exc: ValidationError,
    file: str | None = None,
    layered: Layered | None = None,
    prefix: tuple[str, ...] = (),
) -> VlmdataError:
    """Every problem of a config at once, each with its file (from `layered`) and key path; the first decides
    the code. `prefix` is where the section sits in its file (`("augmentation",)` in a train config)."""
    lines, first = [], None
    for err in exc.errors():
        loc = [str(x) for x in err["loc"]]
        path = format_key_path((*prefix, *err["loc"]))
        origin = layered.origin_of((*prefix, *err["loc"])) if layered is not None else file
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            owner = {"phases": "curriculum phase", "curriculum": "curriculum"}.get(
                loc[-2] if len(loc) > 1 else "", ""
            )
            valid = _valid_keys(loc[:-1])
            guess = closest(loc[-1], valid)
            msg = (
                f"unknown key {loc[-1]!r}{' in ' + owner if owner else ''}; "
                + (f"did you mean {guess!r}? " if guess else "")
                + f"valid keys: {', '.join(valid)}"
            )
        if "unknown op" in msg:
            code = codes.UNKNOWN_OP
        elif (loc and loc[0] == "curriculum") or msg.startswith("curriculum"):
            code = codes.BAD_CURRICULUM
        elif loc and loc[0] == "ops":
            code = codes.BAD_OP_PARAMS
        else:
            code = codes.BAD_AUG_CONFIG
        first = first or code
        where = f" {origin}:" if origin else ""
        shown = path if prefix else f"augmentation.{path}" if err["loc"] else "augmentation"
        lines.append(f"{code}{where} {shown}: {msg}")
    return VlmdataError(
        first or codes.BAD_AUG_CONFIG,
        f"{len(lines)} problem(s) in the augmentation config",
        where=Location(file=file) if file else None,
        details=lines,
    )


def _valid_keys(loc: list[str]) -> list[str]:
    model: type[BaseModel] = AugmentationConfig
    if loc and loc[0] == "curriculum":
        model = CurriculumPhase if "phases" in loc else CurriculumConfig
    elif loc and loc[0] == "ops":
        model = OpConfig
    return sorted(model.model_fields)


def parse_augmentation_config(data: Any, file: str | None = None) -> AugmentationConfig:
    if isinstance(data, AugmentationConfig):
        return data
    if not isinstance(data, dict):
        raise VlmdataError(
            codes.BAD_AUG_CONFIG,
            "the augmentation config must be a mapping",
            where=Location(file=file),
            value=type(data).__name__,
        )
    try:
        return AugmentationConfig.model_validate(data)
    except ValidationError as exc:
        raise to_vlmdata_error(exc, file) from None


def load_augmentation_config(path: str | Path) -> AugmentationConfig:
    """Read a YAML file (with its `extends` chain) holding the section itself or a train config with an
    `augmentation:` key."""
    layered = load_layered(path)
    data: Any = layered.data
    prefix: tuple[str, ...] = ()
    if "augmentation" in data:
        data, prefix = data["augmentation"], ("augmentation",)
        if not isinstance(data, dict):
            raise VlmdataError(
                codes.AUG_CONFIG_FILE,
                "`augmentation` must hold a mapping",
                where=Location(file=layered.origin_of(prefix), field="augmentation"),
                value=type(data).__name__,
            )
    try:
        return AugmentationConfig.model_validate(data)
    except ValidationError as exc:
        raise to_vlmdata_error(exc, str(path), layered, prefix) from None
