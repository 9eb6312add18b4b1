"""vlmdata's built-in trainer plugins (`sft`, `gkd`, `grpo`) and the reward library.

This is the only package that imports ms-swift and torch. Plugins register through the `vlmdata.trainers`
entry-point group exactly as a third-party package would.
"""
