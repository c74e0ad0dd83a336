"""Measured diagnostics of a PosEnc encoder: what goes wrong when self-attention layers are stacked.

- attention entropy per layer and head, and the share of collapsed heads (near-uniform or near-one-hot);
- gradient norm per layer during training (`GradientNormCallback`, a `TrainerCallback`);
- position information per layer (a linear probe that predicts each token's absolute position);
- the position table: cosine similarity, similarity against distance, effective rank.

Each works on any PosEnc model, in memory or a saved folder, and a list of texts:

    report = diagnose("runs/order/model", load_corpus("order")["test"]["text"])

or from the shell: `python -m research.diagnostics runs/order/model --corpus order`.
"""

import argparse
import json
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback

from posenc_hf.folder.plots import save

# A head is collapsed when its mean normalised entropy (1 = uniform over the unpadded keys, 0 = all
# weight on one key) is at least UNIFORM_THRESHOLD (it averages ~all tokens: e^(0.95·ln 16) ≈ 14 of
# 16 keys) or at most ONE_HOT_THRESHOLD (it copies one token: e^(0.05·ln 16) ≈ 1.15 of 16 keys).
# Short texts read as more uniform: over 3 keys, half the weight on one and a quarter on each other
# already scores 0.95, so compare entropies between corpora of similar lengths only.
UNIFORM_THRESHOLD = 0.95
ONE_HOT_THRESHOLD = 0.05


# ----------------------------------------------------------------------------------------------
# Inputs: a model and its tokenizer, texts as padded batches, one forward pass that keeps everything.


def load_model(model_or_path, tokenizer=None):
    """(model in eval mode, tokenizer) from a saved folder or an in-memory model."""
    if isinstance(model_or_path, torch.nn.Module):
        return model_or_path.eval(), tokenizer
    model = AutoModelForSequenceClassification.from_pretrained(model_or_path)
    return model.eval(), tokenizer or AutoTokenizer.from_pretrained(model_or_path)


def batches(tokenizer, texts, batch_size=64):
    """Padded, truncated batches of `texts` (right padding, so a token's position is its index)."""
    texts = list(texts)
    for start in range(0, len(texts), batch_size):
        yield tokenizer(texts[start : start + batch_size], padding=True, truncation=True, return_tensors="pt")


@torch.no_grad()
def forward_all(model, tokenizer, texts, batch_size=64):
    """Per batch: (attention mask, hidden states per layer, attention weights per layer).

    Hidden states are the embeddings' output then each layer's; asking for the attention weights
    runs eager attention.
    """
    device = next(model.parameters()).device
    outputs = []
    for batch in batches(tokenizer, texts, batch_size):
        batch = {name: tensor.to(device) for name, tensor in batch.items() if name in ("input_ids", "attention_mask")}
        out = model.base_model(**batch, output_hidden_states=True, output_attentions=True)
        outputs.append((batch["attention_mask"].cpu(), [h.cpu() for h in out.hidden_states], out.attentions))
    return outputs


# ----------------------------------------------------------------------------------------------
# Attention entropy and collapse.


def normalized_entropy(weights, attention_mask):
    """Entropy of each real query's attention over the real keys, divided by log(unpadded length).

    `weights` is (batch × heads × queries × keys), `attention_mask` (batch × length) with 1 for real
    tokens. Returns (real queries × heads); sequences of one token (log 1 = 0) are left out.
    """
    lengths = attention_mask.sum(dim=-1).to(weights.dtype)  # (batch,)
    entropy = -torch.special.xlogy(weights, weights).sum(dim=-1)  # (batch, heads, queries)
    entropy = entropy / lengths.clamp(min=2).log()[:, None, None]
    keep = attention_mask.bool() & (lengths[:, None] >= 2)  # (batch, queries)
    return entropy.permute(0, 2, 1)[keep]


def collapse_shares(entropy_per_head):
    """Share of heads near-uniform, near-one-hot, and either, from mean normalised entropies."""
    entropy = torch.as_tensor(entropy_per_head).flatten()
    uniform = (entropy >= UNIFORM_THRESHOLD).float().mean().item()
    one_hot = (entropy <= ONE_HOT_THRESHOLD).float().mean().item()
    return {"uniform_share": uniform, "one_hot_share": one_hot, "collapsed_share": uniform + one_hot}


def attention_report(forward_outputs):
    """Mean normalised entropy per layer and head (layers × heads), per layer, and collapse shares."""
    num_layers = len(forward_outputs[0][2])
    per_head = []
    for layer in range(num_layers):
        entropies = torch.cat([normalized_entropy(att[layer].float().cpu(), mask) for mask, _, att in forward_outputs])
        per_head.append(entropies.mean(dim=0))
    per_head = torch.stack(per_head)
    return {
        "entropy": per_head.tolist(),
        "entropy_per_layer": per_head.mean(dim=1).tolist(),
        **collapse_shares(per_head),
    }


# ----------------------------------------------------------------------------------------------
# Gradient norm per layer, during training.


def layer_gradient_norms(model):
    """The L2 norm of the gradient of each encoder layer's parameters (0 where there is none yet)."""
    norms = []
    for layer in model.base_model.layers:
        grads = [p.grad.detach().float().norm() for p in layer.parameters() if p.grad is not None]
        norms.append(torch.stack(grads).norm().item() if grads else 0.0)
    return norms


class GradientNormCallback(TrainerCallback):
    """Record each encoder layer's gradient norm at every optimizer step.

    The norms are taken just before `optimizer.step()`, after gradient clipping (which scales every
    layer alike, so ratios between layers are the model's own). `history` holds one entry per step,
    `{"step": s, "norms": [layer 1, layer 2, ...]}`; each logged Trainer entry gains
    `grad_norm_layer_<i>` (i = 1, 2, ...), the mean since the previous log; `plot(path)` draws them.
    """

    def __init__(self):
        self.history = []
        self._since_log = []

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        norms = layer_gradient_norms(model)
        self.history.append({"step": state.global_step + 1, "norms": norms})
        self._since_log.append(norms)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self._since_log:
            return
        means = np.mean(self._since_log, axis=0)
        entry = {f"grad_norm_layer_{i}": float(norm) for i, norm in enumerate(means, start=1)}
        self._since_log = []
        if logs is not None:
            logs.update(entry)  # for the reporting callbacks that come after this one
        if state.log_history:
            state.log_history[-1].update(entry)  # Trainer appended this log before calling us

    def norms(self):
        """(steps × layers) array of the recorded norms."""
        return np.array([entry["norms"] for entry in self.history])

    def plot(self, path, title="Gradient norm per layer"):
        return plot_gradient_norms(self.norms(), path, title, steps=[entry["step"] for entry in self.history])


def draw_gradient_norms(axes, norms, steps=None):
    """One line per layer against optimizer step (1, 2, ... unless `steps` says), on a log scale."""
    norms = np.asarray(norms)
    steps = np.arange(1, len(norms) + 1) if steps is None else steps
    for layer, column in enumerate(norms.T):
        axes.plot(steps, column, label=f"layer {layer + 1}", linewidth=1)
    axes.set(xlabel="optimizer step", ylabel="gradient L2 norm", yscale="log")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=6, ncols=2)


def plot_gradient_norms(norms, path, title="Gradient norm per layer", steps=None):
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    draw_gradient_norms(axes, norms, steps)
    axes.set_title(title)
    return save(figure, path)


# ----------------------------------------------------------------------------------------------
# Position information per layer: can a linear probe read a token's absolute position?


def token_features(hidden_states, attention_mask):
    """(features, positions, sequence ids) of the real tokens of one batch of one layer."""
    keep = attention_mask.bool()
    positions = torch.arange(attention_mask.shape[1]).expand_as(attention_mask)
    sequences = torch.arange(attention_mask.shape[0])[:, None].expand_as(attention_mask)
    return hidden_states[keep].float().numpy(), positions[keep].numpy(), sequences[keep].numpy()


def probe_accuracy(features, positions, sequences, test_share=0.3, seed=0):
    """Accuracy of a logistic-regression probe predicting `positions` from `features`.

    The probe trains on the tokens of 70% of the sequences and is scored on the tokens of the others,
    so it never sees a test sequence. One BLAS thread: on small problems more threads only fight
    (seconds instead of tens of milliseconds on a busy machine).
    """
    ids = np.unique(sequences)
    test_ids = np.random.default_rng(seed).permutation(ids)[: max(1, int(len(ids) * test_share))]
    test = np.isin(sequences, test_ids)
    scaler = StandardScaler().fit(features[~test])
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe = LogisticRegression(max_iter=300).fit(scaler.transform(features[~test]), positions[~test])
    return float(probe.score(scaler.transform(features[test]), positions[test]))


def position_probe(forward_outputs, test_share=0.3, seed=0):
    """Probe accuracy per hidden state (index 0 = embeddings, i = after layer i), and the majority baseline."""
    masks = [mask for mask, _, _ in forward_outputs]
    offsets = np.cumsum([0] + [mask.shape[0] for mask in masks])
    accuracies = []
    for layer in range(len(forward_outputs[0][1])):
        parts = [token_features(hidden[layer], mask) for mask, hidden, _ in forward_outputs]
        features = np.concatenate([p[0] for p in parts])
        positions = np.concatenate([p[1] for p in parts])
        sequences = np.concatenate([p[2] + offset for p, offset in zip(parts, offsets, strict=False)])
        accuracies.append(probe_accuracy(features, positions, sequences, test_share, seed))
    majority = np.bincount(positions).max() / len(positions)
    return {"accuracy_per_layer": accuracies, "majority_baseline": float(majority)}


# ----------------------------------------------------------------------------------------------
# The position table.


def position_table(model, num_positions=None):
    """The first `num_positions` rows of the (positions × hidden) table, or None when there is none."""
    weight = model.get_position_embeddings().weight
    return None if weight is None else weight.detach().float().cpu()[:num_positions]


def cosine_similarity_matrix(table):
    unit = F.normalize(torch.as_tensor(table, dtype=torch.float32), dim=-1)
    return unit @ unit.T


def similarity_by_distance(table):
    """Mean cosine similarity of two positions against their distance |i - j| (index = distance)."""
    similarity = cosine_similarity_matrix(table)
    return [similarity.diagonal(offset=d).mean().item() for d in range(similarity.shape[0])]


def effective_rank(table):
    """exp(entropy of the normalised singular values) (Roy & Vetterli, 2007): n for an n × n identity."""
    singular = torch.linalg.svdvals(torch.as_tensor(table, dtype=torch.float64))
    share = singular / singular.sum()
    return math.exp(-torch.special.xlogy(share, share).sum().item())


def table_report(model, num_positions=None):
    """Similarity against distance and effective rank of the table's first `num_positions` rows."""
    table = position_table(model, num_positions)
    if table is None:
        return None
    return {
        "num_positions": table.shape[0],
        "effective_rank": effective_rank(table),
        "similarity_by_distance": similarity_by_distance(table),
    }


# ----------------------------------------------------------------------------------------------
# Everything at once.


def diagnose(model_or_path, texts, tokenizer=None, batch_size=64, max_texts=512, seed=0):
    """Attention, position-probe and position-table diagnostics of a model on (up to `max_texts`) texts."""
    model, tokenizer = load_model(model_or_path, tokenizer)
    if tokenizer is None:
        raise ValueError("an in-memory model needs its tokenizer: diagnose(model, texts, tokenizer)")
    texts = list(texts)[:max_texts]
    outputs = forward_all(model, tokenizer, texts, batch_size)
    longest = max(mask.shape[1] for mask, _, _ in outputs)
    return {
        "attention": attention_report(outputs),
        "position_probe": position_probe(outputs, seed=seed),
        "position_table": table_report(model, longest),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m research.diagnostics", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a saved PosEnc model folder (with its tokenizer)")
    parser.add_argument("--corpus", default="order", help="a load_corpus source; its test split is used")
    parser.add_argument("--max_texts", type=int, default=512)
    parser.add_argument("--out", help="write the JSON report here instead of printing it")
    return parser.parse_args(argv)


def main(argv=None):
    from posenc_hf.data.sources import load_corpus

    args = parse_args(argv)
    texts = load_corpus(args.corpus)["test"]["text"]
    report = json.dumps(diagnose(args.model, texts, max_texts=args.max_texts), indent=2)
    if args.out:
        with open(args.out, "w") as file:
            file.write(report + "\n")
    else:
        print(report)


if __name__ == "__main__":
    main()
