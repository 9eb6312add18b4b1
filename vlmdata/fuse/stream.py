"""The online side of fusion: the epoch's stream as a map-style dataset, and the evaluation sets.

`FusionStream(config, epoch)` is what the trainer plugins index: position p is record `index[p]` of entry
`entry[p]` of `plan_epoch(config, sizes, epoch)`, returned in its fused form (tags, `max_objects` cap), equal
to row p of `vlmdata fuse --epoch E`. Because the plan is a pure function, the object pickles as just the
config, the epoch and the dataset paths: every process and dataloader worker rebuilds the same plan and opens
its own memory maps, and no state is sent to workers. `iter_from(k)` resumes at position k in O(1) (the plan
is computed once per process, then each step is an array lookup).

Evaluation: `eval_sets(config)` lists the targets' `val` sets in config order (and the sources' only with
`eval_sources: true`), each tagged like training records but with `_augment: false`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmdata.fuse.config import Domain, FusionConfig, load_fusion_config
from vlmdata.fuse.plan import EpochPlan, plan_epoch
from vlmdata.fuse.records import EntryTags, finalize_record


class FusionStream:
    def __init__(
        self, config: FusionConfig | str | Path, epoch: int = 0, datasets: Mapping[str, Any] | None = None
    ) -> None:
        self.config = config if isinstance(config, FusionConfig) else load_fusion_config(config)
        self.epoch = int(epoch)
        self._given = dict(datasets) if datasets is not None else None
        self._datasets: dict[str, Any] | None = None
        self._plan: EpochPlan | None = None
        entries = self.config.entries()
        self._tags = [EntryTags.of(self.config, d, e) for d, e in entries]

    @classmethod
    def from_manifest(cls, path: str | Path, *, verify: bool = True) -> FusionStream:
        """The stream a `vlmdata fuse` manifest describes (its merged config and epoch).

        With `verify`, every input's content fingerprint and the recomputed plan digest must equal the
        manifest's, so a resumed run provably reads the same stream (VD526 otherwise).
        """
        import json

        from vlmdata.errors import Location, VlmdataError
        from vlmdata.fuse import codes
        from vlmdata.fuse.inputs import fingerprint_dir
        from vlmdata.validate.inputs import locate_input

        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
        config = FusionConfig.model_validate(manifest["config"])
        config._files = list(manifest.get("config_files", []))
        stream = cls(config, int(manifest["epoch"]))
        if verify:
            for name, entry in manifest["inputs"].items():
                seen = fingerprint_dir(locate_input(entry["data"]))
                if seen != entry["fingerprint"]:
                    raise VlmdataError(
                        codes.INPUT_CHANGED,
                        f"input {name!r} differs from the manifest's",
                        where=Location(file=str(path), field=f"inputs.{name}"),
                        value=seen,
                    )
            digest = "sha256:" + stream.plan.digest()
            if digest != manifest["plan_digest"]:
                raise VlmdataError(
                    codes.INPUT_CHANGED,
                    "the recomputed plan differs from the manifest's (numpy or vlmdata version change?)",
                    where=Location(file=str(path), field="plan_digest"),
                    value=digest,
                )
        return stream

    # -- pickling: ship the recipe, not the plan or open files -------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {
            "config": self.config.model_dump(mode="json"),
            "files": self.config.files,
            "epoch": self.epoch,
            "given": self._given,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        config = FusionConfig.model_validate(state["config"])
        config._files = list(state["files"])
        self.__init__(config, state["epoch"], state["given"])  # type: ignore[misc]

    # -- the plan ----------------------------------------------------------------------------------------
    @property
    def datasets(self) -> dict[str, Any]:
        if self._datasets is None:
            if self._given is not None:
                self._datasets = dict(self._given)
            else:
                from vlmdata.validate.inputs import open_input

                self._datasets = {e.name: open_input(e.data) for _, e in self.config.entries()}
        return self._datasets

    @property
    def plan(self) -> EpochPlan:
        if self._plan is None:
            sizes = {name: len(self.datasets[name]) for name in self.config.entry_names()}
            self._plan = plan_epoch(self.config, sizes, self.epoch)
        return self._plan

    def set_epoch(self, epoch: int) -> None:
        """Switch to another epoch (the plan is recomputed lazily; datasets stay open)."""
        if int(epoch) != self.epoch:
            self.epoch = int(epoch)
            self._plan = None

    # -- access --------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.plan)

    def source_at(self, position: int) -> tuple[str, int]:
        """(entry name, record index in that entry's dataset) at `position`."""
        plan = self.plan
        p = self._check(position)
        return plan.names[int(plan.entry[p])], int(plan.index[p])

    def __getitem__(self, position: int) -> dict[str, Any]:
        plan = self.plan
        p = self._check(position)
        k = int(plan.entry[p])
        tags = self._tags[k]
        record = self.datasets[tags.name][int(plan.index[p])]
        return finalize_record(record, tags, plan.seed, plan.epoch)

    def iter_from(self, position: int = 0) -> Iterator[dict[str, Any]]:
        """The stream from `position` to the end of the epoch (a checkpoint at step k resumes here)."""
        if position == len(self):
            return
        start = self._check(position)
        for p in range(start, len(self)):
            yield self[p]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.iter_from(0)

    def _check(self, position: int) -> int:
        n = len(self.plan)
        p = int(position)
        if p < 0:
            p += n
        if not 0 <= p < n:
            raise IndexError(f"position {position} outside the epoch's {n} draws")
        return p


@dataclass
class EvalSet:
    name: str
    domain: Domain
    path: str
    tags: EntryTags

    def open(self) -> Any:
        from vlmdata.validate.inputs import open_input

        return open_input(self.path, split="val")

    def records(self) -> Iterator[dict[str, Any]]:
        """The val records in order, tagged, unaugmented; `max_objects` does not apply to evaluation."""
        ds = self.open()
        tags = EntryTags(self.tags.name, self.tags.domain, self.tags.mode, self.tags.template, False, None)
        for i in range(len(ds)):
            yield finalize_record(ds[i], tags, 0, 0)


def eval_sets(config: FusionConfig) -> list[EvalSet]:
    """Targets' val sets in config order, then (only with `eval_sources: true`) the sources'."""
    out = []
    for domain, entry in config.entries():
        if entry.val is None or (domain == "source" and not config.eval_sources):
            continue
        tags = EntryTags.of(config, domain, entry, augment=False)
        out.append(EvalSet(entry.name, domain, entry.val, tags))
    return out
