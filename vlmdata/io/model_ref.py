"""What `model.path` (and a teacher's path) may name: a local folder, or a hub model id already downloaded.

Users have models in three places: a folder they wrote or copied, the Hugging Face cache (`hf download`,
`from_pretrained`) and the ModelScope cache (`modelscope download`, ms-swift's default hub). A value that
names an existing file or folder is a path. Otherwise a value shaped like a hub id — `org/name`, optionally
`org/name@revision` — is looked up in the local caches, never on the network: first Hugging Face
(`huggingface_hub.snapshot_download(..., local_files_only=True)`, which honours `HF_HOME`/`HF_HUB_CACHE`),
then ModelScope (`modelscope.snapshot_download(..., local_files_only=True)`, `MODELSCOPE_CACHE`) when it is
installed (it comes with the `train` extra). A cached id resolves to its snapshot folder; an id in neither
cache raises `ModelNotCached`, whose message names the command that downloads it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*(@[A-Za-z0-9_./-]+)?$")


@dataclass(frozen=True)
class ModelRef:
    path: str  # the local folder to load
    source: str  # "folder", "huggingface" or "modelscope"
    hub_id: str | None = None


class ModelNotCached(Exception):
    def __init__(self, value: str, commands: list[str]) -> None:
        self.value = value
        self.commands = commands
        super().__init__(
            f"{value!r} is not a local folder and not in the local Hugging Face or ModelScope cache "
            "(nothing is downloaded during a run)"
        )

    @property
    def fix(self) -> str:
        return (
            "download it first: "
            + " — or — ".join(f"`{c}`" for c in self.commands)
            + ("; or set model.path to the model's local folder")
        )


def looks_like_hub_id(value: str) -> bool:
    return bool(_HUB_ID.match(value)) and ".." not in value


def _split(value: str) -> tuple[str, str | None]:
    repo, _, revision = value.partition("@")
    return repo, revision or None


@contextlib.contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """The hub libraries log a warning for every offline lookup; a lookup is not news."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _huggingface(repo: str, revision: str | None) -> str | None:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    try:
        with _quiet("huggingface_hub"):
            found = snapshot_download(repo, revision=revision, local_files_only=True)
    except Exception:  # LocalEntryNotFoundError and friends: not cached
        return None
    return str(found) if Path(str(found)).is_dir() else None


def _modelscope(repo: str, revision: str | None) -> str | None:
    try:
        from modelscope.hub.snapshot_download import snapshot_download
    except Exception:  # not installed (data-only install) or broken: no ModelScope cache to read
        return None
    try:
        with _quiet("modelscope", "modelscope_hub", "modelscope_hub.download"):
            found = snapshot_download(repo, revision=revision, local_files_only=True)
    except Exception:  # CacheNotFound and friends: not cached
        return None
    return str(found) if found and Path(str(found)).is_dir() else None


def modelscope_available() -> bool:
    try:
        import modelscope  # noqa: F401
    except Exception:
        return False
    return True


def download_commands(value: str) -> list[str]:
    repo, revision = _split(value)
    rev = f" --revision {revision}" if revision else ""
    commands = [f"hf download {repo}{rev}"]
    if modelscope_available():
        commands.append(f"modelscope download --model {repo}{rev}")
    return commands


def resolve_model_ref(value: str, base: str | Path | None = None) -> ModelRef:
    """A local folder for `value` (relative paths against `base`), or ModelNotCached / FileNotFoundError."""
    candidate = Path(value).expanduser()
    if not candidate.is_absolute() and base is not None:
        candidate = Path(base) / candidate
    if candidate.exists():
        return ModelRef(str(candidate.resolve()), "folder")
    if not looks_like_hub_id(value):
        raise FileNotFoundError(str(candidate))
    repo, revision = _split(value)
    for source, lookup in (("huggingface", _huggingface), ("modelscope", _modelscope)):
        found = lookup(repo, revision)
        if found is not None:
            return ModelRef(found, source, value)
    raise ModelNotCached(value, download_commands(value))


WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def model_folder_problem(path: str | Path) -> str | None:
    """Why `path` cannot be loaded as a model (no config.json, no weights), or None when it looks complete.

    A folder with a config but no weight file passes a config check and fails only when the run loads it,
    after the data was opened; this lets the config loader and the plugins refuse it up front."""
    folder = Path(path)
    if not folder.is_dir():
        return None  # a missing path is reported by the path checks
    if not (folder / "config.json").is_file():
        return f"not a model folder (no config.json): {folder}"
    if not any((folder / name).is_file() for name in WEIGHT_FILES) and not any(folder.glob("*.safetensors")):
        return f"model folder without weights (no {' / '.join(WEIGHT_FILES[::2])}): {folder}"
    return None


def local_model(value: str | Path) -> Path:
    """`--model` of a command: a folder, or a cached hub id → its folder; otherwise a usage error (exit 2)
    naming the download command."""
    from vlmdata.errors import UsageError

    try:
        return Path(resolve_model_ref(str(value)).path)
    except ModelNotCached as exc:
        raise UsageError(str(exc), hint=exc.fix) from None
    except FileNotFoundError:
        raise UsageError(
            f"model folder not found: {value}", hint="pass a model folder or a cached hub id"
        ) from None
