"""Parsing model outputs, matching them to references, and the metrics shared by `vlmdata eval` and rewards."""
