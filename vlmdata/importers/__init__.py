"""Importers: other tools' annotation formats → contract JSONL (`vlmdata import FORMAT SRC --out OUT.jsonl`)."""

from vlmdata.importers.common import ImportOptions
from vlmdata.importers.registry import FORMATS
from vlmdata.importers.report import ImportReport
from vlmdata.importers.run import import_source

__all__ = ["FORMATS", "ImportOptions", "ImportReport", "import_source"]
