"""The shared training data layer (see `vlmdata.train.dataset` for the public entry points)."""
