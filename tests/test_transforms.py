import json
import os
import random
import subprocess
import sys
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from hf_threephase import ContrastivePairs, imbalance_multipliers, pair_target, upsample
from hf_threephase.bucketing import length_buckets
from hf_threephase.metrics import nearest_centroid_accuracy
from hf_threephase.noise import delete_stopwords, delete_words, load_stopwords
from hf_threephase.pairs import class_aware_order, label_codes, positive_pair_fraction


def test_word_deletion_ratio_and_at_least_one_word():
    rng = random.Random(0)
    words = list(range(50))
    kept = [len(delete_words(words, 0.6, rng)) for _ in range(400)]
    assert 0.37 < np.mean(kept) / 50 < 0.43
    assert all(len(delete_words(["only", "two"], 0.99, rng)) >= 1 for _ in range(100))
    assert delete_words(words, 0.0, rng) == words
    kept_once = delete_words(words, 0.5, rng)
    assert kept_once == sorted(kept_once)  # order is kept
    with pytest.raises(ValueError, match=r"noise ratio must be in \[0, 1\), got 1.0"):
        delete_words(words, 1.0, rng)


def test_word_deletion_is_seeded():
    words = "the quick brown fox jumps over the lazy dog".split()
    assert delete_words(words, 0.6, random.Random(3)) == delete_words(words, 0.6, random.Random(3))


def test_stopword_deletion_with_a_custom_list():
    custom = load_stopwords(stopwords=["Weather", " in ", "the", "is", "what"])
    assert custom.source == "the given list (5 words)"
    assert delete_stopwords("What is the weather in Paris?", custom) == "paris ?"
    # the minimum-length guard keeps the text (lower-cased) when too little would be left
    assert delete_stopwords("Is it the one", custom, min_words=3) == "is it the one"


def stopwords_in_a_fresh_process(nltk_data) -> dict:
    """`load_stopwords()` in a new interpreter whose nltk looks only in `nltk_data` (nltk caches its corpora)."""
    code = (f"import json, nltk; nltk.data.path[:] = [{str(nltk_data)!r}]; from hf_threephase.noise import "
            "load_stopwords; words = load_stopwords(); print(json.dumps({'source': words.source, 'words': "
            "sorted(words)}))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def test_without_nltk_data_the_stop_words_are_scikit_learns(tmp_path):
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    fresh = stopwords_in_a_fresh_process(tmp_path)  # an empty folder: no corpus, as after `pip install nltk`
    assert fresh["words"] == sorted(ENGLISH_STOP_WORDS)
    assert fresh["source"] == "scikit-learn's ENGLISH_STOP_WORDS (318 words; nltk's stopwords corpus is not installed)"


def test_nltks_stopwords_corpus_is_preferred_where_installed(tmp_path):
    corpus = tmp_path / "corpora" / "stopwords"
    corpus.mkdir(parents=True)
    (corpus / "english").write_text("the\na\nis\nnot\n")
    fresh = stopwords_in_a_fresh_process(tmp_path)
    assert fresh == {"source": "nltk's english stopwords corpus (4 words)", "words": ["a", "is", "not", "the"]}


def test_other_languages_without_nltk_data_are_a_clear_error(monkeypatch):
    import nltk

    def no_corpus(language):
        raise LookupError("Resource stopwords not found.")

    monkeypatch.setattr(nltk.corpus, "stopwords", SimpleNamespace(words=no_corpus))  # not loaded first
    with pytest.raises(LookupError, match="no stop-word list for 'german': install nltk's 'stopwords' corpus"):
        load_stopwords("german")


def test_imbalance_multiplier_table():
    sizes = [10_000, 1_000, 316, 100, 10, 1]
    assert imbalance_multipliers(sizes) == [1, 1, 2, 2, 3, 4]
    assert imbalance_multipliers(sizes, max_ratio=20) == [1, 5, 8, 10, 15, 20]


def test_imbalance_degenerate_cases():
    assert imbalance_multipliers([7]) == [1]
    assert imbalance_multipliers([1, 1, 1]) == [1, 1, 1]
    assert imbalance_multipliers([50, 50]) == [1, 1]
    with pytest.raises(ValueError, match="at least one class"):
        imbalance_multipliers([])
    with pytest.raises(ValueError, match="every class needs at least one example"):
        imbalance_multipliers([10, 0])
    with pytest.raises(ValueError, match="must be > 0"):
        imbalance_multipliers([10, 1], max_ratio=0)


def test_upsample_adds_noised_copies_of_rare_classes_only():
    texts = [f"big text {i}" for i in range(100)] + ["the small one", "a small two"]
    labels = ["big"] * 100 + ["small"] * 2
    out_texts, out_labels = upsample(texts, labels, noise=lambda text, rng: text.upper())
    # f(2) = log(50) * 4 / log(100) = 3.4 -> 3 uses of each small example: 2 extra copies each
    assert out_labels.count("big") == 100 and out_labels.count("small") == 6
    assert out_texts[:102] == texts
    assert sorted(out_texts[102:]) == ["A SMALL TWO"] * 2 + ["THE SMALL ONE"] * 2


def test_each_upsampled_copy_is_noised_on_its_own():
    """Copies of one text drop different random subsets of its stop words (the same ones for the same seed)."""
    stopwords = load_stopwords(stopwords=["the", "a", "of", "in", "is", "it", "and", "to", "on", "at"])
    rare = "It is the end of the line and the start of a day in the city on a hill at the top of it"
    texts, labels = [f"common text {i}" for i in range(200)] + [rare, rare.upper()], [0] * 200 + [1] * 2
    noise = lambda text, rng: delete_stopwords(text, stopwords, rng=rng)
    out_texts, out_labels = upsample(texts, labels, max_ratio=20, seed=0, noise=noise)
    copies = out_texts[202:]
    assert out_labels[202:] == [1] * len(copies) and len(copies) == 2 * (out_labels.count(1) // 2 - 1)
    first = copies[: len(copies) // 2]
    assert len(set(first)) == len(first) > 2  # m copies are m different texts
    assert all(set(c.split()) >= {"end", "line", "start", "day", "city", "hill", "top"} for c in copies)
    assert upsample(texts, labels, max_ratio=20, seed=0, noise=noise)[0] == out_texts
    assert upsample(texts, labels, max_ratio=20, seed=1, noise=noise)[0] != out_texts


def test_length_buckets_are_the_cheapest_split():
    """Every row once, groups in length order, and no split of the sorted rows into runs costs less."""
    rng = random.Random(0)
    for _ in range(50):
        lengths = [rng.randint(1, 60) for _ in range(rng.randint(1, 9))]
        group_cost = rng.choice([0, 20, 128, 10_000])
        groups = length_buckets(lengths, group_cost)
        assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
        widths = [[lengths[i] for i in group] for group in groups]
        assert all(max(a) <= min(b) for a, b in zip(widths, widths[1:]))
        cost = sum(len(w) * max(w) + group_cost for w in widths)
        ordered = sorted(lengths)
        for cuts in range(2 ** (len(ordered) - 1)):
            bounds = [0] + [i + 1 for i in range(len(ordered) - 1) if cuts >> i & 1] + [len(ordered)]
            runs = [ordered[a:b] for a, b in zip(bounds, bounds[1:])]
            assert cost <= sum(len(r) * max(r) + group_cost for r in runs)
    assert length_buckets([5, 5, 50, 50], 0) == [[0, 1], [2, 3]]
    assert length_buckets([5, 50, 5, 50], 10_000) == [[0, 2, 1, 3]]
    assert length_buckets([]) == []


def test_pair_target_flat_and_hierarchical():
    assert pair_target(1, 1) == 1.0 and pair_target(1, 2) == 0.0
    assert pair_target(("a", "x"), ("a", "x")) == 1.0
    assert pair_target(("a", "x"), ("a", "y")) == 0.5
    assert pair_target(("a", "x"), ("b", "x")) == 0.0
    assert pair_target(("a", "x", "1"), ("a", "x", "2")) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="different depth"):
        pair_target(("a",), ("a", "x"))


def test_pairs_balanced_distinct_and_seeded():
    labels = [0] * 50 + [1] * 20 + [2] * 7
    pairs = ContrastivePairs(labels, pairs_per_example=4, seed=1)
    items = [pairs[i] for i in range(len(pairs))]
    positives = sum(t == 1.0 for _, _, t in items)
    assert positives == len(items) - positives  # 1:1
    assert len(items) == 2 * positives and positives > 100
    unordered = {frozenset((a, b)) for a, b, _ in items}
    assert len(unordered) == len(items) and all(a != b for a, b, _ in items)
    assert all(t == float(labels[a] == labels[b]) for a, b, t in items)
    assert items == [ContrastivePairs(labels, 4, seed=1)[i] for i in range(len(pairs))]
    assert items != [ContrastivePairs(labels, 4, seed=2)[i] for i in range(len(pairs))]
    assert len(ContrastivePairs(labels, pairs_per_example=8, seed=1)) > len(pairs)


@pytest.mark.parametrize("fraction", [0.2, 0.75])
def test_pairs_keep_the_positive_fraction_in_every_epoch(fraction):
    labels = [0] * 50 + [1] * 20 + [2] * 30
    pairs = ContrastivePairs(labels, pairs_per_example=4, seed=1, positive_fraction=fraction)
    for epoch in (0, 1):
        drawn = pairs.for_epoch(epoch)
        targets = [drawn[i][2] for i in range(len(drawn))]
        assert len(targets) == pytest.approx(400, abs=2)  # 100 examples x 4 pairs
        assert sum(targets) / len(targets) == pytest.approx(fraction, abs=0.01)
    with pytest.raises(ValueError, match=r"positive_fraction must be in \(0, 1\), got 1"):
        ContrastivePairs(labels, positive_fraction=1)


def test_auto_positive_pair_fraction_is_the_share_of_same_class_pairs_among_random_pairs_of_even_classes():
    assert [positive_pair_fraction("auto", k) for k in (2, 5, 7)] == [0.5, 0.2, 1 / 7]  # 2 classes: the authors' 1:1
    assert positive_pair_fraction("0.35", 5) == positive_pair_fraction(0.35, 2) == 0.35
    labels = [c for c in range(5) for _ in range(40)]
    random_pairs = [(a, b) for a in labels for b in labels][::7]
    share = np.mean([a == b for a, b in random_pairs])
    assert positive_pair_fraction("auto", 5) == pytest.approx(share, abs=0.01)


def test_pairs_hierarchical_targets():
    labels = [("music", "jazz")] * 6 + [("music", "rock")] * 6 + [("food", "pizza")] * 6
    pairs = ContrastivePairs(labels, pairs_per_example=2, seed=0)
    targets = {pairs[i][2] for i in range(len(pairs))}
    assert targets == {0.0, 0.5, 1.0}


def test_pairs_need_two_classes_and_a_positive():
    with pytest.raises(ValueError, match="at least two classes"):
        ContrastivePairs([0, 0, 0])
    with pytest.raises(ValueError, match="no class has two examples"):
        ContrastivePairs([0, 1, 2])
    # a class with one example still takes part, in negative pairs only
    pairs = ContrastivePairs([0, 0, 0, 0, 1], pairs_per_example=2)
    assert any(4 in (a, b) for a, b, _ in (pairs[i] for i in range(len(pairs))))


def test_pairs_of_tiny_classes_and_a_small_fraction():
    pairs = ContrastivePairs([0, 0, 1, 1, 2, 2], pairs_per_example=2, seed=0)  # k = 2 per class
    items = [pairs[i] for i in range(len(pairs))]
    assert sorted((a, b) for a, b, t in items if t == 1.0) == [(0, 1), (2, 3), (4, 5)]
    assert sum(t == 0.0 for *_, t in items) == 3
    few = ContrastivePairs([0] * 8 + [1] * 8, pairs_per_example=1, seed=0, positive_fraction=0.05)
    assert sum(few[i][2] for i in range(len(few))) == 2  # one same-class pair per class, not none
    assert len(few) == 16 and few.positive_share == 2 / 16  # the other-class pairs stay within the budget
    mostly = ContrastivePairs([0, 0, 1, 1, 2, 2], pairs_per_example=5, seed=0, positive_fraction=0.9)
    assert sum(mostly[i][2] == 0.0 for i in range(len(mostly))) == 1  # one other-class pair at least
    assert ContrastivePairs([0] * 8 + [1] * 8, 10, 0, 0.5).positive_share == 0.5  # the default stays 1:1


def test_pairing_a_million_examples_stays_under_one_gib():
    labels = np.random.default_rng(0).integers(0, 20, size=1_000_000).tolist()
    tracemalloc.start()
    pairs = ContrastivePairs(labels, pairs_per_example=4, seed=0)
    sample = [pairs[i] for i in range(0, len(pairs), len(pairs) // 1000)]
    next_epoch = pairs.for_epoch(1)  # the next epoch's draw replaces this one: memory stays O(n)
    sample_next = [next_epoch[i] for i in range(0, len(pairs), len(pairs) // 1000)]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(pairs) >= 3_999_000 and len(sample) >= 1000
    assert len(next_epoch) == len(pairs) and sample_next != sample
    assert peak < 1024**3


def test_pairs_are_drawn_afresh_each_epoch_and_alike_on_every_process():
    labels = [0] * 30 + [1] * 20 + [2] * 10
    pairs = ContrastivePairs(labels, pairs_per_example=4, seed=3)
    epochs = [pairs.for_epoch(e) for e in range(3)]
    items = [[p[i] for i in range(len(p))] for p in epochs]
    assert len({len(p) for p in epochs}) == 1  # the Trainer plans its steps once
    assert items[0] != items[1] != items[2] and items[0] != items[2]
    assert items[1] == [ContrastivePairs(labels, 4, seed=3).for_epoch(1)[i] for i in range(len(pairs))]
    for drawn in items:  # every epoch: 1:1 positives and negatives, right targets
        targets = [t for _, _, t in drawn]
        assert targets.count(1.0) == targets.count(0.0)
        assert all(t == float(labels[a] == labels[b]) for a, b, t in drawn)


def test_nearest_centroid_accuracy():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    separated = np.eye(3)[labels] * 5 + rng.normal(scale=0.1, size=(60, 3))
    assert nearest_centroid_accuracy(separated, labels) == 1.0
    assert nearest_centroid_accuracy(rng.normal(size=(60, 3)), labels) < 0.7


@pytest.mark.parametrize("fraction", [0.5, 0.2])
@pytest.mark.parametrize("hierarchical", [False, True])
def test_in_batch_loss_is_the_weighted_mean_of_each_pairs_own_loss(fraction, hierarchical):
    import torch

    from hf_threephase.losses import in_batch_cosine_loss, siamese_cosine_loss

    torch.manual_seed(0)
    labels = [("a", "x"), ("a", "x"), ("a", "y"), ("b", "x"), ("b", "z"), ("a", "y"), ("b", "z")]
    if not hierarchical:
        labels = [first for first, _ in labels]
    embeddings = torch.randn(len(labels), 6)
    loss = in_batch_cosine_loss(embeddings, torch.from_numpy(label_codes(labels)), fraction)
    explicit = {}  # pair by pair, through the sampled form's own loss
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            target = pair_target(labels[i], labels[j])
            pair = siamese_cosine_loss(embeddings[[i, j]], torch.tensor([target]))
            explicit.setdefault(target == 1, []).append(pair)
    expected = fraction * torch.stack(explicit[True]).mean() + (1 - fraction) * torch.stack(explicit[False]).mean()
    torch.testing.assert_close(loss, expected)
    if hierarchical:  # fractional targets among the other pairs
        assert any(0 < pair_target(a, b) < 1 for a in labels for b in labels)


def test_in_batch_loss_of_one_kind_of_pair_or_one_text():
    import torch

    from hf_threephase.losses import in_batch_cosine_loss

    embeddings = torch.randn(3, 4, requires_grad=True)
    same = torch.zeros(3, 1, dtype=torch.long)
    cosines = torch.nn.functional.cosine_similarity(embeddings[[0, 0, 1]], embeddings[[1, 2, 2]])
    torch.testing.assert_close(in_batch_cosine_loss(embeddings, same, 0.2), ((cosines - 1) ** 2).mean())
    alone = in_batch_cosine_loss(embeddings[:1], same[:1], 0.2)
    alone.backward()
    assert alone.item() == 0 and torch.equal(embeddings.grad, torch.zeros(3, 4))


def test_label_codes_are_equal_where_the_levels_are():
    codes = label_codes([("a", "x"), ("b", "x"), ("a", "y"), ("a", "x")])
    assert codes.shape == (4, 2) and codes.dtype == np.int64
    assert codes[0].tolist() == codes[3].tolist() and codes[0, 0] == codes[2, 0] and codes[0, 1] == codes[1, 1]
    assert label_codes([3, 1, 3]).shape == (3, 1)
    with pytest.raises(ValueError, match="different depth"):
        label_codes([("a",), ("a", "b")])


@pytest.mark.parametrize("sizes", [(40, 40), (50, 13, 7, 3, 1), (9, 9, 9, 9, 9)])
def test_class_aware_order_puts_a_same_class_pair_in_every_batch(sizes):
    labels = [c for c, n in enumerate(sizes) for _ in range(n)]
    random.Random(0).shuffle(labels)
    order = class_aware_order(labels, seed=3)
    assert sorted(order.tolist()) == list(range(len(labels)))
    ordered = [labels[i] for i in order]
    for start in range(len(ordered) - 4):  # any 5 consecutive texts (a batch of 5 or more) hold a same-class pair
        window = ordered[start:start + 5]
        assert len(set(window)) < 5 or (1 in sizes and sizes.index(1) in window), window
    assert class_aware_order(labels, seed=3).tolist() == order.tolist()
    assert class_aware_order(labels, seed=4).tolist() != order.tolist()
    # the classes are spread over the epoch: each half holds its share of every class, within a group or two
    half = ordered[: len(ordered) // 2]
    assert all(abs(half.count(c) - n / 2) <= 3 for c, n in enumerate(sizes))
