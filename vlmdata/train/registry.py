"""Trainer plugins found through the `vlmdata.trainers` entry-point group, checked when they load.

The built-in `sft`/`gkd`/`grpo` register exactly like a third-party package would (in `pyproject.toml`),
so there is one code path. Loading a plugin checks, in order: the entry point imports (VD701); it names a
`TrainerPlugin` subclass or instance (VD702); the class implements the interface and instantiates without
arguments (VD706); its `name` equals the entry-point name (VD703); its `config_model` is a pydantic model
that forbids unknown keys (VD704). Two packages claiming one name is VD705. Every failure names the
distribution that provided the entry point and the rule it broke, so the user knows what to uninstall or
fix. `vlmdata plugins` lists every entry point with its status, broken ones included.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from vlmdata.errors import VlmdataError
from vlmdata.train import codes
from vlmdata.train.plugin import TrainerPlugin

GROUP = "vlmdata.trainers"

_LOADED: dict[tuple[str, str, str], TrainerPlugin] = {}


@dataclass
class PluginInfo:
    name: str
    target: str
    package: str
    version: str
    plugin: TrainerPlugin | None = None
    error: VlmdataError | None = None

    @property
    def ok(self) -> bool:
        return self.plugin is not None

    @property
    def description(self) -> str:
        return self.plugin.description if self.plugin is not None else ""


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=GROUP), key=lambda ep: (ep.name, ep.value))


def _dist(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "<unknown package>", "?"
    return dist.metadata["Name"] or "<unknown package>", dist.version or "?"


def _load(ep: metadata.EntryPoint) -> TrainerPlugin:
    package, version = _dist(ep)
    key = (package, ep.name, ep.value)
    if key in _LOADED:
        return _LOADED[key]
    who = f"plugin {ep.name!r} from package {package} {version} ({ep.value})"
    try:
        obj: Any = ep.load()
    except Exception as exc:  # any import-time failure of third-party code
        raise VlmdataError(
            codes.PLUGIN_IMPORT, f"{who} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    if inspect.isclass(obj):
        if not issubclass(obj, TrainerPlugin):
            raise VlmdataError(
                codes.PLUGIN_NOT_TRAINER,
                f"{who} names class {obj.__qualname__}, which does not subclass TrainerPlugin",
            )
        if inspect.isabstract(obj):
            missing = sorted(getattr(obj, "__abstractmethods__", ()))
            raise VlmdataError(codes.PLUGIN_ABSTRACT, f"{who} does not implement {', '.join(missing)}")
        try:
            plugin = obj()
        except Exception as exc:
            raise VlmdataError(
                codes.PLUGIN_ABSTRACT, f"{who} cannot be instantiated without arguments: {exc}"
            ) from exc
    elif isinstance(obj, TrainerPlugin):
        plugin = obj
    else:
        raise VlmdataError(
            codes.PLUGIN_NOT_TRAINER, f"{who} names a {type(obj).__name__}, not a TrainerPlugin"
        )
    name = getattr(plugin, "name", None)
    if name != ep.name:
        raise VlmdataError(codes.PLUGIN_NAME, f"{who} declares name {name!r}")
    _check_config_model(plugin, who)
    _LOADED[key] = plugin
    return plugin


def _check_config_model(plugin: TrainerPlugin, who: str) -> None:
    model = plugin.config_model
    if model is None:
        if plugin.path_fields:
            raise VlmdataError(codes.PLUGIN_CONFIG_MODEL, f"{who} declares path_fields but no config_model")
        return
    from pydantic import BaseModel

    if not (inspect.isclass(model) and issubclass(model, BaseModel)):
        raise VlmdataError(
            codes.PLUGIN_CONFIG_MODEL, f"{who}: config_model is {model!r}, not a pydantic model class"
        )
    if model.model_config.get("extra") != "forbid":
        raise VlmdataError(
            codes.PLUGIN_CONFIG_MODEL, f"{who}: config_model {model.__name__} does not set extra='forbid'"
        )
    unknown = [f for f in plugin.path_fields if f not in model.model_fields]
    if unknown:
        raise VlmdataError(
            codes.PLUGIN_CONFIG_MODEL, f"{who}: path_fields {unknown} are not fields of {model.__name__}"
        )


def list_plugins() -> list[PluginInfo]:
    """Every registered entry point, loaded and checked; broken ones carry their error instead of raising."""
    infos = []
    eps = _entry_points()
    counts: dict[str, int] = {}
    for ep in eps:
        counts[ep.name] = counts.get(ep.name, 0) + 1
    for ep in eps:
        package, version = _dist(ep)
        info = PluginInfo(ep.name, ep.value, package, version)
        if counts[ep.name] > 1:
            info.error = _duplicate_error(ep.name, [e for e in eps if e.name == ep.name])
        else:
            try:
                info.plugin = _load(ep)
            except VlmdataError as exc:
                info.error = exc
        infos.append(info)
    return infos


def _duplicate_error(name: str, eps: list[metadata.EntryPoint]) -> VlmdataError:
    who = ", ".join(f"{_dist(ep)[0]} ({ep.value})" for ep in eps)
    return VlmdataError(codes.PLUGIN_DUPLICATE, f"plugin {name!r} is registered by several packages: {who}")


def get_plugin(name: str) -> TrainerPlugin:
    """The checked plugin registered as `name`; VD700 lists the available names when there is none."""
    eps = [ep for ep in _entry_points() if ep.name == name]
    if not eps:
        available = sorted({ep.name for ep in _entry_points()})
        raise VlmdataError(
            codes.PLUGIN_NOT_FOUND,
            f"no trainer plugin named {name!r}",
            hint=f"installed plugins: {', '.join(available) or 'none'} (`vlmdata plugins` shows their packages)",
        )
    if len(eps) > 1:
        raise _duplicate_error(name, eps)
    return _load(eps[0])
