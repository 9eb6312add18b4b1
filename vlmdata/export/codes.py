"""Error codes of the COCO and LLaMA-Factory exports (VD450–VD459)."""

from vlmdata.errors import define

INFO_CONFLICT = define(
    "VD450",
    "dataset_info.json already holds a different entry under this dataset name",
    "Pass another --name, or remove that entry from dataset_info.json yourself.",
)
INFO_NOT_OBJECT = define(
    "VD451",
    "dataset_info.json exists but is not a JSON object",
    "Fix or move the file; LLaMA-Factory reads it as {name: entry, ...}.",
)
NOTHING_TO_EXPORT = define(
    "VD452",
    "The dataset holds nothing this format can express",
    "COCO needs records with objects (boxes or polygons); check the dataset and the export format.",
)
CATEGORY_CONFLICT = define(
    "VD453",
    "One COCO category id carries two different names",
    "The records come from sources whose category ids clash; re-import one of them with its own ids.",
)
