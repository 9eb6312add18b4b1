"""The record contract (version 1): pydantic models are its single definition."""
