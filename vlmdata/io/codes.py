"""Error codes of inputs and outputs: the `--out` rule (VD001–VD005), the parallel engines (VD007, VD008) and
opening datasets (VD520, VD522, VD523).

Every VD0xx code is a usage error (exit code 2): the command refused to run as given and wrote nothing. The
generic VD000, VD006 (missing optional dependency) and VD009 (internal error) live in `vlmdata.errors`.
"""

from vlmdata.errors import define

# VD00x — outputs
OUT_IS_INPUT = define(
    "VD001",
    "--out is, holds or lies inside one of the command's inputs",
    "Write the output to a new path outside every input (data files, dataset folders, `--image-root`, config "
    "files); docs/reliability.md lists the rule.",
)
OUT_NOT_REGULAR = define(
    "VD002",
    "--out is not a plain file or folder of the kind the command writes",
    "Pass a path that is new, a regular file (single-file outputs) or a folder (folder outputs); devices, "
    "FIFOs, sockets, symlinks and mount points are never replaced.",
)
OUT_FOREIGN_FOLDER = define(
    "VD003",
    "--out is a non-empty folder this command did not write (or holds entries it did not write)",
    "Choose a new or empty folder. vlmdata replaces only a folder the same command wrote (marked by "
    "`.vlmdata-output.json`) that holds nothing else; move your own files out or pick another path.",
)
OUT_FOREIGN_FILE = define(
    "VD004",
    "--out is an existing file this command did not write, or one that changed since it wrote it",
    "Choose a new path, or move the file away yourself: vlmdata overwrites only a file the same command wrote "
    "whose content is unchanged (recorded in the hidden `.NAME.vlmdata-output.json` beside it).",
)
OUT_BUSY = define(
    "VD005",
    "--out is in use by another running vlmdata command",
    "Wait for the other command (the message names its process id) to finish, or write to another path.",
)

# VD007–VD008 — parallel engines
ENGINE_UNREACHABLE = define(
    "VD007",
    "--engine ray cannot reach its Ray cluster",
    "Check --ray-address / $RAY_ADDRESS (the head node's `ray start --head` prints it) and that this machine "
    "runs the same Ray and Python versions as the cluster; docs/scale.md lists what each node needs.",
)
WORKER_LOST = define(
    "VD008",
    "A worker process died before finishing its shard (killed, or out of memory)",
    "Nothing was written. Re-run with fewer --workers (each holds about one shard in memory), or find what "
    "killed it (`dmesg` for the OOM killer). From a Python script, call vlmdata under "
    '`if __name__ == "__main__":`, as every program that starts worker processes must.',
)

# VD52x — opening datasets (and JSONL files validated on the fly)
NOT_A_DATASET = define(
    "VD520",
    "Input not found or not a vlmdata Arrow dataset",
    "Pass a dataset folder: a `vlmdata validate --out` folder (or its `data/` / `val/`), a `vlmdata fuse` "
    "or `augment` output folder (or its `data/`), a `datasets` `save_to_disk` folder, or (in a fusion or "
    "run config) a JSONL file.",
)
JSONL_INVALID = define(
    "VD522",
    "A JSONL input failed validation",
    "Run `vlmdata validate FILE --out DIR`, fix the rejected records, and point `data` at DIR/data.",
)
SCHEMA = define(
    "VD523",
    "Dataset does not have the normalised vlmdata schema",
    "Re-create the dataset with `vlmdata validate` so it has the columns of vlmdata/io/features.py.",
)
