"""Templates written in YAML: the file format, its checks, and how run and fusion configs name them.

```yaml
name: coco_grounding                  # required; letters, digits, `_ . -`; not a built-in name
description: COCO objects, Qwen-native answers
system: You are a careful annotator.  # optional (absent or null: no system turn)
user: "Find every object in the {n_images} image(s). {format}"
user_multi_image: null                # optional: the prompt for records with 2+ images (default: `user`)
header: null                          # optional first line of the target, e.g. "<DOMAIN={domain}>"
domains: null                         # optional: the metadata.domain values {domain} accepts
target: {format: qwen, fence: true}   # object_map (default) | qwen | summary; `target: qwen` works too
```

Fields: `{n_images}` (the record's number of images), `{domain}` (the record's `metadata.domain`; a template
using it needs a domain on every record) and `{format}` (the built-in description of the target format, with
the header line and the several-pictures sentence when they apply) in `system`, `user` and
`user_multi_image` (`{format}` only in the user prompts); `{domain}` in `header`. `{{` / `}}` are literal braces.
Unknown fields, fields a key cannot fill, conversions or format specs are errors, and so is text the chat
template would act on (the contract's one rule, `vlmdata.contract.text.text_issues`, for a prompt: special
tokens, grounding placeholders, `<image>` and `<img>…</img>`). Leading and trailing whitespace of every text is removed
(a YAML block scalar ends with a newline the model should not learn).

The file goes through the shared layered loader (`vlmdata.io.layered`): it may `extends` another template
file, and every problem is reported at once with its file and key path.

Names resolve in this order: the built-ins, then every template registered in this process — the files and
folders (every `*.yaml` / `*.yml` inside) listed under `templates:` of a run or fusion config, relative to the
config file that lists them. Wherever a config takes a template name (`template.name`, a fusion entry's
`template`), a path to a template file (ending in `.yaml`/`.yml`) works too and registers that file.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vlmdata.contract.text import text_issues
from vlmdata.errors import UsageError, VlmdataError
from vlmdata.io.layered import (
    ConfigProblem,
    KeyPath,
    Layered,
    load_layered,
    problems_from_validation_error,
    raise_problems,
)
from vlmdata.render import codes
from vlmdata.render.templates import TEMPLATES, Template, register_template

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
FIELDS: dict[str, frozenset[str]] = {
    "system": frozenset({"n_images", "domain"}),
    "user": frozenset({"n_images", "domain", "format"}),
    "user_multi_image": frozenset({"n_images", "domain", "format"}),
    "header": frozenset({"domain"}),
}
SUFFIXES = (".yaml", ".yml")


class TargetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["object_map", "qwen", "summary"] = "object_map"
    fence: bool | None = Field(default=None, description="qwen only: the list in a ```json block (default)")


class TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    description: str | None = None
    system: str | None = None
    user: str = Field(min_length=1)
    user_multi_image: str | None = None
    header: str | None = None
    domains: list[str] | None = Field(default=None, min_length=1)
    target: TargetSpec = Field(default_factory=TargetSpec)

    @field_validator("target", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"format": value} if isinstance(value, str) else value

    @field_validator("system", "user", "user_multi_image", "header", "description")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if isinstance(value, str) else value


def is_template_path(value: Any) -> bool:
    """A template reference that names a file rather than a registered name."""
    return isinstance(value, str) and value.lower().endswith(SUFFIXES)


def _text_problems(key: str, text: str) -> list[tuple[str, Any]]:
    """(message, code) for each problem of one template text."""
    out: list[tuple[str, Any]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [(f"{exc} (write {{{{ and }}}} for literal braces)", codes.TEMPLATE_FIELD)]
    allowed = FIELDS[key]
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed:
            out.append(
                (
                    f"unknown field {{{name}}}; `{key}` takes "
                    + ", ".join(f"{{{f}}}" for f in sorted(allowed)),
                    codes.TEMPLATE_FIELD,
                )
            )
        elif spec or conversion:
            out.append((f"field {{{name}}} takes no conversion or format spec", codes.TEMPLATE_FIELD))
    out += [(message, codes.TEMPLATE_TEXT) for message in _token_problems(text)]
    return out


def _token_problems(text: str) -> list[str]:
    """The contract's one rule on text the chat template acts on, for a prompt (no image tags of its own)."""
    return [f"holds {i.value!r}: {i.message} ({i.code})" for i in text_issues(text, "prompt", "prompt")]


def _check(spec: TemplateFile, layered: Layered) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []

    def add(path: KeyPath, message: str, code: Any, fix: str | None = None) -> None:
        problems.append(ConfigProblem(path, message, layered.origin_of(path), fix, code.code))

    if spec.name in TEMPLATES:
        add(("name",), f"{spec.name!r} is a built-in template name", codes.TEMPLATE_CONFLICT)
    for key in FIELDS:
        text = getattr(spec, key)
        if text is None:
            continue
        if key == "header" and ("\n" in text or not text):
            add((key,), "the header is one non-empty line", codes.TEMPLATE_FILE)
        for message, code in _text_problems(key, text):
            add((key,), message, code)
    if spec.target.fence is not None and spec.target.format != "qwen":
        add(("target", "fence"), "`fence` applies to the qwen format only", codes.TEMPLATE_FILE)
    uses_domain = any(
        "domain" in {f for _, f, _, _ in _safe_parse(getattr(spec, k))} for k in FIELDS if getattr(spec, k)
    )
    if spec.domains is not None:
        if not uses_domain:
            add(
                ("domains",), "no text uses {domain}", codes.TEMPLATE_FILE, "remove `domains` or use {domain}"
            )
        for i, dom in enumerate(spec.domains):  # each fills {domain} in a prompt
            for message in _token_problems(dom):
                add(("domains", i), message, codes.TEMPLATE_TEXT)
        bad = [d for d in spec.domains if not d.strip() or d != d.strip()]
        if bad or len(set(spec.domains)) != len(spec.domains):
            add(
                ("domains",),
                "domains must be distinct non-empty texts without surrounding spaces",
                codes.TEMPLATE_FILE,
            )
    return problems


def _safe_parse(text: str) -> list[tuple[Any, ...]]:
    try:
        return list(string.Formatter().parse(text))
    except ValueError:
        return []


def _recode(problem: ConfigProblem) -> ConfigProblem:
    if problem.code == "VD605":
        problem.code = codes.TEMPLATE_FILE.code
    return problem


def load_template_file(path: str | Path) -> Template:
    """A template file → a `Template` (not registered); every problem at once, with file and key path."""
    file = Path(path)
    if not file.is_file():
        raise VlmdataError(codes.TEMPLATE_FILE, f"template file not found: {file}", value=str(file))
    layered = load_layered(file)
    try:
        spec = TemplateFile.model_validate(layered.data)
    except ValidationError as exc:
        found = problems_from_validation_error(exc, layered, model=TemplateFile)
        raise_problems([_recode(p) for p in found], "template file")
        raise  # unreachable: raise_problems raised
    raise_problems(_check(spec, layered), "template file")
    fmt = spec.target.format
    return Template(
        name=spec.name,
        mode="summary" if fmt == "summary" else "dense",
        user_prompt=spec.user,
        system=spec.system or None,
        header=spec.header is not None,
        header_text=spec.header,
        format=fmt,
        fence=spec.target.fence is not False,
        domains=tuple(spec.domains) if spec.domains else None,
        user_multi_image=spec.user_multi_image,
        description=spec.description,
        source=str(file.resolve()),
        user_defined=True,
    )


def template_files(ref: str | Path) -> list[Path]:
    """The template files a reference names: the file itself, or every `*.yaml`/`*.yml` in a folder."""
    path = Path(ref)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    return [path]


def use_templates(refs: Iterable[str | Path]) -> list[str]:
    """Load and register the templates of files and folders; their names, in order. Problems all at once."""
    names: list[str] = []
    errors: list[str] = []
    first: VlmdataError | None = None
    for ref in refs:
        for file in template_files(ref):
            try:
                names.append(register_template(load_template_file(file)).name)
            except VlmdataError as exc:
                first = first or exc
                errors += exc.details or [str(exc).splitlines()[0]]
    if first is not None:
        if len(errors) == 1:
            raise first
        raise VlmdataError(codes.TEMPLATE_FILE, f"{len(errors)} problem(s) in template files", details=errors)
    return names


def resolve_template_ref(value: str, base: str | Path | None = None) -> str:
    """A template name, or a template file path (relative to `base`) that is loaded and registered → its name."""
    if not is_template_path(value):
        return value
    path = Path(value) if base is None or Path(value).is_absolute() else Path(base) / value
    if not path.is_file():
        raise UsageError(f"template file not found: {path}", hint="give a template name or a .yaml file")
    return use_templates([path])[0]


def templates_of(path: str | Path) -> list[str]:
    """Register what a file names: a template file, a folder of them, or the templates of a run or fusion
    config (`templates:`, `template.name`, the entries' `template`) — the config is not otherwise validated."""
    file = Path(path)
    if file.is_dir():
        return use_templates([file])
    if not file.is_file():
        raise UsageError(
            f"not found: {file}", hint="give a run or fusion config, or a template file or folder"
        )
    layered = load_layered(file)
    if "user" in layered.data:  # a template file
        return use_templates([file])
    keys: list[KeyPath] = [("template", "name")]
    for key in ("targets", "sources"):
        entries = layered.data.get(key)
        if isinstance(entries, list):
            keys += [(key, i, "template") for i in range(len(entries))]
    raise_problems(config_templates(layered, ("templates",), keys), "config")
    names = [_get(layered.data, k) for k in keys]
    return [n for n in names if isinstance(n, str)]


def config_templates(
    layered: Layered, list_key: KeyPath = ("templates",), name_keys: Sequence[KeyPath] = ()
) -> list[ConfigProblem]:
    """Register the templates a config names, in place, before its models validate it.

    `list_key` holds template files/folders; each of `name_keys` holds a template name or a file path. Paths
    are resolved against the file that set them and stored absolute; a path at a name key is registered and
    replaced by the template's name (and added to the list, so the merged config lists every file it used).
    Problems carry the key path of the reference that failed.
    """
    data = layered.data
    problems: list[ConfigProblem] = []
    raw = _get(data, list_key)
    if raw is None:
        raw = []
    elif isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        origin = layered.origin_of(list_key)
        message = "must be a list of template files or folders"
        return [ConfigProblem(list_key, message, origin, None, codes.TEMPLATE_FILE.code)]
    files: list[str] = []
    for i, ref in enumerate(raw):
        path = _absolute(ref, layered.origin_of((*list_key, i)))
        files.append(str(path))
        problems += _register((*list_key, i), path, layered)[1]
    for key in name_keys:
        value = _get(data, key)
        if not is_template_path(value):
            continue
        path = _absolute(value, layered.origin_of(key))
        names, found = _register(key, path, layered)
        problems += found
        if names:
            _set(data, key, names[0])
            if str(path) not in files:
                files.append(str(path))
    if files or _get(data, list_key) is not None:
        _set(data, list_key, files)
    return problems


def _register(key: KeyPath, path: Path, layered: Layered) -> tuple[list[str], list[ConfigProblem]]:
    origin = layered.origin_of(key)
    if not path.exists():
        fix = "paths are relative to the file that sets them"
        message = f"no such template file or folder: {path}"
        return [], [ConfigProblem(key, message, origin, fix, codes.TEMPLATE_FILE.code)]
    try:
        return use_templates([path]), []
    except VlmdataError as exc:
        lines = exc.details or [str(exc).splitlines()[0]]
        return [], [ConfigProblem(key, line, origin, None, exc.code_str) for line in lines]


def _absolute(value: str, origin: str | None) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    base = Path(origin).parent if origin and not origin.startswith("--") else Path.cwd()
    return (base / path).resolve()


def _get(data: Any, key: KeyPath) -> Any:
    for part in key:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _set(data: dict[str, Any], key: KeyPath, value: Any) -> None:
    for part in key[:-1]:
        data = data[part]
    data[key[-1]] = value
