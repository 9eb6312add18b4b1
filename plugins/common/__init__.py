"""ms-swift glue shared by the built-in trainer plugins.

- `args`: the pure translation RunConfig → ms-swift arguments (what `--dry-run` prints);
- `deepspeed`: the ZeRO-2/3 presets as config dicts;
- `env`: the image-resize environment ms-swift reads, applied and restored around a run;
- `runfolder`: what a run folder holds besides checkpoints (merged config, data manifest, versions);
- `callbacks`: `logging.jsonl` rows, the rich progress display;
- `trainer`: the trainer mixin (our batch sampler, per-dataset loss/accuracy);
- `pipeline`: the in-process ms-swift pipeline that feeds our dataset layer to the trainer.

Only `args`, `deepspeed` and `runfolder` are importable without torch.
"""
