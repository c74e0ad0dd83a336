"""research.length: Ruoss et al.'s tasks written as words, the study's grid, and `--quick` end to end."""

import json
import random

import pytest

from posenc_hf.data.corpora.order import CUE_WORDS
from posenc_hf.data.tokenization import train_tokenizer
from research.length.cli import grid, main, text_grid
from research.length.report import recipe_verdicts
from research.length.runner import RECIPES, Plan, Point, check_one_token_per_word, posenc_model
from research.length.tasks import TASKS, cycle_navigation, evaluate, make_split


def test_modular_arithmetic_multiplies_first_as_the_papers_examples_do():
    assert evaluate([1, 2, 3], ["plus", "times"]) == 2  # 1 + 2 * 3 = 7 = 2 mod 5
    assert evaluate([1, 1, 1], ["minus", "minus"]) == 4  # -1 = 4 mod 5
    assert evaluate([0, 1, 4, 3, 2], ["times", "plus", "times", "minus"]) == 0


def test_each_task_labels_its_texts_by_its_rule():
    rng = random.Random(0)
    for _ in range(200):
        words, label = TASKS["even_pairs"].draw(rng, rng.randint(1, 12))
        assert label == int(words[0] == words[-1])  # as many ab as ba exactly when the ends agree
        words, label = TASKS["parity_check"].draw(rng, rng.randint(1, 12))
        assert label == int(words.count("b") % 2 == 0)
    walk = random.Random(1)
    words, label = cycle_navigation(walk, 30)
    assert label == (words.count("right") - words.count("left")) % 5


def test_the_order_task_labels_the_first_cue_and_exists_from_four_words():
    split = make_split(TASKS["order"], range(1, 13), 400, seed=0)
    assert set(split["length"]) == set(range(4, 13))
    assert set(split["label"]) == {0, 1, 2, 3}
    for text, label, length in zip(split["text"], split["label"], split["length"], strict=True):
        words = text.split()
        assert len(words) == length and sorted(w for w in words if w in CUE_WORDS) == sorted(CUE_WORDS)
        assert next(w for w in words if w in CUE_WORDS) == CUE_WORDS[label]


def test_a_task_whose_words_the_tokenizer_splits_is_refused_by_name():
    check_one_token_per_word("order", {"input_ids": [[2, 7, 7, 3]], "length": [2]})
    with pytest.raises(ValueError, match=r"order:.*\b2 symbols.*\b5 tokens"):
        check_one_token_per_word("order", {"input_ids": [[2, 7, 8, 7, 3]], "length": [2]})


def test_the_recipe_verdict_names_the_best_recipe_against_the_defaults_and_the_encoder():
    def record(recipe, seen):  # trained at lengths up to 2, scored at 1-3
        return {"task": "cycle_navigation", "scheme": "alibi", "recipe": recipe, "seed": 0,
                "accuracy_by_length": {"ordered": {"1": seen, "2": seen, "3": 0.2}}}  # fmt: skip

    records = [record("defaults", 0.7), record("no dropout", 0.9), record("pre-norm", 0.5)]
    grid_table = {"cycle_navigation": {"x-transformers alibi": {"in": [0.99], "out": [0.4]}}}
    assert recipe_verdicts(records, grid_table, limit=2) == (
        "- cycle_navigation, alibi: defaults 70.0 % in distribution, best recipe (no dropout) 90.0 %; "
        "x-transformers 99.0 %."
    )


def test_a_recipe_changes_only_the_config_fields_it_names():
    point, plan = Point("cycle_navigation", "alibi", False, 0), Plan(hidden_size=16, num_attention_heads=2)
    tokenizer = train_tokenizer(
        ["left right up down"] * 4, vocab_size=40, model_max_length=plan.max_position_embeddings
    )
    default = posenc_model(point, plan, tokenizer).config
    changed = posenc_model(point, plan, tokenizer, RECIPES["pre-norm, no dropout"]).config
    assert (changed.layer_norm_position, changed.hidden_dropout_prob) == ("pre", 0.0)
    assert (default.layer_norm_position, default.hidden_dropout_prob) == ("post", 0.1)
    assert changed.position_embedding_type == default.position_embedding_type == "alibi"


def test_the_text_part_runs_every_scheme_plain_and_the_learned_table_randomized():
    points = text_grid(["subject"], ["learned", "alibi"], [0])
    assert {(p.scheme, p.randomized) for p in points} == {("learned", False), ("learned", True), ("alibi", False)}


def test_a_split_draws_lengths_from_the_range_odd_only_where_the_task_needs_it():
    split = make_split(TASKS["modular_arithmetic"], range(1, 11), 300, seed=0)
    assert set(split["length"]) == {1, 3, 5, 7, 9}
    assert all(len(text.split()) == n for text, n in zip(split["text"], split["length"], strict=True))
    assert make_split(TASKS["modular_arithmetic"], range(1, 11), 300, seed=0)["text"] == split["text"]
    assert set(make_split(TASKS["parity_check"], range(1, 5), 200, seed=0)["length"]) == {1, 2, 3, 4}


def test_the_grid_randomizes_every_scheme_with_positions_and_compares_the_shared_ones():
    points = grid(["parity_check"], ["learned", "none", "fire"], [0, 1], peers=True)
    ours = [p for p in points if p.implementation == "posenc"]
    assert {(p.scheme, p.randomized) for p in ours} == {
        ("learned", False), ("learned", True), ("none", False), ("fire", False), ("fire", True)
    }  # fmt: skip
    assert {(p.scheme, p.seed) for p in points if p.implementation == "x_transformers"} == {
        ("learned", 0),
        ("learned", 1),
    }


def test_quick_study_writes_the_document_from_its_stored_results(tmp_path, capsys):
    pytest.importorskip("x_transformers", reason="the outside reference needs pip install 'posenc_hf[research]'")
    main(["--quick", "--out", str(tmp_path), "--workers", "1"])
    folder = tmp_path / "length_generalization"
    results = json.loads((folder / "results.json").read_text())
    document = (tmp_path / "length_generalization.md").read_text()
    assert not list(folder.glob("*journal.jsonl"))
    text = results["text"]["records"]
    assert {(r["corpus"], r["scheme"], r["randomized"]) for r in text} == {
        ("subject", "learned", False), ("subject", "learned", True), ("subject", "alibi", False)
    }  # fmt: skip
    assert all(0 < r["long_texts"] <= r["test_texts"] and 0 <= r["accuracy_whole"] <= 1 for r in text)
    assert "| subject | learned, randomized |" in document
    recipes = results["recipe"]["records"]
    assert [(r["task"], r["scheme"], r["recipe"]) for r in recipes] == [
        ("cycle_navigation", "learned", recipe) for recipe in RECIPES
    ]
    assert "| ours, pre-norm, no dropout |" in document and "| x-transformers (grid) |" in document
    results = results["grid"]
    randomized = [r for r in results["records"] if r["randomized"]]
    assert randomized and all(set(r["accuracy_by_length"]) == {"ordered", "sampled"} for r in randomized)
    lengths = set(results["records"][0]["accuracy_by_length"]["ordered"])
    assert lengths == {str(n) for n in range(1, results["plan"]["test_max_length"] + 1)}
    for name in ("ours learned", "ours alibi, randomized (sampled eval)", "x-transformers learned"):
        assert f"| {name} |" in document
    assert (folder / "accuracy_by_length.png").stat().st_size > 0 and (
        folder / "unseen_accuracy.png"
    ).stat().st_size > 0
    (tmp_path / "length_generalization.md").unlink()
    main(["--report_only", "--out", str(tmp_path)])
    assert (tmp_path / "length_generalization.md").read_text() == document
