"""vlmdata: the data side of fine-tuning vision-language models on dense-caption and grounding data.

Importing this package is cheap and never imports torch or ms-swift; those live behind the `train` extra and
are imported only inside the trainer plugins.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
