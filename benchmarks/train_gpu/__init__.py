"""Helpers of `benchmarks/train_gpu.py`: the model builder, the data preparation and the measured workers."""
