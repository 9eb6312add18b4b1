"""Contract validation of JSONL files: fast bulk checks, per-record explanations, images, the report."""

from vlmdata.validate.report import FileReport, Report
from vlmdata.validate.run import ValidateOptions, validate_files

__all__ = ["FileReport", "Report", "ValidateOptions", "validate_files"]
