"""Fused output projection + loss: the logits of the supervised tokens, never the whole [tokens, vocabulary].

With Qwen's 151,936-token vocabulary the logits dominate training memory: a batch of 8 dense targets of a few
thousand tokens holds [8, S, 151936] logits in bf16, their float32 copy for the loss, and the gradient of both.
`fused_linear_loss` takes the final hidden states of the scored positions and the output-projection weight
instead, and works through them in token chunks (and, when asked, vocabulary chunks):

- per token chunk, the logits of that chunk only are computed (in the weight's dtype, then float32, exactly as
  the model's `lm_head` + the loss would), the losses reduced to per-token numbers, and the gradient with
  respect to the hidden states (and the weight, when it trains) computed on the spot, so nothing of size
  vocabulary outlives the chunk; the backward pass only scales the stored gradients (Liger's scheme, in
  PyTorch, so it runs on a CPU too);
- with `vocab_chunk` < vocabulary, each token chunk makes three passes over the vocabulary chunks (log-sum-exp
  and argmax; the JSD terms; the gradients), recomputing each chunk's logits: memory is then bounded by
  token_chunk × vocab_chunk at the price of two more projections;
- the terms: cross-entropy against `targets` (the model's own loss, mean over supervised tokens), the
  generalised JSD against a teacher's hidden states and projection (ms-swift's `jsd_loss`: beta = 0 is
  KL(teacher‖student), 1 is KL(student‖teacher), between the two the JSD with mixture beta·P_t + (1−beta)·P_s,
  both softened by `temperature`), and the argmax prediction per token (token accuracy). The analytic
  gradients (d/dz of each term; test: equal to autograd through ms-swift's arithmetic) are

      CE:        softmax(z) − onehot(target)
      beta = 0:  (p_s − p_t) / T
      beta = 1:  p_s ⊙ (log p_s − log p_t − KL(s‖t)) / T
      otherwise: (1 − beta) · p_s ⊙ (log p_s − log m − KL(s‖m)) / T,   m = beta·p_t + (1 − beta)·p_s.

The model side (the causal LM's fused training forward, the identity head, the hidden-state capture for
metrics) is `fused_model.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# float32 elements of one [token chunk, vocab chunk] block: 2**26 = 256 MiB; a chunk step holds about six
# such blocks (student and teacher logits, log-probabilities, the gradient)
BLOCK_ELEMENTS = 1 << 26


@dataclass
class FusedLoss:
    """Sums over the scored tokens (differentiable) and per-token numbers (no gradient)."""

    jsd_sum: Any  # scalar; zero when no teacher was given
    ce_sum: Any  # scalar; zero when no targets were given
    token_ce: Any  # [N] float32 or None
    predictions: Any  # [N] int64 argmax of the student logits
    count: int


def _jsd_terms(lps: Any, lpt: Any, beta: float, want_grad: bool) -> tuple[Any, Any, Any, Any]:
    """One vocabulary chunk of the generalised JSD: (per-token partial sum, auxiliary KL for the gradient,
    d JSD / d z_T when `want_grad` (only exact when the chunk is the whole vocabulary: the auxiliary KL must be
    complete), p_s when it was computed). Each elementwise intermediate is made once."""
    import torch

    if beta == 0:
        pt = lpt.exp()
        part = (pt * (lpt - lps)).sum(-1)
        if not want_grad:
            return part, None, None, None
        ps = lps.exp()
        return part, None, ps - pt, ps
    ps = lps.exp()
    if beta == 1:
        d = lps - lpt
        part = (ps * d).sum(-1)
        return part, part, (ps * (d - part[:, None]) if want_grad else None), ps
    lm = torch.logaddexp(lps + math.log1p(-beta), lpt + math.log(beta))
    ds = lps - lm
    kl_s = (ps * ds).sum(-1)
    kl_t = (lpt.exp() * (lpt - lm)).sum(-1)
    grad = (1 - beta) * ps * (ds - kl_s[:, None]) if want_grad else None
    return beta * kl_t + (1 - beta) * kl_s, kl_s, grad, ps


def _jsd_grad(lps: Any, lpt: Any, beta: float, aux: Any) -> Any:
    """d JSD / d z_T (the temperature-scaled student logits) for one vocabulary chunk, given the complete
    auxiliary KL of `_jsd_terms` summed over every chunk."""
    import torch

    ps = lps.exp()
    if beta == 0:
        return ps - lpt.exp()
    if beta == 1:
        return ps * (lps - lpt - aux[:, None])
    lm = torch.logaddexp(lps + math.log1p(-beta), lpt + math.log(beta))
    return (1 - beta) * ps * (lps - lm - aux[:, None])


def _scaled(z: Any, temperature: float) -> Any:
    return z if temperature == 1 else z / temperature


def _chunk(
    hs: Any,
    w: Any,
    ht: Any,
    wt: Any,
    targets: Any,
    beta: float,
    temperature: float,
    vocab_chunk: int,
    want: tuple[bool, bool],
    grads: dict[str, Any],
    rows: slice,
) -> tuple[Any, Any, Any, Any]:
    """One token chunk: (jsd per token, ce per token, predictions); gradients added into `grads`."""
    import torch

    n, vocab = hs.shape[0], w.shape[0]
    acc = torch.promote_types(hs.dtype, torch.float32)  # float32, or float64 for float64 inputs
    bounds = [(a, min(a + vocab_chunk, vocab)) for a in range(0, vocab, vocab_chunk)]
    cache: dict[int, tuple[Any, Any]] = {}

    def logits(i: int) -> tuple[Any, Any]:
        if i in cache:
            return cache[i]
        a, b = bounds[i]
        zs = (hs @ w[a:b].T).to(acc)
        zt = (ht @ wt[a:b].T).to(acc) if ht is not None else None
        if len(bounds) == 1:
            cache[i] = (zs, zt)
        return zs, zt

    dev = hs.device
    neg = torch.full((n,), -math.inf, device=dev, dtype=acc)
    lse1, lse_s, lse_t = neg.clone(), neg.clone(), neg.clone()
    best = neg.clone()
    pred = torch.zeros(n, dtype=torch.long, device=dev)
    picked = torch.zeros(n, device=dev, dtype=acc)
    for i, (a, _) in enumerate(bounds):  # pass 1: normalisers, argmax, the target's logit
        zs, zt = logits(i)
        lse1 = torch.logaddexp(lse1, torch.logsumexp(zs, -1))
        value, index = zs.max(-1)
        better = value > best
        best = torch.where(better, value, best)
        pred = torch.where(better, index + a, pred)
        if targets is not None:
            inside = (targets >= a) & (targets < a + zs.shape[1])
            local = (targets - a).clamp(0, zs.shape[1] - 1)
            picked = picked + torch.where(inside, zs.gather(1, local[:, None])[:, 0], 0.0)
        if zt is not None:
            lse_t = torch.logaddexp(lse_t, torch.logsumexp(_scaled(zt, temperature), -1))
            if temperature != 1:
                lse_s = torch.logaddexp(lse_s, torch.logsumexp(zs / temperature, -1))
    if ht is not None and temperature == 1:
        lse_s = lse1  # the same log-sum-exp of the same logits
    ce = lse1 - picked if targets is not None else None
    want_h, want_w = want
    whole = len(bounds) == 1  # the whole vocabulary in one chunk: pass 3 reuses what pass 2 made
    jsd = aux = None
    made: dict[str, Any] = {}
    if ht is not None:  # pass 2: the JSD and the per-token KL its gradient needs
        jsd = torch.zeros(n, device=dev, dtype=acc)
        aux = torch.zeros(n, device=dev, dtype=acc) if beta != 0 else None
        for i in range(len(bounds)):
            zs, zt = logits(i)
            keep = whole and (want_h or want_w)
            part, kl, g, ps = _jsd_terms(
                _scaled(zs, temperature) - lse_s[:, None],
                _scaled(zt, temperature) - lse_t[:, None],
                beta,
                want_grad=keep and "jsd" in grads,
            )
            jsd = jsd + part
            if aux is not None:
                aux = aux + kl
            if keep:
                made = {"jsd": g, "softmax": ps if temperature == 1 else None}
    if want_h or want_w:  # pass 3: gradients with respect to the logits, projected back
        for i, (a, b) in enumerate(bounds):
            zs, zt = logits(i)
            for term in ("ce", "jsd"):
                if term not in grads:
                    continue
                if term == "ce":
                    soft = made.pop("softmax", None)  # exp(zs - lse1) already, when the temperature is 1
                    g = soft if soft is not None else (zs - lse1[:, None]).exp()
                    inside = (targets >= a) & (targets < b)
                    local = (targets - a).clamp(0, b - a - 1)
                    g.scatter_add_(1, local[:, None], -inside.to(g.dtype)[:, None])
                elif made.get("jsd") is not None:
                    g = made.pop("jsd") / temperature
                else:
                    lps = _scaled(zs, temperature) - lse_s[:, None]
                    lpt = _scaled(zt, temperature) - lse_t[:, None]
                    g = _jsd_grad(lps, lpt, beta, aux) / temperature
                g = g.to(w.dtype)
                gh, gw = grads[term]
                if want_h:
                    gh[rows] += (g @ w[a:b]).to(gh.dtype)
                if want_w:
                    gw[a:b] += (g.T @ hs).to(gw.dtype)
    return jsd, ce, pred, lse1


def _fused_function() -> Any:
    import torch

    class FusedLinearLoss(torch.autograd.Function):
        @staticmethod
        def forward(
            ctx: Any,
            hs: Any,
            w: Any,
            ht: Any,
            wt: Any,
            targets: Any,
            beta: float,
            temperature: float,
            token_chunk: int,
            vocab_chunk: int,
            want_h: bool,
            want_w: bool,
            ce_grad: bool,
        ) -> Any:
            n, hidden = hs.shape
            acc = torch.promote_types(hs.dtype, torch.float32)
            grads: dict[str, Any] = {}
            terms = (["ce"] if targets is not None and ce_grad else []) + (["jsd"] if ht is not None else [])
            for term in terms:
                grads[term] = (
                    torch.zeros(n, hidden, device=hs.device, dtype=acc) if want_h else None,
                    torch.zeros(w.shape, device=w.device, dtype=acc) if want_w else None,
                )
            jsd_total = torch.zeros((), device=hs.device, dtype=acc)
            ce_total = torch.zeros((), device=hs.device, dtype=acc)
            token_ce, preds = [], []
            for start in range(0, n, token_chunk):
                rows = slice(start, min(start + token_chunk, n))
                jsd, ce, pred, _ = _chunk(
                    hs[rows],
                    w,
                    ht[rows] if ht is not None else None,
                    wt,
                    targets[rows] if targets is not None else None,
                    beta,
                    temperature,
                    vocab_chunk,
                    (want_h, want_w),
                    grads,
                    rows,
                )
                if jsd is not None:
                    jsd_total = jsd_total + jsd.sum()
                if ce is not None:
                    ce_total = ce_total + ce.sum()
                    token_ce.append(ce)
                preds.append(pred)
            ctx.terms = terms
            ctx.dtypes = (hs.dtype, w.dtype)
            saved = []
            for term in terms:
                saved += [g for g in grads[term] if g is not None]
            ctx.layout = [(term, want_h, want_w) for term in terms]
            ctx.save_for_backward(*saved)
            out_ce = torch.cat(token_ce) if token_ce else torch.zeros(0, device=hs.device, dtype=acc)
            out_pred = torch.cat(preds)
            ctx.mark_non_differentiable(out_ce, out_pred)
            return jsd_total, ce_total, out_ce, out_pred

        @staticmethod
        def backward(ctx: Any, g_jsd: Any, g_ce: Any, _ce: Any, _pred: Any) -> Any:
            saved = list(ctx.saved_tensors)
            gh = gw = None
            for term, want_h, want_w in ctx.layout:
                scale = g_ce if term == "ce" else g_jsd
                if want_h:
                    t = saved.pop(0) * scale
                    gh = t if gh is None else gh + t
                if want_w:
                    t = saved.pop(0) * scale
                    gw = t if gw is None else gw + t
            if gh is not None:
                gh = gh.to(ctx.dtypes[0])
            if gw is not None:
                gw = gw.to(ctx.dtypes[1])
            return gh, gw, None, None, None, None, None, None, None, None, None, None

    return FusedLinearLoss


_FUNCTION: Any = None


def fused_linear_loss(
    hidden: Any,
    weight: Any,
    targets: Any = None,
    teacher_hidden: Any = None,
    teacher_weight: Any = None,
    *,
    beta: float = 0.5,
    temperature: float = 1.0,
    token_chunk: int | None = None,
    vocab_chunk: int | None = None,
    ce_grad: bool = True,
) -> FusedLoss:
    """Cross-entropy and/or JSD of `hidden @ weight.T` over N scored tokens without the [N, V] logits.

    hidden [N, H] and weight [V, H] are the student's; targets [N] the next-token ids (all scored);
    teacher_hidden [N, H'] and teacher_weight [V, H'] the teacher's (no gradient). Chunks default to full
    vocabulary rows and as many tokens as fit `BLOCK_ELEMENTS`. `ce_grad=False`: the cross-entropy is a
    metric only (returned detached, no gradient computed for it).
    """
    import torch

    global _FUNCTION
    n, vocab = int(hidden.shape[0]), int(weight.shape[0])
    if teacher_weight is not None and int(teacher_weight.shape[0]) != vocab:
        raise ValueError(f"teacher vocabulary {int(teacher_weight.shape[0])} != student vocabulary {vocab}")
    if targets is not None and n and (int(targets.min()) < 0 or int(targets.max()) >= vocab):
        raise ValueError("targets must be token ids of the vocabulary (filter ignored positions first)")
    if not 0 <= beta <= 1 or temperature <= 0:
        raise ValueError(f"beta must lie in [0, 1] and temperature be positive (got {beta}, {temperature})")
    if n == 0:
        zero = hidden.sum() * 0.0
        empty = torch.zeros(0, device=hidden.device)
        return FusedLoss(zero, zero, empty, empty.long(), 0)
    vocab_chunk = min(vocab_chunk or vocab, vocab)
    token_chunk = token_chunk or max(1, BLOCK_ELEMENTS // vocab_chunk)
    grad_on = torch.is_grad_enabled()
    want_h = grad_on and hidden.requires_grad
    want_w = grad_on and weight.requires_grad
    if _FUNCTION is None:
        _FUNCTION = _fused_function()
    hidden = hidden.to(weight.dtype)
    wt = ht = None
    if teacher_hidden is not None and teacher_weight is not None:
        wt = teacher_weight.detach()
        ht = teacher_hidden.detach().to(wt.dtype)
    jsd, ce, token_ce, preds = _FUNCTION.apply(
        hidden,
        weight,
        ht,
        wt,
        targets,
        float(beta),
        float(temperature),
        int(token_chunk),
        int(vocab_chunk),
        want_h,
        want_w,
        bool(ce_grad),
    )
    if not ce_grad:
        ce = ce.detach()
    return FusedLoss(jsd, ce, token_ce if targets is not None else None, preds, n)
