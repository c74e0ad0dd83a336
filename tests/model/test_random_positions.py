"""Randomized positions (Ruoss et al. 2023, random_positions_posenc.py): in training each text of n tokens
is read at n sorted positions drawn from [0, max_position_embeddings); at evaluation at 0..n-1
("ordered") or at positions drawn from a generator seeded by the text ("sampled"), so that one text
always gets one prediction, alone or padded, before and after saving."""

import pytest
import torch
from helpers import batch, tiny_model

from posenc_hf import PosEncForSequenceClassification
from posenc_hf.model.configuration_posenc import POSITION_EMBEDDING_TYPES

MAX_POSITIONS = 32
RANDOMIZED = {"randomize_positions": True, "hidden_dropout_prob": 0.0, "max_position_embeddings": MAX_POSITIONS}


def randomized_model(kind="learned", mode="ordered", **overrides):
    """A tiny randomized model, initialised widely enough (0.3) that positions move its outputs."""
    changes = {**RANDOMIZED, "randomized_eval_positions": mode, "initializer_range": 0.3, **overrides}
    return tiny_model(position_embedding_type=kind, **changes)


def right_padded(rows, length=None):
    """(input_ids, attention_mask) of the token-id rows `rows`, right-padded with 0 to `length`."""
    length = length or max(len(row) for row in rows)
    input_ids = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
    return input_ids, mask


def positions(model, input_ids, mask=None):
    """The positions the model reads the tokens at, (1 or batch, length), in its current mode."""
    return model.posenc.embeddings.position_ids_for(input_ids, None, mask)


def logits(model, input_ids, mask=None):
    with torch.no_grad():
        return model(input_ids, attention_mask=mask).logits


TEXTS = [[5, 9, 13, 2, 7, 8, 30, 4, 11, 6], [21, 3, 3, 17], [40, 41], [12, 14, 16, 18, 20, 22, 24]]


# --- training ----------------------------------------------------------------------------------------


def test_training_positions_are_sorted_distinct_and_within_the_table():
    model = randomized_model().train()
    input_ids, mask = right_padded(TEXTS)
    torch.manual_seed(0)
    drawn = positions(model, input_ids, mask)
    assert drawn.shape == input_ids.shape
    for row, text in zip(drawn, TEXTS, strict=True):
        kept = row[: len(text)]
        assert (kept[1:] > kept[:-1]).all()  # increasing: sorted and distinct
        assert 0 <= kept.min() and kept.max() < MAX_POSITIONS


def test_training_positions_cover_the_whole_table_not_only_the_text_length():
    model = randomized_model().train()
    input_ids = batch(200, 5)
    torch.manual_seed(0)
    drawn = positions(model, input_ids)
    assert set(drawn.flatten().tolist()) == set(range(MAX_POSITIONS))


def test_training_positions_differ_between_sequences_and_between_calls():
    model = randomized_model().train()
    input_ids = batch(1, 8).expand(4, -1)  # four copies of one text
    torch.manual_seed(0)
    first = positions(model, input_ids)
    assert len({tuple(row.tolist()) for row in first}) == 4
    assert not torch.equal(positions(model, input_ids), first)
    torch.manual_seed(0)
    assert torch.equal(positions(model, input_ids), first)  # torch's generator: seeded runs repeat


def test_a_padded_row_is_read_at_positions_drawn_for_its_kept_tokens_only():
    """Its n kept tokens get n increasing positions; its padding gets none that trains: the learned table
    receives gradient exactly at the positions the kept tokens were read at."""
    model = randomized_model().train()
    input_ids, mask = right_padded(TEXTS)
    torch.manual_seed(0)
    drawn = positions(model, input_ids, mask)
    torch.manual_seed(0)
    model(input_ids, attention_mask=mask, labels=torch.tensor([0, 1, 2, 0])).loss.backward()
    table_grad = model.get_position_embeddings().weight.grad
    trained = set(table_grad.abs().sum(-1).nonzero().flatten().tolist())
    assert trained == set(drawn[mask.bool()].tolist())
    for row, text in zip(drawn, TEXTS, strict=True):
        assert (row[1 : len(text)] > row[: len(text) - 1]).all()


def test_a_padded_row_draws_as_many_positions_as_it_keeps():
    """Two kept tokens among ten are two positions drawn from the whole table (the larger is 2/3 of the
    way up on average), not the first two of ten drawn (2/11 of the way)."""
    model = randomized_model().train()
    input_ids, mask = right_padded([[5, 6]] * 400, length=10)
    torch.manual_seed(0)
    larger = positions(model, input_ids, mask)[:, 1].float()
    assert abs(larger.mean() - (2 / 3 * (MAX_POSITIONS + 1) - 1)) < 1.5  # E[larger of 2 of 0..31] = 21


# --- evaluation ----------------------------------------------------------------------------------------


def test_ordered_evaluation_reads_0_to_n_minus_1_like_a_model_without_randomization():
    model = randomized_model(mode="ordered")
    input_ids, mask = right_padded(TEXTS)
    assert torch.equal(positions(model, input_ids, mask), torch.arange(input_ids.shape[1])[None])
    plain = randomized_model(randomize_positions=False)  # the same seed: the same weights
    assert torch.equal(logits(plain, input_ids, mask), logits(model, input_ids, mask))


def test_sampled_evaluation_positions_are_a_sorted_sample_other_than_0_to_n_minus_1():
    model = randomized_model(mode="sampled")
    input_ids, mask = right_padded(TEXTS)
    drawn = positions(model, input_ids, mask)
    for row, text in zip(drawn, TEXTS, strict=True):
        kept = row[: len(text)]
        assert (kept[1:] > kept[:-1]).all() and kept.max() < MAX_POSITIONS
        assert not torch.equal(kept, torch.arange(len(text)))
    ordered = randomized_model(mode="ordered")
    assert (logits(model, input_ids, mask) - logits(ordered, input_ids, mask)).abs().max() > 1e-3


def test_sampled_evaluation_is_the_same_for_a_text_alone_padded_in_any_batch_and_across_calls():
    model = randomized_model(mode="sampled")
    input_ids, mask = right_padded(TEXTS, length=12)
    together_positions, together_logits = positions(model, input_ids, mask), logits(model, input_ids, mask)
    for i, text in enumerate(TEXTS):
        alone = torch.tensor([text])
        assert torch.equal(positions(model, alone)[0], together_positions[i, : len(text)])
        torch.testing.assert_close(logits(model, alone)[0], together_logits[i], atol=1e-5, rtol=0)
    order = [2, 0, 3, 1]  # the same texts in another batch, padded to another length
    shuffled_ids, shuffled_mask = right_padded([TEXTS[i] for i in order], length=15)
    torch.testing.assert_close(logits(model, shuffled_ids, shuffled_mask), together_logits[order], atol=1e-5, rtol=0)
    assert torch.equal(logits(model, input_ids, mask), together_logits)


def test_sampled_evaluation_gives_other_texts_other_positions():
    model = randomized_model(mode="sampled")
    drawn = [
        tuple(positions(model, torch.tensor([text]))[0].tolist()) for text in ([5, 6, 7, 8], [5, 6, 8, 7], [9, 6, 7, 8])
    ]
    assert len(set(drawn)) == 3  # the order of the tokens counts too


def test_sampled_evaluation_is_the_same_after_save_and_load(tmp_path):
    model = randomized_model(mode="sampled")
    input_ids, mask = right_padded(TEXTS)
    model.save_pretrained(tmp_path)
    loaded = PosEncForSequenceClassification.from_pretrained(tmp_path).eval()
    assert loaded.config.randomize_positions and loaded.config.randomized_eval_positions == "sampled"
    assert torch.equal(logits(loaded, input_ids, mask), logits(model, input_ids, mask))


# --- lengths -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["learned", "rotary"])
@pytest.mark.parametrize("mode", ["train", "sampled"])
def test_a_text_longer_than_the_table_is_refused_naming_max_position_embeddings(kind, mode):
    """With a table, its own check; without one, randomized positions still need room for the text."""
    model = randomized_model(kind, mode="sampled").train(mode == "train")
    with pytest.raises(ValueError, match=f"max_position_embeddings={MAX_POSITIONS}"):
        model(batch(2, MAX_POSITIONS + 1))
    assert torch.isfinite(model(batch(2, MAX_POSITIONS)).logits).all()  # a text that fills it runs


def test_ordered_evaluation_without_a_table_runs_past_max_position_embeddings():
    model = randomized_model("rotary", mode="ordered")
    assert torch.isfinite(logits(model, batch(2, 2 * MAX_POSITIONS))).all()


# --- none ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["ordered", "sampled"])
def test_none_is_unaffected_by_randomized_positions(mode):
    randomized = randomized_model("none", mode=mode)
    plain = randomized_model("none", randomize_positions=False)
    input_ids, mask = right_padded(TEXTS)
    assert torch.equal(logits(randomized, input_ids, mask), logits(plain, input_ids, mask))
    randomized.train()
    plain.train()
    labels = torch.tensor([0, 1, 2, 0])
    torch.manual_seed(0)
    randomized(input_ids, attention_mask=mask, labels=labels).loss.backward()
    plain(input_ids, attention_mask=mask, labels=labels).loss.backward()
    for (name, p), q in zip(randomized.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=0, rtol=0, msg=name)


@pytest.mark.parametrize("kind", sorted(set(POSITION_EMBEDDING_TYPES) - {"none"}))
def test_every_scheme_with_positions_trains_on_the_drawn_positions(kind):
    """Two seeds, two draws, two different losses: the draws reach each scheme's computation."""
    model = randomized_model(kind).train()
    input_ids, mask = right_padded(TEXTS)
    losses = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        losses.append(model(input_ids, attention_mask=mask, labels=torch.tensor([0, 1, 2, 0])).loss.item())
    assert abs(losses[0] - losses[1]) > 1e-5
