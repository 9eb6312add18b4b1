"""The LM distillation term with memory bounded by one chunk of positions.

ms-swift's `gkd_loss` computes the generalised JSD over the supervised positions in chunks of 512, but autograd
keeps every chunk's full-vocabulary log-softmax and mixture tensors for the backward pass, so memory grows with
the number of supervised tokens times the vocabulary (151,936 for Qwen): a batch of 8 dense targets of a few
thousand tokens ran a 140 GiB GPU out of memory. Here each chunk runs under activation checkpointing: only its
inputs (views into the logits) are kept, and the chunk is recomputed during the backward pass. The arithmetic is
ms-swift's own `jsd_loss` on the same active positions, so values and gradients are unchanged (tested); top-k
mode keeps ms-swift's path, whose tensors are small.
"""

from __future__ import annotations

from typing import Any

CHUNK = 512


def bounded_jsd(
    student_logits: Any, teacher_output: Any, labels: Any, beta: float, temperature: float, chunk: int = CHUNK
) -> Any:
    """Mean generalised JSD over supervised positions (labels already shifted: -100 = not scored)."""
    from swift.rlhf_trainers.gkd_loss import _align_vocab, extract_active
    from torch.utils.checkpoint import checkpoint

    s_active, t_active, num_valid = extract_active(student_logits, teacher_output, labels)
    s_logits, t_logits = _align_vocab(s_active, t_active.full_logits)
    total = s_logits.sum() * 0.0
    for start in range(0, s_logits.shape[0], chunk):
        s = s_logits[start : start + chunk]
        t = t_logits[start : start + chunk].detach()
        total = total + checkpoint(_chunk_jsd, s, t, beta, temperature, use_reentrant=False)
    n = int(num_valid)
    return total / n if n else total * 0


def _chunk_jsd(s: Any, t: Any, beta: float, temperature: float) -> Any:
    from swift.rlhf_trainers.gkd_loss import jsd_loss

    return jsd_loss(s / temperature, t / temperature, beta, chunk_size=s.shape[0])
