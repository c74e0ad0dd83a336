"""Position ids: 0..n-1, or the randomized positions of Ruoss et al. (2023).

With `config.randomize_positions`, each sequence of n tokens is read at n sorted positions drawn without
replacement from [0, max_position_embeddings) (google-deepmind/randomized_positional_encodings), so
that in training the model meets every position up to that bound, not only those below the training
length. At evaluation it reads them at 0..n-1 (`randomized_eval_positions="ordered"`), or at positions
drawn the same way (`"sampled"`, as the paper's code does) from a generator seeded by the text itself:
the same text always gets the same positions and the same prediction, alone or in any padded batch.

Every step is a tensor operation (no branch on tensor values), so both paths export and compile.
This file travels to the Hub with the model code; it imports nothing but `torch`.
"""

import torch

PRIME = 2**31 - 1  # hashing is modulo this prime, so that no product of two residues overflows int64
MULTIPLIERS = (48271, 69621, 16807)  # three Lehmer-generator multipliers modulo PRIME


def ordered_positions(length, device):
    """(1, length) positions 0..length-1."""
    return torch.arange(length, device=device).unsqueeze(0)


def text_seeds(input_ids, attention_mask):
    """(batch,) an int64 hash of each row's kept tokens and their order, the same whatever the padding."""
    ids = (input_ids.long() + 1) % PRIME
    weights = (torch.arange(1, input_ids.shape[1] + 1, device=input_ids.device) * MULTIPLIERS[0]) % PRIME
    terms = ids * weights % PRIME
    if attention_mask is not None:
        terms = terms * attention_mask.long()
    return terms.sum(-1) % PRIME


def seeded_keys(seeds, num_positions):
    """(batch, num_positions) pseudo-random keys in [0, PRIME), a function of each row's seed only."""
    positions = torch.arange(1, num_positions + 1, device=seeds.device)
    keys = (seeds[:, None] + 1) * MULTIPLIERS[1] % PRIME * positions % PRIME
    return (keys * MULTIPLIERS[2] + keys * keys % PRIME) % PRIME


def sorted_sample(keys, length, attention_mask):
    """(batch, length) positions: row b's first n_b tokens get, in increasing order, the n_b positions
    whose keys are smallest (a sample without replacement); its padding gets the last position. Counted
    rather than sliced, so that the length stays symbolic under `torch.export`."""
    num_positions = keys.shape[1]
    rank = keys.argsort(dim=-1).argsort(dim=-1)  # each position's rank among its row's keys
    kept = length if attention_mask is None else attention_mask.long().sum(-1, keepdim=True)
    chosen_before = (rank < kept).long().cumsum(-1)  # (batch, positions): chosen positions up to each one
    tokens = torch.arange(length, device=keys.device)
    positions = (chosen_before[:, None, :] <= tokens[None, :, None]).long().sum(-1)  # i-th chosen position
    return positions.clamp(max=num_positions - 1)


def check_room(length, num_positions):
    if length > num_positions:
        raise ValueError(
            f"randomize_positions draws each text's positions from [0, max_position_embeddings={num_positions}), "
            f"which cannot hold a text of {length} tokens. Truncate the input, or train with a larger "
            f"max_position_embeddings (Ruoss et al. use several times the training length)."
        )


def position_ids_for(config, embeddings, input_ids, attention_mask, training):
    """The positions the model reads its tokens at, (1 or batch, length): 0..n-1, unless
    `config.randomize_positions` asks for a sorted random sample (drawn with torch's generator in
    training, seeded by the text at evaluation with `randomized_eval_positions="sampled"`)."""
    batch, length = embeddings.shape[:2]
    sampled_eval = config.randomized_eval_positions == "sampled"
    if not config.randomize_positions or not (training or sampled_eval):
        return ordered_positions(length, embeddings.device)
    num_positions = config.max_position_embeddings
    check_room(length, num_positions)
    if attention_mask is not None and attention_mask.dim() != 2:
        attention_mask = None  # a 4D mask names no row lengths: every row is read as unpadded
    if training:
        keys = torch.rand(batch, num_positions, device=embeddings.device)
    else:  # seeded by the tokens; with inputs_embeds, one fixed draw
        ids = input_ids
        if ids is None:
            ids = torch.zeros(batch, length, dtype=torch.long, device=embeddings.device)
        keys = seeded_keys(text_seeds(ids, attention_mask), num_positions)
    return sorted_sample(keys, length, attention_mask)
