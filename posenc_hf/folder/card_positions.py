"""The card's positional-encoding section: what the scheme is, what its plots show, what happens to
input longer than the table, and how randomized positions were drawn (`posenc_hf.folder.card`)."""

from ..model.positions_posenc import POSITION_EMBEDDINGS
from .card_data import max_length_note
from .plots import distance_reach

POSITION_PLOTS = {  # what each position plot shows, said in the card's positional-encoding section
    "position_embeddings": "the table as saved",
    "position_similarity": "the cosine similarity between every two of its positions",
    "position_bias": "the bias each head adds against the distance j − i, from −{reach} to {reach}",
    "rotary_angles": "nothing learned, so what the rotation does: for each frequency pair k of a head, "
    "cos(θ_k·(j − i)) from −{reach} to {reach}, the factor by which it scales that pair's share of q·k",
}
TABLE_LENGTH = (
    "The position table has {positions} positions. Longer input raises a `ValueError` rather than failing silently: "
    "truncate it (`tokenizer(text, truncation=True)`, as in the examples below) or extend the table with "
    "`model.resize_position_embeddings(n)` (a learned table keeps its rows and gains new ones initialised at random; "
    "`interpolate=True` resamples it to the new length instead). The model never saw the new positions in training: "
    "check its accuracy on long inputs before relying on them."
)
ANY_LENGTH = (
    "No table caps the input length: input of more than {positions} tokens (`max_position_embeddings`) runs as it is, "
    "but the model met no such length in training. Check its accuracy on long inputs before relying on them, or "
    "truncate them (`tokenizer(text, truncation=True)`, as in the examples below)."
)
SAMPLED_LENGTH = (
    "It reads every text at positions drawn from [0, {positions}), so longer input raises a `ValueError`: truncate it "
    "(`tokenizer(text, truncation=True)`, as in the examples below)."
)
RANDOMIZED = (
    "Trained with randomized positions (Ruoss et al. 2023): each training text of n tokens was read at n sorted "
    "positions drawn at random from [0, {positions}), so that training reached every position below {positions}, not "
    "only those below the length of its texts. At evaluation, and for the scores below, it reads a text {evaluation}."
)
EVALUATION_POSITIONS = {
    "ordered": "at positions 0, 1, …, n − 1 (`randomized_eval_positions: ordered`)",
    "sampled": "at positions drawn the same way from a generator seeded by the text, so that one text always gets "
    "one prediction, alone or in any batch (`randomized_eval_positions: sampled`)",
}


def position_fields(model, metrics, plots):
    config = model.config
    positions, hidden = config.max_position_embeddings, config.hidden_size
    explanation = POSITION_EMBEDDINGS[config.position_embedding_type].card_explanation
    return {
        "position_embedding_type": config.position_embedding_type,
        "max_position_embeddings": positions,
        "position_explanation": explanation.format(
            config=config, positions=positions, hidden=hidden, count=positions * hidden
        ),
        "position_plots_note": position_plots_note(config, plots),
        "position_length": position_length(config),
        "max_length_note": max_length_note(metrics.get("max_length_clipped")),
    }


def position_plots_note(config, plots):
    """The sentence naming the plots of what the scheme holds, linked; "" before any plot is written."""
    if plots and config.position_embedding_type == "none":
        return "Nothing about positions is plotted: the model holds no position information."
    shown = [name for name in POSITION_PLOTS if name in plots]
    if not shown:
        return ""
    reach = distance_reach(config)
    described = [f"{POSITION_PLOTS[name].format(reach=reach)} ([`{plots[name]}`]({plots[name]}))" for name in shown]
    return f"Plotted [below](#plots): {'; '.join(described)}."


def position_length(config):
    """What happens to input longer than `max_position_embeddings`, and how positions were randomized."""
    positions = config.max_position_embeddings
    sampled = config.randomize_positions and config.randomized_eval_positions == "sampled"
    has_table = POSITION_EMBEDDINGS[config.position_embedding_type].has_table
    length = (TABLE_LENGTH if has_table else SAMPLED_LENGTH if sampled else ANY_LENGTH).format(positions=positions)
    if not config.randomize_positions:
        return length
    evaluation = EVALUATION_POSITIONS[config.randomized_eval_positions]
    return RANDOMIZED.format(positions=positions, evaluation=evaluation) + " " + length
