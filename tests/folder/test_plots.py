"""Every plot is a readable PNG in `plots/`; each position scheme gets the plots of what it holds (a table,
a bias against distance, rotary's angles; "none" nothing), and they draw the model's own values; a table
of any length is drawn from a bounded number of its positions."""

import helpers
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from posenc_hf.folder.plots import (
    MAX_POSITIONS,
    bias_by_distance,
    bias_figure,
    curves_figure,
    evenly_spaced,
    plot_position_bias,
    plot_position_similarity,
    plot_position_table,
    plot_rotary_angles,
    plot_validation_metrics,
    position_similarity,
    position_table,
    rotary_figure,
    series,
    write_all_plots,
    write_multi_label_plots,
)
from posenc_hf.model.attention_positions_posenc import apply_rotary_pos_emb

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = ["Biology", "Chemistry", "Maths", "Physics"]
CONFUSION = [[5, 1, 0, 0], [0, 6, 0, 0], [1, 0, 4, 1], [0, 0, 0, 6]]
ALL_PLOTS = ["loss", "validation_metrics", "position_embeddings", "position_similarity", "confusion_matrix"]


def tiny_model(position_embedding_type="learned"):
    return helpers.tiny_model(
        num_attention_heads=2, num_hidden_layers=1, num_labels=4, position_embedding_type=position_embedding_type
    ).train()


def fake_log_history(num_epochs=3, logs_per_epoch=2):
    """What `trainer.state.log_history` holds: train losses at fractional epochs, one eval per epoch, a summary."""
    history = []
    for epoch in range(1, num_epochs + 1):
        for step in range(1, logs_per_epoch + 1):
            history.append({"loss": 1.5 / (epoch + step), "epoch": epoch - 1 + step / logs_per_epoch})
        history.append(
            {"eval_loss": 1.2 / epoch, "eval_accuracy": 0.3 * epoch, "eval_macro_f1": 0.25 * epoch, "epoch": epoch}
        )
    return history + [{"train_loss": 0.6, "train_runtime": 1.0, "epoch": num_epochs}]


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = matplotlib.image.imread(path).shape
    assert height > 100 and width > 100


@pytest.mark.parametrize("position_embedding_type", ["learned", "sinusoidal"])
def test_write_all_plots_writes_every_plot_as_png_and_leaves_no_figure_open(tmp_path, position_embedding_type):
    plots = write_all_plots(tmp_path, fake_log_history(), tiny_model(position_embedding_type), CONFUSION, LABELS)
    assert sorted(plots) == sorted(ALL_PLOTS)
    assert all(path == f"plots/{name}.png" for name, path in plots.items())
    for path in plots.values():
        assert_png(tmp_path / path)
    assert plt.get_fignums() == []  # figures never enter pyplot's registry


def test_no_position_plots_without_a_position_table(tmp_path):
    model = tiny_model("none")
    plots = write_all_plots(tmp_path, fake_log_history(), model, CONFUSION, LABELS)
    assert sorted(plots) == ["confusion_matrix", "loss", "validation_metrics"]
    assert sorted(path.name for path in (tmp_path / "plots").iterdir()) == [f"{name}.png" for name in sorted(plots)]
    assert plot_position_table(model, tmp_path / "table.png") is None
    assert plot_position_similarity(model, tmp_path / "similarity.png") is None
    assert not (tmp_path / "table.png").exists() and not (tmp_path / "similarity.png").exists()


def test_validation_plot_survives_a_history_without_evaluation(tmp_path):
    history = [entry for entry in fake_log_history() if "eval_loss" not in entry]
    assert_png(plot_validation_metrics(history, tmp_path / "validation_metrics.png"))


def test_the_curves_mark_the_kept_epoch():
    keys = [("loss", "train"), ("eval_loss", "validation")]
    marked = curves_figure(fake_log_history(), keys, "Loss", "loss", kept_epoch=2.0).axes[0]
    kept = [line for line in marked.lines if line.get_label() == "kept: epoch 2"]
    assert len(kept) == 1 and set(kept[0].get_xdata()) == {2.0}
    assert "kept: epoch 2" in [text.get_text() for text in marked.get_legend().get_texts()]
    unmarked = curves_figure(fake_log_history(), keys, "Loss", "loss").axes[0]
    assert [line.get_label() for line in unmarked.lines] == ["train", "validation"]


def test_series_reads_one_key_per_epoch_and_keeps_the_last_repeat():
    history = fake_log_history() + [{"eval_loss": 0.1, "epoch": 3}]  # e.g. a final trainer.evaluate()
    epochs, losses = series(history, "eval_loss")
    assert epochs == [1, 2, 3]
    assert losses == pytest.approx([1.2, 0.6, 0.1])
    assert series(history, "loss")[0] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_a_multi_label_model_gets_f1_per_label_instead_of_a_confusion_matrix(tmp_path):
    history = [{**entry, "eval_micro_f1": 0.5} if "eval_loss" in entry else entry for entry in fake_log_history()]
    per_class = {name: {"precision": 0.5, "recall": 0.5, "f1": 0.1 * i, "support": i} for i, name in enumerate(LABELS)}
    plots = write_multi_label_plots(tmp_path, history, tiny_model(), {"per_class": per_class, "threshold": 0.35})
    assert sorted(plots) == ["loss", "per_class_f1", "position_embeddings", "position_similarity", "validation_f1"]
    for path in plots.values():
        assert_png(tmp_path / path)
    assert plt.get_fignums() == []


@pytest.mark.reliability
def test_a_long_position_table_is_drawn_from_at_most_max_positions_of_its_rows(tmp_path):
    """A 100,000-row table once made the similarity plot allocate 100,000 x 100,000 floats (40 GB)."""
    model = helpers.tiny_model(num_attention_heads=2, max_position_embeddings=100_000)
    positions, similarity = position_similarity(model)
    assert similarity.shape == (MAX_POSITIONS, MAX_POSITIONS) and len(positions) == MAX_POSITIONS
    assert positions[0] == 0 and positions[-1] == 99_999 and (positions[1:] > positions[:-1]).all()
    rows_drawn, dims_drawn, rows = position_table(model)
    assert rows.shape == (MAX_POSITIONS, model.config.hidden_size) and (rows_drawn == positions).all()
    weight = model.get_position_embeddings().weight
    assert rows[1].tolist() == weight[positions[1]].tolist()  # the rows themselves, not a resampling
    for plot in (plot_position_table, plot_position_similarity):
        assert_png(plot(model, tmp_path / f"{plot.__name__}.png"))


def test_a_short_table_is_drawn_whole():
    assert evenly_spaced(12).tolist() == list(range(12))
    assert position_similarity(tiny_model())[1].shape == (12, 12)


# --- what the schemes acting in attention hold ------------------------------------------------

BIAS_SCHEMES = ["alibi", "t5", "fire", "kerple"]
DISTANCE_ONLY = ["alibi", "t5", "kerple"]  # FIRE also reads the text's extent


def drawn_lines(figure):
    """{label: (x, y)} of the figure's lines, the zero marker left out."""
    return {line.get_label(): (line.get_xdata(), line.get_ydata()) for line in figure.axes[0].lines[:-1]}


@pytest.mark.parametrize("kind", BIAS_SCHEMES)
def test_a_bias_scheme_gets_its_bias_against_distance_and_no_table_plots(tmp_path, kind):
    plots = write_all_plots(tmp_path, fake_log_history(), tiny_model(kind), CONFUSION, LABELS)
    assert sorted(plots) == ["confusion_matrix", "loss", "position_bias", "validation_metrics"]
    assert_png(tmp_path / plots["position_bias"])
    assert plt.get_fignums() == []


@pytest.mark.parametrize("kind", BIAS_SCHEMES)
def test_each_heads_line_is_the_bias_of_a_query_with_d_tokens_each_side(kind):
    """Row D of `bias` over positions 0..2D: the key at distance d from the middle query, d = -D..D."""
    model = tiny_model(kind)
    module, reach = model.get_position_embeddings(), 12  # max_position_embeddings
    expected = module.bias(torch.arange(2 * reach + 1)[None], None)[0, :, reach].detach()
    lines = drawn_lines(bias_figure(model))
    assert list(lines) == [f"head {head}" for head in range(2)]
    for head, (distances, values) in enumerate(lines.values()):
        assert distances.tolist() == list(range(-reach, reach + 1))
        assert values == pytest.approx(expected[head].tolist(), abs=1e-6)


@pytest.mark.parametrize("kind", DISTANCE_ONLY)
def test_a_distance_only_bias_is_plotted_at_key_minus_query(kind):
    """The sign is the key's side: the value at d is the bias from a query at 0 to a key at d (T5's buckets
    tell the two sides apart)."""
    model = tiny_model(kind)
    module = model.get_position_embeddings()
    for head, (distances, values) in enumerate(drawn_lines(bias_figure(model)).values()):
        for d, value in zip(distances, values, strict=True):
            query, key = (0, int(d)) if d >= 0 else (int(-d), 0)
            pair = module.bias(torch.tensor([[query, key]]), None)[0, head, 0, 1].item()
            assert value == pytest.approx(pair, abs=1e-6)


def test_alibi_lines_are_minus_slope_times_distance():
    model = tiny_model("alibi")
    for (distances, values), slope in zip(drawn_lines(bias_figure(model)).values(), (2**-4, 2**-8), strict=True):
        assert values == pytest.approx((-slope * abs(distances)).tolist())


def test_distances_reach_at_most_max_positions_each_way():
    model = helpers.tiny_model(num_attention_heads=2, max_position_embeddings=100_000, position_embedding_type="alibi")
    distances, bias = bias_by_distance(model)
    assert distances.tolist() == list(range(-MAX_POSITIONS, MAX_POSITIONS + 1))
    assert bias.shape == (2, 2 * MAX_POSITIONS + 1)


def test_rotary_gets_the_cosine_of_each_pairs_angle_and_no_other_position_plot(tmp_path):
    plots = write_all_plots(tmp_path, fake_log_history(), tiny_model("rotary"), CONFUSION, LABELS)
    assert sorted(plots) == ["confusion_matrix", "loss", "rotary_angles", "validation_metrics"]
    assert_png(tmp_path / plots["rotary_angles"])
    assert plot_position_bias(tiny_model("rotary"), tmp_path / "bias.png") is None
    assert plot_rotary_angles(tiny_model("alibi"), tmp_path / "rotary.png") is None
    assert not (tmp_path / "bias.png").exists() and not (tmp_path / "rotary.png").exists()


def test_the_rotary_heatmap_is_q_dot_k_of_unit_pairs_rotated_d_apart():
    """What the card says of it: row k is the dot product of a query and a key, both the unit vector of
    frequency pair k, once the model's own rotation puts them d tokens apart."""
    model = helpers.tiny_model(num_attention_heads=2, position_embedding_type="rotary", rope_theta=500.0)
    module, reach = model.get_position_embeddings(), 12
    head_dim = model.config.hidden_size // model.config.num_attention_heads  # 8: 4 pairs
    units = torch.eye(head_dim)[: head_dim // 2, None, :].expand(-1, 2 * reach + 1, -1)[None]  # pairs as heads
    cos, sin = module.rotation(module.inv_freq, torch.arange(2 * reach + 1)[None])
    query, key = apply_rotary_pos_emb(units, units, cos, sin)
    expected = (query[0, :, reach : reach + 1] * key[0]).sum(-1)  # the query in the middle, every key
    figure = rotary_figure(model)
    assert np.asarray(figure.axes[0].images[0].get_array()) == pytest.approx(expected.numpy(), abs=1e-5)
    assert "θ = 500" in figure.axes[0].get_title()
