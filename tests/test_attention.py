"""attention/: the attention formula, multi-head attention, positions, output layers, windows.

References: torch.nn.functional.scaled_dot_product_attention, torch.nn.MultiheadAttention,
torch.nn.AdaptiveLogSoftmaxWithLoss, and the formulas themselves.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from perplex.attention import (KVCache, MultiHeadAttention, TransformerConfig, TransformerLM, causal_mask, padding_mask,
                       scaled_dot_product_attention, sinusoidal_table)
from perplex.attention.output import AdaptiveSoftmax, FullSoftmax
from perplex.attention.windows import epoch_starts, gather_windows, shifted_inputs, sliding_windows
from perplex.errors import PerplexError


def _qkv(seed=0, B=2, h=3, tq=5, tk=5, d=8):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, h, tq, d, generator=g), torch.randn(B, h, tk, d, generator=g),
            torch.randn(B, h, tk, d, generator=g))


@pytest.mark.parametrize("kind", ["none", "causal", "padding", "causal+padding", "cross"])
def test_attention_equals_pytorch(kind):
    tk = 7 if kind == "cross" else 5
    q, k, v = _qkv(tk=tk)
    mask = None
    if kind in ("causal", "causal+padding"):
        mask = causal_mask(5)
    if kind in ("padding", "causal+padding"):
        pad = padding_mask(torch.tensor([5, 3]), 5)
        mask = pad if mask is None else mask & pad
    if kind == "cross":
        mask = padding_mask(torch.tensor([7, 4]), 7)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    ours, weights = scaled_dot_product_attention(q, k, v, mask, need_weights=True)  # the formula
    fast, none = scaled_dot_product_attention(q, k, v, mask)  # the fused path
    assert none is None
    assert torch.allclose(ours, reference, atol=1e-5)
    assert torch.allclose(fast, reference, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-6)


def test_weights_by_hand():
    # One query, two keys: scores q.k/sqrt(2) = [0, 2/sqrt(2)] -> softmax = [1, e^sqrt2] / (1 + e^sqrt2)
    q = torch.tensor([[[[1.0, 1.0]]]])
    k = torch.tensor([[[[1.0, -1.0], [1.0, 1.0]]]])
    v = torch.tensor([[[[10.0, 0.0], [0.0, 10.0]]]])
    out, w = scaled_dot_product_attention(q, k, v, need_weights=True)
    e = math.exp(math.sqrt(2))
    assert w.flatten().tolist() == pytest.approx([1 / (1 + e), e / (1 + e)], rel=1e-6)
    assert out.flatten().tolist() == pytest.approx([10 / (1 + e), 10 * e / (1 + e)], rel=1e-6)


def test_causal_mask_hides_the_future_and_aligns_with_a_cache():
    q, k, v = _qkv()
    _, w = scaled_dot_product_attention(q, k, v, is_causal=True, need_weights=True)
    assert torch.equal(w.triu(1), torch.zeros_like(w))  # no weight above the diagonal
    assert causal_mask(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]
    # is_causal with fewer queries than keys: the queries are the last positions (bottom-right).
    q2 = q[:, :, 3:]
    out, _ = scaled_dot_product_attention(q2, k, v, is_causal=True)
    full, _ = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(out, full[:, :, 3:], atol=1e-6)


@pytest.mark.parametrize("cross", [False, True])
def test_multi_head_attention_equals_torch_module(cross):
    torch.manual_seed(0)
    d, h = 12, 3
    ours = MultiHeadAttention(d, h).eval()
    ref = torch.nn.MultiheadAttention(d, h, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.in_proj.weight)
        ref.in_proj_bias.copy_(ours.in_proj.bias)
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(2, 5, d)
    memory = torch.randn(2, 6, d) if cross else x
    out, w = ours(x, memory=memory if cross else None, need_weights=True)
    ref_out, ref_w = ref(x, memory, memory, need_weights=True, average_attn_weights=False)
    assert torch.allclose(out, ref_out, atol=1e-5)
    assert torch.allclose(w, ref_w, atol=1e-6)
    if not cross:  # causal: torch takes a float mask with -inf above the diagonal
        out, _ = ours(x, is_causal=True)
        ref_out, _ = ref(x, x, x, attn_mask=~causal_mask(5))
        assert torch.allclose(out, ref_out, atol=1e-5)


def test_heads_must_divide_d_model():
    with pytest.raises(PerplexError, match="--heads 3 does not divide --d-model 16"):
        MultiHeadAttention(16, 3)
    with pytest.raises(PerplexError, match="does not divide"):
        TransformerConfig(d_model=16, n_heads=3)


def test_sinusoidal_encoding_matches_formula():
    d = 6
    pe = sinusoidal_table(50, d)
    for pos in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert pe[0].tolist() == [0.0, 1.0] * 3
    assert sinusoidal_table(3, 5).shape == (3, 5)  # odd width: the last column is a sine


def _tiny_model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=40, context=12, n_layers=2, d_model=16, n_heads=4, cutoffs=(8, 20), dropout=0.0)
    cfg.update(kw)
    return TransformerLM(TransformerConfig(**cfg)).eval()


@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
@pytest.mark.parametrize("output", ["adaptive", "full"])
def test_causal_model_ignores_later_tokens(positional, output):
    model = _tiny_model(positional=positional, output=output)
    idx = torch.randint(0, 40, (1, 12), generator=torch.Generator().manual_seed(1))
    changed = idx.clone()
    t = 5
    changed[0, t + 1:] = (changed[0, t + 1:] + 7) % 40
    with torch.no_grad():
        a, b = model.log_prob(idx), model.log_prob(changed)
    assert torch.allclose(a[0, : t + 1], b[0, : t + 1], atol=1e-6)
    assert not torch.allclose(a[0, t + 1:], b[0, t + 1:], atol=1e-3)  # later positions do change
    assert torch.allclose(a.exp().sum(-1), torch.ones(1, 12), atol=1e-5)  # distributions over |V|


def test_kv_cache_gives_the_same_hidden_states():
    model = _tiny_model()
    idx = torch.randint(0, 40, (2, 10), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full, _ = model.hidden(idx)
        cache = KVCache()
        first, _ = model.hidden(idx[:, :4], cache=cache)  # prompt in one go
        steps = [model.hidden(idx[:, t: t + 1], cache=cache)[0] for t in range(4, 10)]  # then one at a time
    assert cache.length == 10
    assert torch.allclose(torch.cat([first] + steps, dim=1), full, atol=1e-5)


def test_too_long_sequence_is_refused():
    model = _tiny_model()
    with pytest.raises(PerplexError, match="longer than the model's context of 12"):
        model.hidden(torch.zeros(1, 13, dtype=torch.long))


@pytest.mark.parametrize("tie", [True, False])
def test_adaptive_softmax_is_a_distribution_and_gathers_targets(tie):
    torch.manual_seed(0)
    emb = torch.randn(30, 8)
    layer = AdaptiveSoftmax(8, 30, (5, 12), div_value=2.0, tie=tie)
    h = torch.randn(40, 8)
    targets = torch.arange(40) % 30  # every cluster hit
    lp = layer.log_prob(h, emb)
    assert lp.shape == (40, 30)
    assert torch.allclose(lp.exp().sum(1), torch.ones(40), atol=1e-5)
    assert torch.allclose(layer.target_log_prob(h, targets, emb), lp.gather(1, targets[:, None]).squeeze(1), atol=1e-5)
    full = FullSoftmax(8, 30, tie=tie)
    assert torch.allclose(full.log_prob(h, emb).exp().sum(1), torch.ones(40), atol=1e-5)
    assert torch.allclose(full.target_log_prob(h, targets, emb), full.log_prob(h, emb).gather(1, targets[:, None]).squeeze(1), atol=1e-5)


def test_adaptive_softmax_equals_pytorch_when_untied():
    torch.manual_seed(0)
    ours = AdaptiveSoftmax(16, 50, (10, 30), div_value=4.0, tie=False)
    ref = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 50, [10, 30], div_value=4.0, head_bias=True)
    with torch.no_grad():
        ref.head.weight.copy_(torch.cat([ours.head_words, ours.head_clusters]))
        ref.head.bias.copy_(ours.head_bias)
        for mine, theirs in zip(ours.tails, ref.tail):
            theirs[0].weight.copy_(mine[0].weight)
            theirs[1].weight.copy_(mine[1].weight)
    h = torch.randn(64, 16)
    targets = torch.randint(0, 50, (64,))
    assert torch.allclose(ours.log_prob(h, None), ref.log_prob(h), atol=1e-5)
    assert torch.allclose(ours.target_log_prob(h, targets, None), ref(h, targets).output, atol=1e-5)


def test_cutoffs_beyond_the_vocabulary_are_dropped_and_bad_ones_refused():
    layer = AdaptiveSoftmax(8, 10, (5, 2000), tie=False)
    assert layer.bounds == [0, 5, 10] and layer.n_tails == 1
    with pytest.raises(PerplexError, match="--cutoffs"):
        AdaptiveSoftmax(8, 10, (6, 3))


@pytest.mark.parametrize("n, context, stride", [(10, 4, 2), (11, 4, 2), (11, 4, 4), (3, 8, 4), (100, 16, 5), (16, 16, 1)])
def test_sliding_windows_predict_every_token_once(n, context, stride):
    starts, first, length = sliding_windows(n, context, stride)
    assert length == min(n, context)
    scored = np.concatenate([np.arange(s + f, s + length) for s, f in zip(starts, first)])
    assert scored.tolist() == list(range(n))  # each target once, in order
    assert (starts >= 0).all() and (starts + length <= n).all()
    # after the first window every target sees at least context - stride earlier positions
    if n > context:
        assert (first[1:] >= context - stride).all()


def test_sliding_windows_by_hand():
    starts, first, length = sliding_windows(10, 4, 2)
    assert starts.tolist() == [0, 2, 4, 6] and first.tolist() == [0, 2, 2, 2] and length == 4


def test_training_windows_cover_each_token_once_per_epoch():
    n, context = 103, 10
    x = shifted_inputs(np.arange(1, n + 1, dtype=np.int32))
    starts = epoch_starts(n, context, seed=3, epoch=0)
    inputs, targets = gather_windows(x, starts, context)
    assert (inputs[:, 1:] == targets[:, :-1]).all()  # targets are the inputs shifted by one
    covered = np.sort(targets.ravel())
    assert len(np.unique(covered)) == len(covered)  # no target twice
    assert len(covered) > n - 2 * context
    assert np.array_equal(starts, epoch_starts(n, context, seed=3, epoch=0))  # deterministic
    assert not np.array_equal(starts, epoch_starts(n, context, seed=3, epoch=1))
    assert x[0] == 0  # </s> before the first token
