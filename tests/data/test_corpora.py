"""The named corpora: the shipped subject/sentiment CSVs and the synthetic order corpus."""

import csv
import itertools
import re
from collections import Counter

import pytest
from datasets import ClassLabel, Features, Value
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from posenc_hf.data.corpora import CORPORA_DIR, LABEL_NAMES
from posenc_hf.data.corpora.order import CUE_WORDS, FILLER_WORDS, first_cue, make_order_corpus
from posenc_hf.data.sources import SPLITS, load_corpus

SPLIT_SHARES = {"train": 0.8, "validation": 0.1, "test": 0.1}


def word_set(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", text.lower()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


# --- subject and sentiment --------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(LABEL_NAMES))
def builtin(request):
    name = request.param
    if not (CORPORA_DIR / name / "train.csv").is_file():
        pytest.fail(f"the {name} corpus is missing from {CORPORA_DIR / name}")
    return name, load_corpus(name)


def test_builtin_features_and_label_order(builtin):
    name, corpus = builtin
    expected = Features({"text": Value("string"), "label": ClassLabel(names=LABEL_NAMES[name])})
    assert list(corpus) == list(SPLITS)
    assert all(split.features == expected for split in corpus.values())


def test_builtin_files_load_without_dropping_rows(builtin):
    """Header `text,label`, no empty texts: every CSV row reaches the dataset."""
    name, corpus = builtin
    for split in SPLITS:
        with (CORPORA_DIR / name / f"{split}.csv").open(newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
        assert rows[0] == ["text", "label"]
        assert len(rows) - 1 == len(corpus[split])
        assert all(text.strip() for text in corpus[split]["text"])
    assert (CORPORA_DIR / name / "DATASHEET.md").is_file()


def test_builtin_sizes_balance_and_80_10_10_split(builtin):
    name, corpus = builtin
    counts = {split: Counter(corpus[split]["label"]) for split in SPLITS}
    totals = sum(counts.values(), Counter())
    assert set(totals) == set(range(len(LABEL_NAMES[name])))
    assert min(totals.values()) >= 150, totals
    assert max(totals.values()) <= 1.1 * min(totals.values()), f"unbalanced classes: {totals}"
    for split, share in SPLIT_SHARES.items():
        for label, total in totals.items():
            assert abs(counts[split][label] - share * total) <= 1, (split, label, counts[split][label], total)


def test_builtin_has_no_duplicates_or_near_duplicates(builtin):
    """No two texts, within or across splits, share 60% or more of their word sets."""
    _, corpus = builtin
    texts = [(split, text) for split in SPLITS for text in corpus[split]["text"]]
    normalised = Counter(" ".join(text.lower().split()) for _, text in texts)
    assert [text for text, count in normalised.items() if count > 1] == []
    words = [(split, text, word_set(text)) for split, text in texts]
    near = [(a[0], a[1], b[0], b[1]) for a, b in itertools.combinations(words, 2) if jaccard(a[2], b[2]) >= 0.6]
    assert near == [], f"{len(near)} near-duplicate pairs, e.g. {near[:3]}"


# --- the order corpus -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def order():
    return make_order_corpus(num_train=2000, num_validation=400, num_test=1200, seed=0)


def test_order_corpus_shape(order):
    assert {split: len(rows) for split, rows in order.items()} == {"train": 2000, "validation": 400, "test": 1200}
    assert order["train"].features["label"].names == list(CUE_WORDS)
    texts = [text for split in SPLITS for text in order[split]["text"]]
    assert len(set(texts)) == len(texts)
    for split in SPLITS:
        assert set(Counter(order[split]["label"]).values()) == {len(order[split]) // 4}
    for text in texts:
        words = text.split()
        assert 6 <= len(words) <= 16
        assert sorted(word for word in words if word in CUE_WORDS) == sorted(CUE_WORDS)
        assert set(words) <= set(CUE_WORDS) | set(FILLER_WORDS)


def test_load_corpus_order_is_seeded_and_capped():
    corpus = load_corpus("order", seed=3, max_samples=100)
    assert {split: len(rows) for split, rows in corpus.items()} == dict.fromkeys(SPLITS, 100)
    assert corpus["test"].features == Features({"text": Value("string"), "label": ClassLabel(names=list(CUE_WORDS))})
    assert set(corpus["test"]["text"]) <= set(make_order_corpus(seed=3)["test"]["text"])


def test_order_labels_follow_the_rule(order):
    for split in SPLITS:
        for row in order[split]:
            assert CUE_WORDS[row["label"]] == first_cue(row["text"].split())


def test_every_bag_of_words_appears_under_every_label(order):
    """Words alone cannot tell the label: each bag comes once per label, and stays in one split."""
    bags = {}
    for split in SPLITS:
        for row in order[split]:
            bags.setdefault(tuple(sorted(row["text"].split())), []).append((split, row["label"]))
    for occurrences in bags.values():
        assert sorted(label for _, label in occurrences) == [0, 1, 2, 3]
        assert len({split for split, _ in occurrences}) == 1


def test_order_corpus_is_seeded():
    assert make_order_corpus(8, 4, 4, seed=1)["train"]["text"] == make_order_corpus(8, 4, 4, seed=1)["train"]["text"]
    assert make_order_corpus(8, 4, 4, seed=1)["train"]["text"] != make_order_corpus(8, 4, 4, seed=2)["train"]["text"]
    with pytest.raises(ValueError, match=r"num_test=6\b"):
        make_order_corpus(8, 4, 6)


def _logistic_regression_accuracy(order, vectorizer) -> float:
    features = vectorizer.fit_transform(order["train"]["text"])
    model = LogisticRegression(max_iter=2000).fit(features, order["train"]["label"])
    return model.score(vectorizer.transform(order["test"]["text"]), order["test"]["label"])


def test_bag_of_words_is_at_chance(order):
    """1,200 test items: a leak worth 6 points would be 4.8 standard errors away from chance."""
    accuracy = _logistic_regression_accuracy(order, CountVectorizer(token_pattern=r"\S+"))
    assert abs(accuracy - 0.25) < 0.06


def test_word_positions_reveal_the_label(order):
    """The same model on word-at-position features (what learned positions give) nearly solves it."""
    accuracy = _logistic_regression_accuracy(
        order, CountVectorizer(analyzer=lambda text: [f"{i}:{word}" for i, word in enumerate(text.split())])
    )
    assert accuracy > 0.9
