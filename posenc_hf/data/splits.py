"""The splits a source lacks, carved out of `train` (stratified by label, or at random for
multi-label data; see `posenc_hf.data.sources`'s split policy), and the seeded `max_samples` cap.
Labels are read as Arrow arrays and splits are `select`s of index arrays: no pass over the rows in Python.
"""

import numpy as np
from datasets import Dataset

from .labels import is_multi_label, label_array

SPLITS = ("train", "validation", "test")


def fill_missing_splits(
    splits: dict[str, Dataset], validation_size: float, test_size: float, seed: int, source: str = "the train split"
) -> dict[str, Dataset]:
    """Carve the validation and/or test split a source lacks out of `train`: stratified by label, or
    at random for multi-label data."""
    if "train" not in splits:
        raise ValueError(f"the source has no train split (found: {', '.join(sorted(splits, key=SPLITS.index))})")
    sizes = {"validation": validation_size, "test": test_size}
    fractions = {split: size for split, size in sizes.items() if split not in splits}
    if not fractions:
        return splits
    carve = _random_split if is_multi_label(splits["train"]) else _stratified_split
    return {**splits, **carve(splits["train"], fractions, seed, source)}


def _stratified_split(rows: Dataset, fractions: dict[str, float], seed: int, source: str) -> dict[str, Dataset]:
    """Split `rows` into `train` and each split of `fractions`, class by class, seeded.

    Each carved split gets its fraction of all rows, drawn from every class in proportion to its size
    (`_class_quotas`), at least one row per class, and `train` keeps at least one of each; rows keep
    their file order within a split. The labels are read once, as an Arrow column, and the splits are
    `select`s of index arrays: no pass over the rows in Python.
    """
    labels = label_array(rows)
    names = rows.features["label"].names
    counts = np.bincount(labels, minlength=len(names))
    _check_stratifiable(counts, names, ["train", *fractions], source)
    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]  # grouped by class, shuffled within each
    parts = {split: [] for split in ["train", *fractions]}
    quotas = _class_quotas(counts, list(fractions.values()))
    for start, count, quota in zip(np.cumsum(counts) - counts, counts, quotas, strict=True):
        bounds = np.cumsum([0, *quota]) + start
        for split, begin, end in zip(fractions, bounds[:-1], bounds[1:], strict=True):
            parts[split].append(order[begin:end])
        parts["train"].append(order[bounds[-1] : start + count])
    return {split: rows.select(np.sort(np.concatenate(indices))) for split, indices in parts.items()}


def _random_split(rows: Dataset, fractions: dict[str, float], seed: int, source: str) -> dict[str, Dataset]:
    """Split multi-label `rows` into `train` and each split of `fractions`, at random and seeded (a row
    with several labels has no one class to stratify by): each carved split gets its fraction of all
    rows, rounded, at least one, and `train` keeps at least one; rows keep their file order."""
    sizes = [max(1, round(len(rows) * fraction)) for fraction in fractions.values()]
    if sum(sizes) >= len(rows):
        raise ValueError(f"{source} has only {len(rows)} row(s): too few to split into train, {', '.join(fractions)}")
    order = np.random.default_rng(seed).permutation(len(rows))
    bounds = np.cumsum([0, *sizes])
    parts = {split: order[begin:end] for split, begin, end in zip(fractions, bounds[:-1], bounds[1:], strict=True)}
    parts["train"] = order[bounds[-1] :]
    return {split: rows.select(np.sort(indices)) for split, indices in parts.items()}


def _check_stratifiable(counts: np.ndarray, names: list[str], splits: list[str], source: str) -> None:
    """Every class present needs a row for each split; else name the smallest class and its count."""
    present = np.flatnonzero(counts)
    rarest = present[np.argmin(counts[present])]
    if counts[rarest] < len(splits):
        raise ValueError(
            f"class {names[rarest]!r} has only {counts[rarest]} row(s) in {source}: too few to split it, stratified, "
            f"into {', '.join(splits)} (at least {len(splits)} needed). Add rows of that class, drop them, or "
            "provide the missing split files"
        )


def _class_quotas(counts: np.ndarray, fractions: list[float]) -> np.ndarray:
    """Rows of each class (rows) for each carved split (columns): the split's fraction of all rows,
    rounded, spread over the classes in proportion to their sizes (largest remainders first), at least
    one per class present, and at least one row of each class left for `train`."""
    columns = []
    for fraction in fractions:
        exact = counts * fraction
        quota = np.floor(exact).astype(int)
        missing = max(0, round(counts.sum() * fraction) - quota.sum())
        quota[np.argsort(quota - exact, kind="stable")[:missing]] += 1
        columns.append(quota)
    quotas = np.maximum(np.stack(columns, axis=1), (counts > 0)[:, None])
    for label, count in enumerate(counts):
        while count and quotas[label].sum() > count - 1:
            quotas[label, quotas[label].argmax()] -= 1
    return quotas


def cap_rows(rows: Dataset, max_samples: int | None, seed: int) -> Dataset:
    """At most `max_samples` rows: a seeded shuffle, then the first `max_samples`."""
    if max_samples is None or len(rows) <= max_samples:
        return rows
    return rows.shuffle(seed=seed).select(range(max_samples))
