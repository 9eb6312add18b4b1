"""The GKD loss from hidden states (`fused_linear_loss`: JSD + cross-entropy, no logits) against its peer, the
logits path ms-swift runs (full [tokens, vocabulary] logits from both models, ms-swift's `jsd_loss`, torch's
cross-entropy, autograd), on the same inputs in the same run: forward + backward time, and agreement of the loss
and the gradients.

Shape: `--tokens` scored positions, Qwen's 151,936-token vocabulary, `--hidden` wide hidden states (the 2B
model's 2048 by default; `--quick`: 256 tokens, hidden 256), float32 on the CPU or bf16 weights on a GPU, beta
0.5, temperature 1 (the presets'). Prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def emit(**fields: Any) -> None:
    print(json.dumps({"bench": "fused_loss", **fields}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--tokens", type=int, default=None)
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    import torch
    import torch.nn.functional as F
    from swift.rlhf_trainers.gkd_loss import jsd_loss

    from plugins.common.fused import fused_linear_loss

    n = args.tokens or (256 if args.quick else 2048)
    hidden = args.hidden or (256 if args.quick else 2048)
    vocab, beta, temperature = 151936, 0.5, 1.0
    cuda = torch.cuda.is_available()
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    g = torch.Generator().manual_seed(0)
    hs = (torch.randn(n, hidden, generator=g) * 0.5).to(device, dtype).requires_grad_(True)
    w = (torch.randn(vocab, hidden, generator=g) * hidden**-0.5).to(device, dtype)
    ht = (torch.randn(n, hidden, generator=g) * 0.5).to(device, dtype)
    wt = (torch.randn(vocab, hidden, generator=g) * hidden**-0.5).to(device, dtype)
    y = torch.randint(0, vocab, (n,), generator=g).to(device)

    def fused() -> tuple[Any, Any]:
        out = fused_linear_loss(hs, w, y, ht, wt, beta=beta, temperature=temperature)
        loss = (out.jsd_sum + out.ce_sum) / n
        (grad,) = torch.autograd.grad(loss, hs)
        return loss.detach(), grad

    def logits_path() -> tuple[Any, Any]:
        z = (hs @ w.T).float()
        zt = (ht @ wt.T).float()
        loss = (
            jsd_loss(z / temperature, zt / temperature, beta) + F.cross_entropy(z, y, reduction="sum")
        ) / n
        (grad,) = torch.autograd.grad(loss, hs)
        return loss.detach(), grad

    def timed(fn: Any) -> tuple[list[float], Any]:
        out = fn()  # warm-up
        secs = []
        for _ in range(args.repeats):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = fn()
            if cuda:
                torch.cuda.synchronize()
            secs.append(time.perf_counter() - t0)
        return secs, out

    # alternate the two sides so drift on a shared machine hits both
    t_fused, t_peer = [], []
    for _ in range(2):
        s, (lf, gf) = timed(fused)
        t_fused += s
        s, (lp, gp) = timed(logits_path)
        t_peer += s
    emit(
        figure="shape",
        tokens=n,
        hidden=hidden,
        vocab=vocab,
        device=torch.cuda.get_device_name() if cuda else "cpu",
        threads=torch.get_num_threads(),
    )
    emit(figure="fused_seconds_median", value=statistics.median(t_fused), runs=len(t_fused))
    emit(figure="logits_path_seconds_median", value=statistics.median(t_peer), runs=len(t_peer))
    emit(figure="fused_over_logits_path", value=statistics.median(t_fused) / statistics.median(t_peer))
    emit(
        figure="agreement",
        loss_rel_diff=abs(float(lf) - float(lp)) / abs(float(lp)),
        grad_max_abs_diff=float((gf.float() - gp.float()).abs().max()),
    )


if __name__ == "__main__":
    main()
