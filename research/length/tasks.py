"""The algorithmic classification tasks of Ruoss et al. 2023 (from Delétang et al. 2023's regular tasks),
written as words so that they go through the package's tokenizer like any corpus.

Each task draws a text of `length` symbols and its label from a `random.Random`:
- `parity_check`: a string of `a` and `b`; is the number of `b` even? (2 classes)
- `even_pairs`: a string of `a` and `b`; are there as many `ab` as `ba` pairs? (equivalently: do the
  first and last symbols agree; 2 classes)
- `cycle_navigation`: moves `left`, `stay`, `right` on a cycle of 5 from position 0; where does it end?
  (5 classes: the sum of the moves modulo 5)
- `modular_arithmetic`: numbers 0-4 joined by `+`, `-`, `*` (written `plus`, `minus`, `times`), evaluated
  with `*` before `+` and `-`, modulo 5 (5 classes; the length is made odd, as the paper's is).
- `order`: the package's order corpus (`posenc_hf.data.corpora.order`) at any length from 4: the four cue
  words once each among filler words, in a random order; which cue comes first? (4 classes; every
  text's bag of words holds all four cues, so a model without positions is at chance).
"""

import random
from dataclasses import dataclass

from datasets import ClassLabel, Dataset, Features, Value

from posenc_hf.data.corpora.order import CUE_WORDS, FILLER_WORDS, first_cue

MODULUS = 5
NUMBER_WORDS = ("zero", "one", "two", "three", "four")
OPERATOR_WORDS = {"plus": 1, "minus": -1, "times": None}


@dataclass(frozen=True)
class Task:
    name: str
    num_labels: int
    draw: object  # (rng, length) -> (words, label)
    odd_lengths: bool = False  # the task exists only at odd lengths
    min_length: int = 1


def parity_check(rng, length):
    words = rng.choices(("a", "b"), k=length)
    return words, int(words.count("b") % 2 == 0)


def even_pairs(rng, length):
    words = rng.choices(("a", "b"), k=length)
    pairs = ["".join(pair) for pair in zip(words, words[1:], strict=False)]
    return words, int(pairs.count("ab") == pairs.count("ba"))


MOVES = {"left": -1, "stay": 0, "right": 1}


def cycle_navigation(rng, length):
    words = rng.choices(tuple(MOVES), k=length)
    return words, sum(MOVES[word] for word in words) % MODULUS


def evaluate(numbers, operators):
    """numbers[0] op[0] numbers[1] ... with `times` first, modulo 5."""
    terms, sign, product = [], 1, numbers[0]
    for operator, number in zip(operators, numbers[1:], strict=True):
        if operator == "times":
            product *= number
        else:
            terms.append(sign * product)
            sign, product = OPERATOR_WORDS[operator], number
    terms.append(sign * product)
    return sum(terms) % MODULUS


def modular_arithmetic(rng, length):
    count = (length + 1) // 2  # numbers; length is odd
    numbers = [rng.randrange(MODULUS) for _ in range(count)]
    operators = rng.choices(tuple(OPERATOR_WORDS), k=count - 1)
    words = [NUMBER_WORDS[numbers[0]]]
    for operator, number in zip(operators, numbers[1:], strict=True):
        words += [operator, NUMBER_WORDS[number]]
    return words, evaluate(numbers, operators)


def order(rng, length):
    words = list(CUE_WORDS) + rng.choices(FILLER_WORDS, k=length - len(CUE_WORDS))
    rng.shuffle(words)
    return words, CUE_WORDS.index(first_cue(words))


TASKS = {
    task.name: task
    for task in (
        Task("parity_check", 2, parity_check),
        Task("even_pairs", 2, even_pairs),
        Task("cycle_navigation", MODULUS, cycle_navigation),
        Task("modular_arithmetic", MODULUS, modular_arithmetic, odd_lengths=True),
        Task("order", len(CUE_WORDS), order, min_length=len(CUE_WORDS)),
    )
}


def lengths_for(task, lengths):
    """The lengths of `lengths` at which `task` exists."""
    return [n for n in lengths if n >= task.min_length and (n % 2 == 1 or not task.odd_lengths)]


def make_split(task, lengths, rows, seed):
    """`rows` texts of `task`, lengths drawn uniformly from `lengths` (odd ones only where the task needs
    them), as a dataset with `text`, `label` and `length` (in symbols)."""
    rng = random.Random(seed)
    choices = lengths_for(task, lengths)
    texts, labels, sizes = [], [], []
    for _ in range(rows):
        length = rng.choice(choices)
        words, label = task.draw(rng, length)
        texts.append(" ".join(words))
        labels.append(label)
        sizes.append(length)
    features = Features(
        {"text": Value("string"), "label": ClassLabel(num_classes=task.num_labels), "length": Value("int32")}
    )
    return Dataset.from_dict({"text": texts, "label": labels, "length": sizes}, features=features)
