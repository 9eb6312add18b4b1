"""YAML configuration: layered loading with `extends`, and the run configuration models."""
