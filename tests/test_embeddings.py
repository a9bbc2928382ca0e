"""Word embeddings: file formats, queries, evaluations, SGNS, GloVe and their language models.

Everything runs on tiny hand-made corpora or random vectors; PTB-scale runs are in
bench/bench_embeddings.py.
"""

import math

import numpy as np
import pytest
import torch

from perplex.corpus import Vocabulary, encode
from perplex.embeddings.config import GloVeConfig, SGNSConfig
from perplex.embeddings.evaluation import (ANALOGY_FILE, SIMLEX_FILE, WS353_FILE, dataset_path, evaluate_analogies,
                                   evaluate_word_pairs)
from perplex.embeddings.glove import GloVe, adagrad_step, cooccurrence, glove_loss_and_grads, weighting
from perplex.embeddings.language_model import BilinearNextWordModel, glove_language_model, sgns_language_model
from perplex.embeddings.queries import analogy, analogy_scores, most_similar, unit_vectors
from perplex.embeddings.sgns import (SGNS, cumulative_table, draw_negatives, fold_overlapping, keep_probabilities,
                             noise_distribution, overlapping, pair_groups, sgns_loss_and_grads)
from perplex.embeddings.vectors import load_vectors, save_vectors, to_keyed_vectors
from perplex.eval import evaluate
from perplex.errors import PerplexError


# --------------------------------------------------------------------------- fixtures
def grid_sentences(rows=6, n=3000, seed=0):
    """A corpus with a planted structure: word w{r}_{s} (row r, column s) always appears
    with its three row markers r{r}a/b/c and its column marker c{s}.  So w{r}_0 and
    w{r}_1 share most of their contexts (each other's nearest neighbour), and the
    vectors are roughly row + column, so w{r2}_1 - w{r2}_0 + w{r}_0 ~ w{r}_1."""
    rng = np.random.default_rng(seed)
    sents = []
    for _ in range(n):
        r, s = int(rng.integers(rows)), int(rng.integers(2))
        markers = [str(t) for t in rng.permutation([f"r{r}a", f"r{r}b", f"r{r}c", f"c{s}"])]
        sents.append(markers[:2] + [f"w{r}_{s}"] + markers[2:])
    return sents


@pytest.fixture(scope="module")
def grid():
    sents = grid_sentences()
    vocab = Vocabulary.build(sents)
    return encode(sents, vocab)


@pytest.fixture(scope="module")
def sgns_grid(grid):
    return SGNS(SGNSConfig(dim=20, window=2, epochs=8, sample=0, workers=1, batch_size=128)).fit(grid)


@pytest.fixture(scope="module")
def pair_grid():
    sents = pair_sentences()
    return encode(sents, Vocabulary.build(sents))


@pytest.fixture(scope="module")
def glove_grid(pair_grid):
    return GloVe(GloVeConfig(dim=20, window=3, epochs=50, workers=1, batch_size=64, x_max=10)).fit(pair_grid)


def pair_sentences(pairs=8, n=3000, pool=30, fillers=6, seed=0):
    """A corpus with planted pairs and graded counts, for GloVe: each sentence holds
    ``pre a{j} b{j} post`` for one pair j among Zipf-distributed filler words.  So a{j}
    and b{j} always co-occur (each other's nearest neighbour), and a{j} ~ pair j + pre,
    b{j} ~ pair j + post, so b{i} - a{i} + a{j} ~ b{j}.

    GloVe fits log X over the non-zeros only.  On the grid above every observed count is
    about the same (the structure lies in which pairs never occur), so the biases alone
    fit X when they learn at glove.c's rate and the vectors keep no structure (the C code
    does the same); here the counts themselves differ, as in real text."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, pool + 1)
    sents = []
    for _ in range(n):
        words = [f"f{i}" for i in rng.choice(pool, size=fillers, p=zipf / zipf.sum())]
        j, at = int(rng.integers(pairs)), int(rng.integers(fillers + 1))
        words[at:at] = ["pre", f"a{j}", f"b{j}", "post"]
        sents.append(words)
    return sents


def planted_pair_checks(kv, pairs=8):
    nearest = [most_similar(kv, f"{x}{j}", topn=1)[0][0] for j in range(pairs) for x in "ab"]
    answers = [analogy(kv, f"b{i}", f"a{i}", f"a{j}", topn=1)[0][0] == f"b{j}"
               for i in range(pairs) for j in range(pairs) if i != j]
    return nearest, answers


def planted_checks(kv, rows=6):
    nearest = [most_similar(kv, f"w{r}_0", topn=1)[0][0] for r in range(rows)]
    answers = [analogy(kv, f"w{r2}_1", f"w{r2}_0", f"w{r}_0", topn=1)[0][0] == f"w{r}_1"
               for r in range(rows) for r2 in range(rows) if r2 != r]
    return nearest, answers


# --------------------------------------------------------------------------- vectors on disk
@pytest.fixture
def small_kv():
    rng = np.random.default_rng(0)
    return to_keyed_vectors(["</s>", "<unk>", "king", "queen", "é"], rng.normal(size=(5, 7)).astype(np.float32))


@pytest.mark.parametrize("name,binary", [("v.bin", True), ("v.txt", False)])
def test_saved_vectors_load_in_gensim_with_identical_values(tmp_path, small_kv, name, binary):
    from gensim.models import KeyedVectors

    path = tmp_path / name
    save_vectors(small_kv, path)
    theirs = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert theirs.index_to_key == small_kv.index_to_key
    assert np.array_equal(theirs.vectors, small_kv.vectors)  # bit-identical, text format included
    assert np.array_equal(load_vectors(path).vectors, small_kv.vectors)


@pytest.mark.parametrize("binary", [True, False])
def test_gensim_written_vectors_load_here(tmp_path, small_kv, binary):
    path = tmp_path / "g.vec"
    small_kv.save_word2vec_format(str(path), binary=binary)
    ours = load_vectors(path)
    assert ours.index_to_key == small_kv.index_to_key and np.array_equal(ours.vectors, small_kv.vectors)


def test_glove_headerless_text_loads(tmp_path):
    path = tmp_path / "glove.6B.3d.txt"
    path.write_text("the 0.1 0.2 0.3\nof -1 0 2.5\n")
    kv = load_vectors(path)
    assert kv.index_to_key == ["the", "of"]
    assert np.allclose(kv.vectors, [[0.1, 0.2, 0.3], [-1, 0, 2.5]])


def test_bad_vector_files_are_one_line_errors(tmp_path, small_kv):
    good = tmp_path / "v.bin"
    save_vectors(small_kv, good)
    truncated = tmp_path / "t.bin"
    truncated.write_bytes(good.read_bytes()[:-40])
    text_truncated = tmp_path / "t.txt"
    save_vectors(small_kv, text_truncated)
    text_truncated.write_text("\n".join(text_truncated.read_text().splitlines()[:3]) + "\n")
    unknown = tmp_path / "notes.txt"
    unknown.write_text("this is just a sentence\nand another\n")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    for path, fragment in [(truncated, "truncated"), (text_truncated, "truncated"), (unknown, "not a vectors file"),
                           (empty, "empty"), (tmp_path / "missing.bin", "not found")]:
        with pytest.raises(PerplexError, match=fragment) as exc:
            load_vectors(path)
        assert "\n" not in str(exc.value) and str(path) in str(exc.value)


# --------------------------------------------------------------------------- queries
def test_most_similar_by_hand():
    kv = to_keyed_vectors(["x", "y", "z", "w"], np.array([[1, 0], [3, 1], [0, 2], [-1, 0]], np.float32))
    out = most_similar(kv, "x", topn=3)
    assert [w for w, _ in out] == ["y", "z", "w"]
    assert out[0][1] == pytest.approx(3 / math.sqrt(10))  # cos((1,0),(3,1))
    assert out[2][1] == pytest.approx(-1.0)


def test_analogy_3cosadd_and_3cosmul_on_exact_vectors():
    # king = royal + male, queen = royal + female, ...: king - man + woman = queen exactly.
    royal, male, female, other = np.eye(4, dtype=np.float32)
    words = ["king", "queen", "man", "woman", "apple"]
    vecs = np.stack([royal + male, royal + female, male, female, other + 0.1 * royal])
    kv = to_keyed_vectors(words, vecs)
    assert analogy(kv, "king", "man", "woman")[0][0] == "queen"
    assert analogy(kv, "king", "man", "woman", method="3cosmul")[0][0] == "queen"
    # the query words are never answers, even when closest
    assert {w for w, _ in analogy(kv, "king", "man", "woman", topn=2)} == {"queen", "apple"}
    # 3CosMul score by hand for d = queen (a = man, b = king, c = woman):
    unit = unit_vectors(kv)
    cos = lambda i, j: float(unit[i] @ unit[j])  # noqa: E731
    q = 1
    expected = ((cos(q, 0) + 1) / 2) * ((cos(q, 3) + 1) / 2) / ((cos(q, 2) + 1) / 2 + 1e-3)
    scores = analogy_scores(unit, np.array([2]), np.array([0]), np.array([3]), "3cosmul")
    assert scores[0, q] == pytest.approx(expected, rel=1e-6)
    assert np.isneginf(scores[0, [0, 2, 3]]).all()


def test_out_of_vocabulary_query_names_the_word(small_kv):
    with pytest.raises(PerplexError, match="'zebra' is not in the vocabulary"):
        most_similar(small_kv, "zebra")
    with pytest.raises(PerplexError, match="'prince'"):
        analogy(small_kv, "king", "prince", "queen")


# --------------------------------------------------------------------------- evaluations vs gensim
@pytest.fixture(scope="module")
def eval_kv():
    """Random vectors for every word of the three evaluation files, with the
    capital-common-countries section planted (capital = country + offset), so the
    analogy accuracy is far from 0; a few words left out to make questions uncovered."""
    words = []
    for name in (ANALOGY_FILE, WS353_FILE, SIMLEX_FILE):
        for line in open(dataset_path(name), encoding="utf-8"):
            if line.startswith((":", "#")):
                continue
            words += line.lower().replace("\t", " ").split()[: 4 if name == ANALOGY_FILE else 2]
    words = sorted(set(words) - {"athens", "tiger", "smart", "paris"})
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(len(words), 30)).astype(np.float32)
    index = {w: i for i, w in enumerate(words)}
    offset = rng.normal(size=30).astype(np.float32) * 2
    section = open(dataset_path(ANALOGY_FILE)).read().split(": ")[1].splitlines()[1:]
    for line in section:
        capital, country = line.lower().split()[:2]
        if capital in index and country in index:
            vecs[index[capital]] = vecs[index[country]] + offset
    return to_keyed_vectors(words, vecs)


def test_analogy_evaluation_matches_gensim(eval_kv):
    score, sections = eval_kv.evaluate_word_analogies(dataset_path(ANALOGY_FILE))
    ours = evaluate_analogies(eval_kv)
    assert ours.accuracy == pytest.approx(score)
    assert ours.accuracy > 0.02  # the planted section is answered
    assert ours.total == 19544
    for mine, theirs in zip(ours.sections, sections):
        assert mine.name == theirs["section"]
        assert mine.correct == len(theirs["correct"])
        assert mine.covered == len(theirs["correct"]) + len(theirs["incorrect"])
    assert ours.covered == len(sections[-1]["correct"]) + len(sections[-1]["incorrect"]) < ours.total


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")  # inside gensim
def test_3cosmul_matches_gensim_most_similar_cosmul(eval_kv):
    # gensim 4.4's evaluate_word_analogies always uses 3CosAdd, so compare question by
    # question with most_similar_cosmul (whose epsilon is 1e-6).
    rng = np.random.default_rng(0)
    index = eval_kv.key_to_index
    questions = [line.lower().split() for line in open(dataset_path(ANALOGY_FILE)) if not line.startswith(":")]
    questions = [q for q in questions if all(w in index for w in q)]
    picked = [questions[i] for i in rng.choice(len(questions), 150, replace=False)]
    a, b, c = (np.array([index[q[k]] for q in picked]) for k in range(3))
    ours = analogy_scores(unit_vectors(eval_kv), a, b, c, "3cosmul", epsilon=1e-6).argmax(1)
    theirs = [eval_kv.most_similar_cosmul(positive=[q[1], q[2]], negative=[q[0]], topn=1)[0][0] for q in picked]
    assert [eval_kv.index_to_key[i] for i in ours] == theirs


@pytest.mark.parametrize("name", [WS353_FILE, SIMLEX_FILE])
def test_word_pair_evaluation_matches_gensim(eval_kv, name):
    pearson, spearman, oov_percent = eval_kv.evaluate_word_pairs(dataset_path(name))
    ours = evaluate_word_pairs(eval_kv, dataset_path(name))
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-9)
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert 100 * ours.oov_share == pytest.approx(oov_percent)
    assert ours.oov_pairs > 0


# --------------------------------------------------------------------------- SGNS
def test_keep_probability_formula():
    counts = np.array([600, 300, 100, 0])  # total 1000
    t = 0.01
    p = keep_probabilities(counts, t)
    # z = 0.6: (sqrt(0.6/0.01) + 1) * 0.01/0.6 = (7.7460 + 1) / 60 = 0.145766
    assert p[0] == pytest.approx((math.sqrt(60) + 1) / 60)
    assert p[1] == pytest.approx((math.sqrt(30) + 1) / 30)
    assert p[2] == pytest.approx(min(1.0, (math.sqrt(10) + 1) / 10))  # 0.416
    assert p[3] == 1.0
    assert keep_probabilities(counts, 0).tolist() == [1, 1, 1, 1]
    # a word with z below t is always kept: z = 1e-4, t = 1e-3 -> (sqrt(0.1) + 1) * 10 > 1
    assert keep_probabilities(np.array([1, 9999]), 1e-3)[0] == 1.0


def test_noise_distribution_formula_and_sampler():
    counts = np.array([81, 16, 1, 0])
    pn = noise_distribution(counts, 0.75)
    # 81^0.75 = 27, 16^0.75 = 8, 1^0.75 = 1 -> 27/36, 8/36, 1/36, 0
    assert pn.tolist() == pytest.approx([27 / 36, 8 / 36, 1 / 36, 0.0])
    draws = draw_negatives(cumulative_table(pn), (200_000,), torch.Generator().manual_seed(0))
    freq = np.bincount(draws.numpy(), minlength=4) / 200_000
    assert freq[3] == 0  # never a word of probability 0
    assert freq == pytest.approx(pn, abs=0.005)


def test_subsampling_keeps_words_at_their_probability(grid):
    # the empirical keep rate of the trainer's rule (uniform < p) matches the formula
    counts = np.bincount(grid.ids, minlength=len(grid.vocab))
    p = torch.as_tensor(keep_probabilities(counts, 1e-2), dtype=torch.float32)
    ids = torch.as_tensor(grid.ids, dtype=torch.int64)
    g = torch.Generator().manual_seed(0)
    kept = np.zeros(len(counts))
    for _ in range(20):
        keep = torch.rand(len(ids), generator=g) < p[ids]
        kept += np.bincount(ids[keep].numpy(), minlength=len(counts))
    rate = kept / (20 * np.maximum(counts, 1))
    assert rate[counts > 0] == pytest.approx(p.numpy()[counts > 0], abs=0.02)


def pair_set(pairs, first: int, group: int, window: int) -> set[tuple[int, int]]:
    """The (centre position, context position) pairs of a pair_groups() mask."""
    g, r, i = pairs.nonzero(as_tuple=True)
    centre = first + g * group + i
    return set(zip(centre.tolist(), (centre + r - window - i).tolist()))


def one_sentence(n):
    return torch.zeros(n, dtype=torch.int64), torch.zeros(n, dtype=torch.int64)


def test_dynamic_window_is_uniform_up_to_window():
    W, B = 4, 50_000
    stream = torch.arange(B + 2 * W) % 97
    spans = torch.randint(1, W + 1, (len(stream),), generator=torch.Generator().manual_seed(0))
    ids, pairs, counts, centres = pair_groups(stream, W, W + B, W, spans, 1, *one_sentence(len(stream)))
    assert torch.equal(ids, stream) and pairs.shape == (B, 2 * W + 1, 1)
    assert torch.equal(centres[:, 0], stream[W : W + B])
    mask = pairs[:, :, 0].bool()
    assert not mask[:, W].any()  # the centre is not its own context
    # each centre uses exactly the offsets 1..b on both sides, b uniform on 1..W
    b = mask[:, W + 1 :].sum(1)
    assert torch.equal(b, spans[W : W + B]) and torch.equal(mask[:, :W].sum(1), b)
    assert torch.equal(mask[:, W + 1 :], torch.arange(1, W + 1) <= b[:, None])
    assert torch.equal(counts, pairs.sum(2))
    assert np.bincount(b.numpy(), minlength=W + 1)[1:] / B == pytest.approx([1 / W] * W, abs=0.01)
    # positions outside the stream are masked
    full = torch.full((len(stream),), W)
    _, pairs, _, _ = pair_groups(stream, 0, len(stream), W, full, 1, *one_sentence(len(stream)))
    assert not pairs[0, :W].any() and not pairs[-1, W + 1 :].any()


@pytest.mark.parametrize("group", [2, 3, 4, 8])
def test_groups_keep_the_same_pairs(group):
    # sharing noise words among `group` centres changes the layout, never the pairs
    W, n = 3, 103
    stream = torch.arange(n)
    spans = torch.randint(1, W + 1, (n,), generator=torch.Generator().manual_seed(1))
    lo = torch.arange(n) // 10  # sentences of 10 tokens, the last one a </s> opening the next
    hi = lo + (torch.arange(n) % 10 == 9)
    reference = set()
    for first in range(0, n, 24):  # batches as the trainer cuts them (a multiple of group)
        last = min(first + 24, n)
        one = pair_set(pair_groups(stream, first, last, W, spans, 1, lo, hi)[1], first, 1, W)
        reference |= one
        ids, pairs, counts, centres = pair_groups(stream, first, last, W, spans, group, lo, hi)
        assert pair_set(pairs, first, group, W) == one
        assert torch.equal(counts, pairs.sum(2)) and centres.shape == (-(-(last - first) // group), group)
        assert torch.equal(centres.flatten()[: last - first], stream[first:last])
    assert len(reference) == sum(2 * min(int(spans[p]), W) for p in range(n)) - sum(  # all pairs, minus
        1 for p in range(n) for o in range(-int(spans[p]), int(spans[p]) + 1)  # those cut by the ends
        if o and not (0 <= p + o < n and max(lo[p], lo[p + o]) <= min(hi[p], hi[p + o])))


def test_windows_stop_at_sentence_ends():
    # a b </s> c d e </s>: </s> pairs with the words of both sentences, a and c never meet
    stream = torch.tensor([10, 11, 0, 12, 13, 14, 0])
    lo = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    hi = torch.tensor([0, 0, 1, 1, 1, 1, 2])
    _, pairs, _, _ = pair_groups(stream, 0, 7, 5, torch.full((7,), 5), 4, lo, hi)
    found = pair_set(pairs, 0, 4, 5)
    assert {(0, 1), (0, 2), (1, 2), (2, 3), (2, 5), (2, 6), (3, 6), (5, 6)} <= found
    assert not {(0, 3), (1, 3), (3, 0), (3, 1), (6, 1)} & found
    assert found == {(q, p) for p, q in found}  # symmetric when every window is full


def test_overlapping_views_and_fold_are_adjoint():
    # overlapping() gathers overlapping rows; fold_overlapping() must send each gradient
    # back to the row it came from: <view(x), g> == <x, fold(g)> for all x, g.
    g = torch.Generator().manual_seed(0)
    for groups, size, stride in [(5, 5, 1), (4, 7, 3), (3, 4, 4), (2, 3, 5)]:
        x = torch.randn(stride * (groups - 1) + size, 3, generator=g, dtype=torch.float64)
        grads = torch.randn(groups, size, 3, generator=g, dtype=torch.float64)
        view = overlapping(x, groups, size, stride)
        assert torch.equal(view[groups - 1, size - 1], x[-1]) and torch.equal(view[1, 0], x[stride])
        assert torch.allclose((view * grads).sum(), (x * fold_overlapping(grads, stride)).sum())


def test_sgns_gradients_match_autograd():
    g = torch.Generator().manual_seed(0)
    G, R, c, K, d = 3, 5, 2, 3, 4
    ctx = torch.randn(G, R, d, generator=g, dtype=torch.float64, requires_grad=True)
    tgt = torch.randn(G, c + K, d, generator=g, dtype=torch.float64, requires_grad=True)
    pairs = (torch.rand(G, R, c, generator=g) < 0.5).double()
    pairs[1] = 0  # a group without pairs
    loss, g_ctx, g_tgt, _ = sgns_loss_and_grads(ctx.detach(), tgt.detach(), pairs, pairs.sum(2), scale=0.5)
    # the loss written directly from its definition: every pair (row r, centre i) has
    # -log sigma(v_r . u_i) - sum_k log sigma(-v_r . u_k)
    ref = 0
    for gi, r, i in pairs.nonzero().tolist():
        v = ctx[gi, r]
        ref = ref - torch.nn.functional.logsigmoid(v @ tgt[gi, i])
        ref = ref - torch.nn.functional.logsigmoid(-(tgt[gi, c:] @ v)).sum()
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    assert torch.allclose(g_ctx, 0.5 * ctx.grad) and torch.allclose(g_tgt, 0.5 * tgt.grad)
    assert (g_ctx[1] == 0).all() and (g_tgt[1] == 0).all()  # no pairs, no gradient
    assert sgns_loss_and_grads(ctx.detach(), tgt.detach(), pairs, pairs.sum(2), with_loss=False)[0] is None
    # each row's curvature bound: the sum over its terms of sigma(s) (1 - sigma(s)) |x|^2, x the vector it meets
    c_, t_ = ctx.detach(), tgt.detach()
    h_ctx, h_tgt = sgns_loss_and_grads(c_, t_, pairs, pairs.sum(2), norms=((c_ * c_).sum(2), (t_ * t_).sum(2)))[3]
    ref_ctx, ref_tgt = torch.zeros(G, R, dtype=torch.float64), torch.zeros(G, c + K, dtype=torch.float64)
    for gi, r, i in pairs.nonzero().tolist():
        for t in [i] + list(range(c, c + K)):
            p = torch.sigmoid(c_[gi, r] @ t_[gi, t])
            ref_ctx[gi, r] += p * (1 - p) * (t_[gi, t] @ t_[gi, t])
            ref_tgt[gi, t] += p * (1 - p) * (c_[gi, r] @ c_[gi, r])
    assert torch.allclose(h_ctx, ref_ctx) and torch.allclose(h_tgt, ref_tgt)


def test_sgns_recovers_planted_structure(sgns_grid):
    nearest, answers = planted_checks(sgns_grid.keyed_vectors())
    assert nearest == [f"w{r}_1" for r in range(6)]
    assert np.mean(answers) >= 0.9
    assert sgns_grid.losses_[-1] < sgns_grid.losses_[0]


def test_sgns_is_reproducible_with_one_worker(grid):
    cfg = SGNSConfig(dim=8, window=2, epochs=1, workers=1, batch_size=256, seed=3)
    a, b = SGNS(cfg).fit(grid), SGNS(cfg).fit(grid)
    assert np.array_equal(a.input_vectors_, b.input_vectors_)
    c = SGNS(SGNSConfig(dim=8, window=2, epochs=1, workers=1, batch_size=256, seed=4)).fit(grid)
    assert not np.array_equal(a.input_vectors_, c.input_vectors_)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sgns_two_workers_train(grid, seed):
    # the default batch on a 34-word vocabulary: without the batch cap the summed Hogwild
    # updates diverged here (losses of 1e8 and more that still "decreased")
    model = SGNS(SGNSConfig(dim=8, window=2, epochs=2, workers=2, sample=0, seed=seed)).fit(grid)
    assert np.isfinite(model.input_vectors_).all() and model.losses_[1] < model.losses_[0]
    assert model.losses_[-1] < 0.6 * 6 * math.log(2)  # well below the starting loss (1 + K) ln 2 per pair


def test_corpus_smaller_than_window_is_refused():
    sents = [["a", "b"]]
    enc = encode(sents, Vocabulary.build(sents))
    for trainer in (SGNS(SGNSConfig(window=5)), GloVe(GloVeConfig(window=5))):
        with pytest.raises(PerplexError, match="fewer than --window 5"):
            trainer.fit(enc)


def test_config_validation():
    with pytest.raises(PerplexError, match="--dim must be positive"):
        SGNSConfig(dim=0)
    with pytest.raises(PerplexError, match="--sample"):
        SGNSConfig(sample=-1)
    with pytest.raises(PerplexError, match="--x-max"):
        GloVeConfig(x_max=0)
    with pytest.raises(PerplexError, match="adagrad must be"):
        GloVeConfig(adagrad="rowwise")


# --------------------------------------------------------------------------- GloVe
def test_cooccurrence_by_hand():
    # stream a b c a </s> b  (ids 2 3 4 2 0 3), window 3, 1/distance weights
    ids = np.array([2, 3, 4, 2, 0, 3])
    X = cooccurrence(ids, 5, 3).toarray()
    # pairs within distance 3 (p<q): (a,b)1 (a,c)1/2 (a,a)1/3 (b,c)1 (b,a)1/2 (b,</s>)1/3
    # (c,a)1 (c,</s>)1/2 (c,b)1/3 (a,</s>)1 (a,b)1/2 (</s>,b)1
    expected = np.zeros((5, 5))
    for i, j, w in [(2, 3, 1), (2, 4, 1 / 2), (2, 2, 1 / 3), (3, 4, 1), (3, 2, 1 / 2), (3, 0, 1 / 3),
                    (4, 2, 1), (4, 0, 1 / 2), (4, 3, 1 / 3), (2, 0, 1), (2, 3, 1 / 2), (0, 3, 1)]:
        expected[i, j] += w
        expected[j, i] += w
    assert np.allclose(X, expected)
    # windows stop at </s> (id 0): the pairs across it, (c,b) at 3 and (a,b) at 2, are gone;
    # </s> itself still pairs with both sides.
    expected[4, 3] -= 1 / 3
    expected[3, 4] -= 1 / 3
    expected[2, 3] -= 1 / 2
    expected[3, 2] -= 1 / 2
    assert np.allclose(cooccurrence(ids, 5, 3, boundary=0).toarray(), expected)
    # without the separator's own pairs: what cooccur.c counts on "a b c a" and "b" as two lines
    expected[0, :] = expected[:, 0] = 0
    assert np.allclose(cooccurrence(ids, 5, 3, boundary=0, boundary_pairs=False).toarray(), expected)


def test_glove_weighting_function():
    x = np.array([1.0, 50.0, 100.0, 1e6])
    assert weighting(x, 100, 0.75).tolist() == pytest.approx([0.01**0.75, 0.5**0.75, 1.0, 1.0])


def test_glove_gradients_match_autograd():
    g = torch.Generator().manual_seed(0)
    w, wt = (torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    b, bt = (torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    x = torch.tensor([1.0, 2.5, 0.5, 300.0, 7.0, 100.0], dtype=torch.float64)
    fx = weighting(x, 100.0, 0.75)
    loss, gvec = glove_loss_and_grads(w.detach(), wt.detach(), b.detach(), bt.detach(), x.log(), fx)
    ref = (fx * ((w * wt).sum(1) + b + bt - x.log()) ** 2).sum()
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    assert torch.allclose(2 * gvec[:, None] * wt.detach(), w.grad)
    assert torch.allclose(2 * gvec[:, None] * w.detach(), wt.grad)
    assert torch.allclose(2 * gvec, b.grad) and torch.allclose(2 * gvec, bt.grad)


def adagrad_step_by_loops(table, gradsq, rows, cols, logx, fx, eta, bias_eta, grad_clip, rowwise, one_sided):
    """The update of adagrad_step written out one non-zero and one coordinate at a time (float64)."""
    table, gradsq = table.copy(), gradsq.copy()
    d = table.shape[1] - 1
    moves = []  # (row, gradient of [vector | bias] scaled by its learning rate)
    loss = 0.0
    for k, (i, j) in enumerate(zip(rows, cols)):
        err = table[i, :d] @ table[j, :d] + table[i, d] + table[j, d] - logx[k]
        loss += fx[k] * err * err
        g = -min(max(fx[k] * err, -grad_clip), grad_clip)
        for side, (me, partner) in enumerate([(i, j), (j, i)]):
            factor = 0.0 if partner == one_sided or partner == one_sided + len(table) // 2 else 1.0
            moves.append((me, np.append(eta * factor * g * table[partner, :d], bias_eta * factor * g)))
    for r, grad in moves:  # every squared gradient is added before any step
        if rowwise:
            gradsq[r] += [np.mean(grad[:d] ** 2), grad[d] ** 2]
        else:
            gradsq[r] += grad ** 2
    for r, grad in moves:
        scale = np.append(np.full(d, gradsq[r, 0]), gradsq[r, 1]) if rowwise else gradsq[r]
        table[r] += grad / np.sqrt(scale)
    return table, gradsq, loss


@pytest.mark.parametrize("rowwise", [True, False])
def test_adagrad_step_matches_the_update_written_out(rowwise):
    # V = 3 (rows 0-2 hold w and b, 3-5 hold w~ and b~), d = 2; word 0 appears twice as a row
    # and twice as a column, one error is large enough to be clipped, and word 0 is one-sided
    # (</s>): the other side of its pairs does not learn
    rng = np.random.default_rng(0)
    table = rng.normal(size=(6, 3))
    gradsq = rng.uniform(1, 2, size=(6, 2 if rowwise else 3))
    rows, cols = np.array([0, 0, 1, 2]), np.array([4, 3, 3, 5])
    logx, fx = np.log([2.0, 0.5, 40.0, 1e-4]), np.array([0.3, 1.0, 0.8, 0.5])
    hyper = dict(eta=0.05, bias_eta=1.0, grad_clip=1.0, rowwise=rowwise, one_sided=0)
    expected_table, expected_gradsq, expected_loss = adagrad_step_by_loops(table, gradsq, rows, cols, logx, fx,
                                                                           **hyper)
    t, gs = torch.tensor(table), torch.tensor(gradsq)
    loss = adagrad_step(t, gs, torch.tensor(rows), torch.tensor(cols), torch.tensor(logx), torch.tensor(fx), **hyper)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-12)
    assert np.allclose(t.numpy(), expected_table, rtol=1e-12, atol=0)
    assert np.allclose(gs.numpy(), expected_gradsq, rtol=1e-12, atol=0)
    assert not np.allclose(expected_table, table)  # the step moved something
    assert np.array_equal(expected_table[4], table[4])  # w~ of word 1: its only partner is word 0
    assert not np.array_equal(expected_table[3], table[3])  # word 0's own w~ learns


def glove_batch(seed=0, vocab=50, d=8, n=64):
    g = torch.Generator().manual_seed(seed)
    table = (torch.rand(2 * vocab, d + 1, generator=g) - 0.5) / d
    rows = torch.randint(0, vocab, (n,), generator=g)
    cols = torch.randint(vocab, 2 * vocab, (n,), generator=g)
    logx, fx = torch.rand(n, generator=g) * 3, torch.rand(n, generator=g)
    return table, torch.ones(2 * vocab, 2), rows, cols, logx, fx


def test_a_batch_of_zero_weights_moves_nothing():
    # what compiling relies on: its first call (f = 0) must leave the parameters as they were
    table, gradsq, rows, cols, logx, fx = glove_batch()
    before, gradsq_before = table.clone(), gradsq.clone()
    adagrad_step(table, gradsq, rows, cols, logx, torch.zeros_like(fx), eta=0.05, bias_eta=1.0,
                 grad_clip=100.0, rowwise=True, one_sided=3)
    assert torch.equal(table, before) and torch.equal(gradsq, gradsq_before)


def test_compiled_update_equals_the_plain_one():
    import shutil

    from perplex.embeddings.training import compiled

    if not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("torch.compile needs a C++ compiler")
    hyper = dict(eta=0.05, bias_eta=1.0, grad_clip=100.0, rowwise=True, one_sided=3)
    table, gradsq, rows, cols, logx, fx = glove_batch()
    before = table.clone()
    fast = compiled(adagrad_step, (table, gradsq, rows, cols, logx, torch.zeros_like(fx)), hyper, "a test")
    assert fast is not adagrad_step  # it did compile
    assert torch.equal(table, before)  # the compiling call moved nothing
    plain_table, plain_gradsq = table.clone(), gradsq.clone()
    for k in range(3):  # new batches of the same shape run the compiled code
        _, _, rows, cols, logx, fx = glove_batch(seed=k + 1)
        fast_loss = fast(table, gradsq, rows, cols, logx, fx, **hyper)
        plain_loss = adagrad_step(plain_table, plain_gradsq, rows, cols, logx, fx, **hyper)
        assert fast_loss.item() == pytest.approx(plain_loss.item(), rel=1e-5)
    assert torch.allclose(table, plain_table, rtol=1e-5, atol=1e-7) and not torch.equal(table, before)
    assert torch.allclose(gradsq, plain_gradsq, rtol=1e-5)


def test_compiling_falls_back_to_plain_torch_with_a_warning(monkeypatch):
    from perplex.embeddings.training import compiled

    def broken_compile(fn, **options):
        def fail(*args, **kwargs):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\n(long details)")
        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    table, gradsq, rows, cols, logx, fx = glove_batch()
    with pytest.warns(UserWarning, match=r"could not build the GloVe update \(RuntimeError: InvalidCxxCompiler"):
        update = compiled(adagrad_step, (table, gradsq, rows, cols, logx, torch.zeros_like(fx)),
                          dict(eta=0.05, bias_eta=1.0, grad_clip=100.0, rowwise=True), "the GloVe update")
    assert update is adagrad_step


def test_glove_recovers_planted_structure(glove_grid):
    nearest, answers = planted_pair_checks(glove_grid.keyed_vectors())
    assert nearest == [f"{x}{j}" for j in range(8) for x in "ba"]
    assert np.mean(answers) >= 0.9
    assert glove_grid.losses_[-1] < glove_grid.losses_[0] / 5
    assert np.allclose(glove_grid.vectors_, glove_grid.W_ + glove_grid.W_tilde_)


@pytest.mark.parametrize("adagrad,workers", [("element", 1), ("row", 2), ("element", 2)])
def test_glove_variants_recover_planted_structure(pair_grid, adagrad, workers):
    # glove.c's AdaGrad (one sum per coordinate) learns the same structure as the row-wise
    # default, and so do two Hogwild workers (whose updates must reach the shared table)
    model = GloVe(GloVeConfig(dim=20, window=3, epochs=50, workers=workers, batch_size=64, x_max=10,
                              adagrad=adagrad)).fit(pair_grid)
    nearest, answers = planted_pair_checks(model.keyed_vectors())
    assert nearest == [f"{x}{j}" for j in range(8) for x in "ba"]
    assert np.mean(answers) >= 0.9


def test_glove_never_goes_nan(grid):
    # a huge learning rate and a weighting that trusts huge counts: GloVe's classic NaN recipe
    model = GloVe(GloVeConfig(dim=10, window=5, epochs=3, eta=50.0, x_max=1e-3, alpha=3.0, workers=1)).fit(grid)
    assert all(math.isfinite(v) for v in model.losses_)
    assert np.isfinite(model.vectors_).all() and np.isfinite(model.b_).all()


# --------------------------------------------------------------------------- language models
@pytest.mark.parametrize("make,trained,data", [(sgns_language_model, "sgns_grid", "grid"),
                                               (glove_language_model, "glove_grid", "pair_grid")])
def test_embedding_language_models_are_distributions(request, make, trained, data):
    lm = make(request.getfixturevalue(trained), temperature=0.7)
    grid = request.getfixturevalue(data)
    test = grid.subset(slice(0, 40))
    rows = np.concatenate(list(lm.next_distributions(test, batch_size=64)))
    assert rows.shape == (test.n_tokens, len(grid.vocab))
    assert np.allclose(rows.sum(1), 1.0, atol=1e-12) and (rows > 0).all()
    # log10_probs picks exactly the target's entry of each distribution
    assert np.allclose(lm.log10_probs(test), np.log10(rows[np.arange(test.n_tokens), test.ids]))
    r = evaluate(lm, test)
    assert r.tokens == test.n_tokens and r.zero_prob_tokens == 0
    assert r.perplexity < len(grid.vocab)  # better than uniform: the planted structure is predictive


def test_language_model_formula_by_hand():
    # V = 3: P(w | c) ~ exp((C[c].O[w] + b[w]) / T + a[w])
    vocab = Vocabulary(["</s>", "<unk>", "x"], [1, 1, 1])
    C = np.array([[1.0, 0], [0, 1], [1, 1]])
    O = np.array([[0.5, 0], [0, 2], [1, -1]])
    b, a = np.array([0.1, 0, -0.2]), np.array([0, -1.0, 0.3])
    lm = BilinearNextWordModel("hand", vocab, C, O, output_bias=b, prior=a, temperature=2.0)
    corpus = encode([["x", "zz"]], vocab)  # tokens x <unk> </s>; contexts </s> x <unk>
    expected = []
    for c, w in [(0, 2), (2, 1), (1, 0)]:
        logits = (C[c] @ O.T + b) / 2.0 + a
        expected.append(logits[w] - np.log(np.exp(logits).sum()))
    assert np.allclose(lm.log10_probs(corpus), np.array(expected) / np.log(10))


def test_temperature_fit_finds_the_minimum(sgns_grid, grid):
    from scipy.optimize import minimize_scalar

    lm = sgns_language_model(sgns_grid)
    valid = grid.subset(slice(0, 300))
    T = lm.fit_temperature(valid)

    def nll(t):
        lm.temperature = t
        return -lm.log10_probs(valid).sum()

    best = minimize_scalar(nll, bounds=(0.05, 20), method="bounded", options={"xatol": 1e-6}).x
    assert T == pytest.approx(best, rel=1e-3)
    assert nll(T) <= nll(1.0)


def test_module_examples_run():
    import doctest

    from perplex import embeddings
    from perplex.embeddings import glove, queries, sgns, vectors

    for module in (embeddings, glove, queries, sgns, vectors):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0, module.__name__


def test_saved_vectors_get_the_usual_file_permissions(tmp_path, small_kv):
    import os

    path = tmp_path / "v.bin"
    save_vectors(small_kv, path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_glove_one_sided_eos_pairs_leave_the_words_alone():
    # "x" only ever stands alone in a sentence, so all its non-zeros are pairs with </s>:
    # one-sided, x never moves from its initial values while </s> learns; with "both" x learns too
    sents = [["a", "b", "c"], ["b", "c", "d"], ["x"], ["a", "c"]] * 30
    corpus = encode(sents, Vocabulary.build(sents))
    x, eos = corpus.vocab.id("x"), corpus.vocab.eos_id

    def fit(eos_pairs, epochs):
        return GloVe(GloVeConfig(dim=8, window=2, epochs=epochs, workers=1, batch_size=32,
                                 eos_pairs=eos_pairs)).fit(corpus)

    for mode, x_learns in (("one-sided", False), ("both", True)):
        short, long = fit(mode, 1), fit(mode, 4)  # same seed: same initial values
        assert not np.allclose(short.W_[eos], long.W_[eos])  # </s> learns in both modes
        assert np.allclose(short.W_[x], long.W_[x]) != x_learns
        assert np.allclose(short.W_tilde_[x], long.W_tilde_[x]) != x_learns
        assert np.allclose(short.b_[x], long.b_[x]) != x_learns
    assert fit("none", 1).cooccurrence_[x].nnz == 0  # glove.c's X has no </s> pairs
    with pytest.raises(PerplexError, match="eos_pairs"):
        GloVeConfig(eos_pairs="yes")


# --------------------------------------------------------------------------- rare words (--min-count)
def rare_word_sentences():
    """Hand-made: "the" is frequent, "cat"/"dog" pass a min-count of 3, the rest are rare
    (one sentence is rare words only)."""
    return [["the", "cat", "zyx", "sat", "the", "dog"], ["qua", "qua"], ["the", "cat", "the", "dog", "sat"],
            ["a", "the", "cat", "blip", "sat", "dog"], ["the", "oddity"]]


def test_rare_words_leave_the_stream_as_in_gensim():
    """Words below --min-count are deleted before windowing, as gensim deletes them: the same
    vocabulary and, sentence by sentence, the same tokens (each of ours ends with </s>)."""
    from gensim.models import Word2Vec

    from perplex.embeddings.training import training_stream

    sents = rare_word_sentences()
    vocab = Vocabulary.build(sents, min_count=3)
    corpus = encode(sents, vocab)
    stream, dropped = training_stream(corpus)
    gensim = Word2Vec(min_count=3, vector_size=4)
    gensim.build_vocab(sents)
    assert set(vocab.tokens[2:]) == set(gensim.wv.key_to_index) == {"the", "cat", "sat", "dog"}
    ours = [[vocab.tokens[i] for i in stream.sentence(k)] for k in range(stream.n_sentences)]
    theirs = [[w for w in s if w in gensim.wv.key_to_index] for s in sents]
    assert ours == [s + ["</s>"] for s in theirs]
    assert ours[1] == ["</s>"]  # a sentence of rare words keeps only its end
    assert dropped == pytest.approx(6 / corpus.n_tokens)  # zyx, qua, qua, a, blip, oddity
    assert not stream.oov.any() and stream.vocab is vocab
    kept, none = training_stream(corpus, "unk")
    assert kept is corpus and none == 0.0


def test_a_literal_unk_is_a_word_and_stays():
    from perplex.embeddings.training import training_stream

    sents = [["<unk>", "a", "b"], ["a", "<unk>", "rare"]]
    corpus = encode(sents, Vocabulary.build(sents, min_count=2))
    stream, dropped = training_stream(corpus)
    assert [corpus.vocab.tokens[i] for i in stream.ids] == ["<unk>", "a", "</s>", "a", "<unk>", "</s>"]
    assert dropped == pytest.approx(2 / 8)  # b and rare


@pytest.mark.parametrize("method", ["sgns", "glove"])
def test_the_next_word_model_gives_unk_the_share_of_the_dropped_words(method):
    sents = grid_sentences(n=600) + [["rare%d" % i, "r0a"] for i in range(150)]
    vocab = Vocabulary.build(sents, min_count=2)
    corpus = encode(sents, vocab)
    if method == "sgns":
        model = SGNS(SGNSConfig(dim=10, window=2, epochs=2, workers=1)).fit(corpus)
        lm = sgns_language_model(model, temperature=0.8)
    else:
        model = GloVe(GloVeConfig(dim=10, window=2, epochs=3, workers=1, compile=False)).fit(corpus)
        lm = glove_language_model(model, temperature=0.8)
    assert model.dropped_share_ == pytest.approx(150 / corpus.n_tokens)
    assert model.counts_[vocab.unk_id] == 0
    test = corpus.subset(slice(590, 660))  # grid sentences and rare ones
    rows = np.concatenate(list(lm.next_distributions(test)))
    assert np.allclose(rows.sum(1), 1.0, atol=1e-12)
    assert np.allclose(rows[:, vocab.unk_id], model.dropped_share_)  # r in every context, no softmax share
    assert np.allclose(lm.log10_probs(test), np.log10(rows[np.arange(test.n_tokens), test.ids]))
    before = evaluate(lm, test).log10_prob
    lm.fit_temperature(test)  # fitted on the other tokens, whose P is (1 - r) softmax
    after = evaluate(lm, test)
    assert after.zero_prob_tokens == 0 and after.log10_prob >= before


def test_rare_words_as_unk_keep_their_vectors():
    sents = grid_sentences(n=300) + [["rare%d" % i, "r0a"] for i in range(50)]
    corpus = encode(sents, Vocabulary.build(sents, min_count=2))
    model = SGNS(SGNSConfig(dim=10, window=2, epochs=1, workers=1, rare_words="unk")).fit(corpus)
    assert model.dropped_share_ == 0.0 and model.counts_[corpus.vocab.unk_id] == 50
    with pytest.raises(PerplexError, match="--rare-words"):
        SGNSConfig(rare_words="keep")


# --------------------------------------------------------------------------- divergence
def bursty_sentences(heavy_share=0.15, n=6000, topics=60, per_topic=80, run=40, seed=0):
    """Text as articles make it: runs of 40 sentences on one topic, each topic's 80 words
    Zipf-distributed, and one word ("the") making ``heavy_share`` of the tokens.  A batch of
    512 consecutive centres then meets the same few words hundreds of times."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, per_topic + 1)
    sents = []
    for i in range(n):
        topic = (i // run) % topics
        words = [f"t{topic}w{j}" for j in rng.choice(per_topic, size=int(rng.integers(10, 30)), p=zipf / zipf.sum())]
        sents.append(["the" if rng.random() < heavy_share else w for w in words])
    return sents


def test_damping_by_hand():
    from perplex.embeddings.sgns import damping

    buffer = torch.zeros(5)
    ids = torch.tensor([3, 1, 3, 4])
    h = torch.tensor([30.0, 10.0, 50.0, 1.0])  # row 3: 80 in all
    factor = damping(ids, h, lr=0.025, buffer=buffer, rows=torch.tensor([4, 3, 1, 3, 3]))
    # lr * h: row 3 2.0 -> halved; row 1 0.25 and row 4 0.025 -> plain SGD
    assert torch.allclose(factor, torch.tensor([1.0, 0.5, 1.0, 0.5, 0.5]))
    assert not buffer.any()  # left as zeros for the next batch


def test_sgns_does_not_diverge_on_bursty_text_with_a_heavy_word(monkeypatch):
    """Two Hogwild workers, a word at 14% of the tokens and topical runs: every seed trains,
    with the default batch and with the fast one (--batch-size 1024).  Without the damping of
    the batch's summed updates the runs of 1,024 centres blow up in their first epoch (they did
    in 7 of 7 tries: loss 12 to 5e6 per pair)."""
    import perplex.embeddings.sgns as sgns

    sents = bursty_sentences()
    corpus = encode(sents, Vocabulary.build(sents))
    assert 0.10 <= np.mean(corpus.ids == corpus.vocab.id("the")) <= 0.20
    for batch_size in (SGNSConfig.batch_size, 1024):
        for seed in (1, 2, 3):
            model = SGNS(SGNSConfig(seed=seed, epochs=2, batch_size=batch_size)).fit(corpus)  # raises on divergence
            assert all(math.isfinite(x) for x in model.losses_)
            assert model.losses_[-1] < (1 + 5) * math.log(2)  # below the loss of the zero start
    monkeypatch.setattr(sgns, "damping", lambda ids, h, lr, buffer, rows: torch.ones(len(rows)))
    diverged = 0
    for seed in (1, 2, 3):
        try:
            SGNS(SGNSConfig(seed=seed, epochs=2, batch_size=1024)).fit(corpus)
        except PerplexError as exc:
            diverged += "diverged" in str(exc)
    assert diverged >= 1
