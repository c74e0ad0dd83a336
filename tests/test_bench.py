"""The speed benchmark's parts, each run once on the smoke shape (`SMOKE_SHAPES["tiny"]`, 2 repeats, no
timed blocks): what every part measures and reports, never how fast (no timing checks). One test runs
the command's `main(["--smoke"])` in this process, with the two slow parts replaced (the ONNX Runtime
route, which has its own test, and the memory children)."""

import json
import math

import pytest
import torch
from transformers import BertForSequenceClassification

from bench import decisions, flops, memory, positions, profiling, report, routes, run, scaling
from bench.models import (
    MODELS,
    PAD_FRACTION,
    SHAPES,
    SMOKE_SHAPES,
    X_TRANSFORMERS_PEERS,
    build,
    build_x_transformers,
    dropouts,
    make_batch,
    pad_fraction,
    x_transformers_schemes,
)
from bench.timing import interleaved, paired_ratio, summary, throughput
from posenc_hf import PosEncConfig, PosEncForSequenceClassification
from posenc_hf.model.configuration_posenc import POSITION_EMBEDDING_TYPES

TINY = SMOKE_SHAPES["tiny"]
REPEATS, BLOCK_S = 2, 0.0  # one call per timed block
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STATS_KEYS = {"median", "min", "max", "q1", "q3", "n"}


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """The bench sets torch's thread count (`--smoke`: one); the tests after these keep theirs."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def has_onnx():
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def has_x_transformers():
    return positions.has_x_transformers()


# --- models and batches -----------------------------------------------------------------------


def test_each_model_is_built_at_the_shape_with_its_dropouts():
    default = PosEncConfig()  # its default dropouts: what a user of the package gets
    ours = PosEncForSequenceClassification
    expected = {
        "posenc_default": (ours, default.hidden_dropout_prob, default.attention_probs_dropout_prob),
        "posenc_same": (ours, 0.1, 0.1),
        "bert": (BertForSequenceClassification, 0.1, 0.1),
    }
    assert set(expected) == set(MODELS)
    for name, (cls, hidden, attention) in expected.items():
        model = build(name, TINY)
        config = model.config
        assert type(model) is cls, name
        sizes = (config.vocab_size, config.hidden_size, config.num_attention_heads, config.num_hidden_layers)
        assert sizes == (TINY.vocab_size, TINY.hidden_size, TINY.num_attention_heads, TINY.num_hidden_layers)
        assert (config.intermediate_size, config.max_position_embeddings, config.num_labels) == (32, TINY.seq, 4)
        assert (dropouts(model)["hidden"], dropouts(model)["attention"]) == (hidden, attention), name
    with pytest.raises(ValueError, match="'gpt'"):
        build("gpt", TINY)


def test_padded_batches_hold_the_planned_share_of_padding():
    padded, full = make_batch(TINY, padded=True), make_batch(TINY, padded=False)
    lengths = padded["attention_mask"].sum(dim=1)
    assert lengths.max() == TINY.seq and lengths.min() == round((1 - 2 * PAD_FRACTION) * TINY.seq)
    assert pad_fraction(padded) == pytest.approx(1 - lengths.sum().item() / (TINY.batch * TINY.seq))
    assert abs(pad_fraction(padded) - PAD_FRACTION) < 0.1  # 4 rows of 12 tokens: as near as rounding allows
    assert (padded["input_ids"][padded["attention_mask"] == 0] == 0).all()  # padding is token 0
    assert pad_fraction(full) == 0 and full["input_ids"].min() > 0
    assert padded["labels"].shape == (TINY.batch,) and padded["labels"].max() < TINY.num_labels


# --- timing -------------------------------------------------------------------------------------


def test_summary_throughput_and_paired_ratio():
    assert summary([4.0, 1.0, 3.0, 2.0]) == {"median": 2.5, "min": 1.0, "max": 4.0, "q1": 1.25, "q3": 3.75, "n": 4}
    assert summary([2.0]) == {"median": 2.0, "min": 2.0, "max": 2.0, "q1": 2.0, "q3": 2.0, "n": 1}
    assert throughput([0.5, 0.25], samples=4)["median"] == 12.0  # 8 and 16 samples/s
    ratios = paired_ratio([2.0, 6.0, 3.0], [1.0, 2.0, 3.0])  # per repeat: 2, 3, 1
    assert (ratios["median"], ratios["min"], ratios["max"]) == (2.0, 1.0, 3.0)


def test_interleaved_rotates_the_order_every_repeat():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    seconds = interleaved(fns, repeats=3, block_s=BLOCK_S, device="cpu")
    assert {name: len(values) for name, values in seconds.items()} == {"a": 3, "b": 3, "c": 3}
    assert calls[:6] == ["a", "a", "b", "b", "c", "c"]  # calibration: each twice (warm-up, then timed)
    assert calls[6:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # one call per block: no block_s to fill


# --- the measurements, at the smoke shape ------------------------------------------------------


@pytest.mark.parametrize("padded", [True, False])
def test_compare_measures_every_model_and_pairs_each_with_bert(padded):
    rows, ratios = run.compare(TINY, padded, REPEATS, BLOCK_S, "cpu")
    assert [row["model"] for row in rows] == list(MODELS)
    for row in rows:
        assert (row["shape"], row["padded"]) == ("tiny", padded)
        assert row["pad_fraction"] == pad_fraction(make_batch(TINY, padded))
        assert row["dropouts"] == dropouts(build(row["model"], TINY))
        for key in ("train_samples_per_s", "infer_samples_per_s", "latency_ms"):
            assert set(row[key]) == STATS_KEYS and row[key]["n"] == REPEATS, key
        assert row["forward_flops_per_sample"] == flops.forward_flops(TINY, row["model"])
        assert row["train_flops_per_sample"] == 3 * row["forward_flops_per_sample"] > 0
    assert (ratios["shape"], ratios["padded"]) == ("tiny", padded)
    assert set(ratios["speed_vs_bert"]) == {
        f"{mode} {name}" for mode in ("train", "infer", "latency") for name in ("posenc_default", "posenc_same")
    }


def test_flops_count_bert_s_pooler_on_top_of_the_same_encoder():
    ours, bert = flops.forward_flops(TINY, "posenc_default"), flops.forward_flops(TINY, "bert")
    assert bert - ours == 2 * TINY.hidden_size**2  # BERT's dense pooler; the encoders are the same size
    assert flops.train_flops(TINY, "bert") == 3 * bert


def test_peak_share_and_targets_come_from_the_medians():
    row = {"train_flops_per_sample": 2e9, "forward_flops_per_sample": 1e9}
    row |= {"train_samples_per_s": {"median": 5.0}, "infer_samples_per_s": {"median": 10.0}}
    run.add_peak_share([row], peak_gflops=20.0)
    assert (row["train_gflops"], row["train_share_of_peak"]) == (10.0, 0.5)
    assert (row["infer_gflops"], row["infer_share_of_peak"]) == (10.0, 0.5)
    medians = {"train posenc_same": 1.4, "train posenc_default": 2.0, "infer posenc_default": 1.5}
    entry = {"shape": "tiny", "padded": True, "speed_vs_bert": {k: {"median": v} for k, v in medians.items()}}
    checks = {check["target"]: (check["got"], check["met"]) for check in run.check_targets([entry])}
    assert checks == {
        "train posenc_same": (1.4, True),  # needs 1.3
        "train posenc_default": (2.0, False),  # needs 3
        "infer posenc_default": (1.5, True),  # needs 1.5: at the target is met
    }


def test_matmul_peak_is_measured_per_repeat():
    peak = flops.matmul_peak("cpu", 64, REPEATS, BLOCK_S)
    assert set(peak) == STATS_KEYS and peak["n"] == REPEATS


def test_decisions_compare_each_candidate_with_the_first():
    rows = decisions.all_decisions([TINY], REPEATS, BLOCK_S, "cpu")
    expected = {name: modes for name, (modes, _) in decisions.candidates("cpu").items()}
    expected["attention kernel precision (SDPA alone)"] = ("train", "infer")
    assert {row["decision"] for row in rows} == set(expected)
    for decision, modes in expected.items():
        mine = [row for row in rows if row["decision"] == decision]
        assert {row["mode"] for row in mine} == set(modes), decision
        first = mine[0]["candidate"]  # the reference: its ratio to itself is 1 in every repeat
        assert all(row["speed_vs_first"]["median"] == 1.0 for row in mine if row["candidate"] == first), decision


def test_inference_routes_cover_both_models_through_the_same_routes(monkeypatch):
    """Every route measured for ours and BERT; ONNX Runtime (when installed) stands in as eager here and
    has its own test below."""
    monkeypatch.setattr(routes, "onnx_route", routes.eager_route)
    measured = routes.measure(TINY, REPEATS, BLOCK_S, "cpu", compile_models=False)
    names = {"eager", "int8 dynamic", "bf16 autocast"} | ({"onnxruntime"} if has_onnx() else set())
    assert {(row["model"], row["route"]) for row in measured["rows"]} == {
        (model, route) for model in routes.ROUTE_MODELS for route in names
    }
    assert set(measured["ours_vs_bert"]) == names
    eager = [row for row in measured["rows"] if row["route"] == "eager"]
    assert [row["vs_eager"]["median"] for row in eager] == [1.0, 1.0]
    assert routes.measure(TINY, REPEATS, BLOCK_S, "cuda") is None  # CPU routes only


@pytest.mark.parametrize("model_name", routes.ROUTE_MODELS)
def test_the_onnx_runtime_route_runs_the_exported_model(model_name):
    pytest.importorskip("onnxruntime", reason="the ONNX route needs pip install 'posenc_hf[export]'")
    pytest.importorskip("onnxscript")
    batch = make_batch(TINY, padded=True)
    inputs = {key: batch[key] for key in ("input_ids", "attention_mask")}
    forward = routes.onnx_route(build(model_name, TINY).eval(), inputs)  # exports, then opens a session
    forward()  # runs the session on the padded batch, as each timed call does


def test_scaling_sweeps_length_and_depth_at_a_fixed_token_count(tmp_path):
    points = scaling.sweep(TINY, [8, 12], [1, 2], 48, REPEATS, BLOCK_S, "cpu")
    assert [(p["seq"], p["batch"]) for p in points["seq"]] == [(8, 6), (12, 4)]  # 48 tokens each
    assert [(p["layers"], p["batch"]) for p in points["depth"]] == [(1, 4), (2, 4)]
    series = {f"{name}/{mode}" for name in MODELS for mode in ("train", "infer")}
    assert all(series <= set(point) for point in points["seq"] + points["depth"])
    scaling.plot(points, tmp_path / "scaling.png", "tiny")
    assert (tmp_path / "scaling.png").read_bytes()[:8] == PNG_SIGNATURE


def test_profile_splits_a_step_into_kinds_of_work():
    assert [profiling.category(op) for op in ("aten::mm", "aten::_softmax", "aten::bernoulli_", "aten::add")] == [
        "linear matmuls",
        "attention",
        "dropout masks",
        "other",
    ]
    profiles = profiling.profile_all(TINY, "cpu", steps=1, rows=5)
    assert set(profiles) == set(MODELS)
    for name, (table, ops, split) in profiles.items():
        assert "Self CPU" in table and len(ops) == 5, name
        assert set(split) == {*profiling.CATEGORIES, "other", "total"}
        assert sum(value for kind, value in split.items() if kind != "total") == pytest.approx(split["total"])
        assert split["linear matmuls"] > 0 and split["attention"] > 0, name


def test_memory_reports_inference_and_training_peaks():
    spec = {"device": "cpu", "threads": 1, "shape": TINY.asdict(), "model": "bert", "padded": True}
    peaks = memory.measure(spec)
    assert set(peaks) == {"infer_mb", "train_mb"} and all(math.isfinite(value) for value in peaks.values())


# --- position schemes -------------------------------------------------------------------------------


def test_scheme_shapes_are_the_training_configs():
    shapes = positions.scheme_shapes()
    assert list(shapes) == ["subject", "sentiment"]
    assert shapes["subject"].asdict() == SHAPES["subject"].asdict()  # the main comparison's subject shape
    sentiment = shapes["sentiment"]  # configs/sentiment.yaml: max_length 64, batch 32, hidden 128, 3 layers
    assert (sentiment.seq, sentiment.batch, sentiment.hidden_size, sentiment.num_hidden_layers) == (64, 32, 128, 3)
    assert (sentiment.num_attention_heads, sentiment.ffn, sentiment.vocab_size) == (8, 512, 8000)


@pytest.mark.parametrize("scheme", x_transformers_schemes(flash=False))
def test_the_x_transformers_peer_has_our_sizes_and_dropouts_and_masks_padding(scheme):
    pytest.importorskip("x_transformers", reason="the peer rows need pip install 'posenc_hf[research]'")
    peer, ours = build_x_transformers(TINY, scheme), build("posenc_default", TINY, position_embedding_type=scheme)
    hidden = TINY.hidden_size
    ours_linears = []
    for module in ours.modules():
        if isinstance(module, torch.nn.Linear):  # ours fuses q, k and v in one (3 × hidden) projection
            fused = tuple(module.weight.shape) == (3 * hidden, hidden)
            ours_linears += [(hidden, hidden)] * 3 if fused else [tuple(module.weight.shape)]
    peer_linears = [tuple(m.weight.shape) for m in peer.modules() if isinstance(m, torch.nn.Linear)]
    assert sorted(peer_linears) == sorted(ours_linears)  # same hidden, layers, feed-forward width, labels
    assert (TINY.intermediate_size, hidden) in peer_linears
    tables = {tuple(m.weight.shape) for m in peer.modules() if isinstance(m, torch.nn.Embedding)}
    assert ((TINY.seq, TINY.hidden_size) in tables) == (scheme == "learned")  # the absolute table: learned only
    config = PosEncConfig()
    assert dropouts(peer)["hidden"] == config.hidden_dropout_prob
    assert dropouts(peer)["attention"] == config.attention_probs_dropout_prob
    batch = make_batch(TINY, padded=True)
    changed = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, 7)  # other tokens at the padding
    peer.eval()
    with torch.no_grad():
        logits = peer(batch["input_ids"], batch["attention_mask"]).logits
        assert logits.shape == (TINY.batch, TINY.num_labels)
        assert torch.allclose(peer(changed, batch["attention_mask"]).logits, logits, atol=1e-5)
    peer.train()
    peer(**batch).loss.backward()
    assert all(p.grad is not None for p in peer.parameters() if p.requires_grad)


def test_scheme_rows_cover_every_scheme_and_each_peer_scheme():
    rows = positions.compare_schemes(TINY, True, REPEATS, BLOCK_S, "cpu")
    peers = {peer: x_transformers_schemes(flash) for peer, flash in X_TRANSFORMERS_PEERS.items()}
    expected = [("posenc", scheme) for scheme in POSITION_EMBEDDING_TYPES]
    if has_x_transformers():
        expected += [(peer, scheme) for peer, schemes in peers.items() for scheme in schemes]
    assert [(row["implementation"], row["scheme"]) for row in rows] == expected
    for row in rows:
        assert (row["shape"], row["padded"]) == ("tiny", True) and row["parameters"] > 0
        for mode in ("train", "infer"):
            assert set(row[f"{mode}_samples_per_s"]) == STATS_KEYS and row[f"{mode}_samples_per_s"]["n"] == REPEATS
            if row["scheme"] == "learned":  # each implementation's reference: a ratio of 1 in every repeat
                assert row[f"{mode}_cost_vs_learned"]["max"] == row[f"{mode}_cost_vs_learned"]["min"] == 1.0
        if row["implementation"] == "posenc":
            shared = {peer for peer, schemes in peers.items() if row["scheme"] in schemes and has_x_transformers()}
            assert set(row["speed_vs_peers"]) == shared, row["scheme"]
            assert all(set(ratios) == {"train", "infer"} for ratios in row["speed_vs_peers"].values())
        else:
            assert "speed_vs_peers" not in row


def test_scheme_targets_bound_each_cost_and_the_lead_at_the_first_shape():
    def row(scheme, cost, lead=None, shape="subject", implementation="posenc"):
        peers = {} if lead is None else {positions.LEAD_PEER: {m: {"median": lead} for m in ("train", "infer")}}
        costs = {f"{m}_cost_vs_learned": {"median": cost} for m in ("train", "infer")}
        return {"shape": shape, "padded": True, "implementation": implementation, "scheme": scheme, **costs,
                "speed_vs_peers": peers}  # fmt: skip

    rows = [row("learned", 1.0, lead=4.2), row("t5", 1.31, lead=2.4), row("none", 1.3)]
    rows += [row("fire", 9.0, shape="sentiment"), row("alibi", 9.0, implementation="x_transformers")]  # not checked
    checks = {(c["scheme"], c["mode"], c["target"]): c["met"] for c in positions.check_targets(rows, "subject")}
    assert checks == {
        ("learned", "train", "cost vs learned"): True,
        ("learned", "infer", "cost vs learned"): True,
        ("learned", "train", "lead over x-transformers"): True,  # 4.2 ≥ 2.5
        ("learned", "infer", "lead over x-transformers"): True,  # 4.2 ≥ 4.1
        ("t5", "train", "cost vs learned"): False,  # 1.31 > 1.3
        ("t5", "infer", "cost vs learned"): False,
        ("t5", "train", "lead over x-transformers"): False,  # 2.4 < 2.5
        ("t5", "infer", "lead over x-transformers"): False,
        ("none", "train", "cost vs learned"): True,  # at the bound is met
        ("none", "infer", "cost vs learned"): True,
    }


def test_positions_command_writes_its_results_and_report(tmp_path):
    results = positions.main(["--smoke", "--out", str(tmp_path)])
    assert {"cpu_capability", "torch_threads"} <= set(results["machine"])
    assert set(results["matmul_peak_gflops"]) == {"size", "before", "after", "median"}
    assert results["shapes"] == {"tiny": TINY.asdict()}
    assert {(row["padded"], row["scheme"]) for row in results["positions"]["rows"]} == {
        (padded, scheme) for padded in (True, False) for scheme in POSITION_EMBEDDING_TYPES
    }
    assert json.loads((tmp_path / "positions.json").read_text()) == json.loads(json.dumps(results))
    text = (tmp_path / "positions.md").read_text()
    assert text == positions.markdown(results)
    assert "## Machine" in text and "fp32 matmul peak" in text and "## Position schemes" in text
    for scheme in POSITION_EMBEDDING_TYPES:
        assert f"| posenc | {scheme} |" in text, scheme


# --- the command -----------------------------------------------------------------------------------


def test_smoke_command_writes_results_report_profile_and_plot(tmp_path, monkeypatch):
    monkeypatch.setattr(routes, "onnx_route", routes.eager_route)  # measured above
    monkeypatch.setattr(memory, "measure_in_subprocess", memory.measure)  # no fork of a busy test process
    results = run.main(["--smoke", "--out", str(tmp_path)])
    assert set(results) == {
        *("machine", "settings", "shapes", "matmul_peak_gflops", "results", "ratios", "targets", "decisions"),
        *("compile", "inference_routes", "positions", "scaling", "profile", "wall_s"),
    }
    assert {"cpu", "logical_cores", "torch", "transformers", "torch_threads"} <= set(results["machine"])
    assert results["settings"]["smoke"] is True and results["machine"]["torch_threads"] == 1
    assert results["shapes"] == {"tiny": TINY.asdict()}
    assert {(row["model"], row["padded"]) for row in results["results"]} == {
        (model, padded) for model in MODELS for padded in (True, False)
    }
    for row in results["results"]:
        assert set(row["peak_memory_mb"]) == {"train_mb", "infer_mb"}
        peak = results["matmul_peak_gflops"]["median"]
        assert row["train_share_of_peak"] == pytest.approx(row["train_gflops"] / peak)
        assert row["infer_share_of_peak"] == pytest.approx(row["infer_gflops"] / peak)
    assert [(t["padded"], t["target"]) for t in results["targets"]] == [
        (padded, target) for padded in (True, False) for target in run.TARGETS
    ]
    assert results["compile"] is None  # not in a smoke run
    assert {(row["shape"], row["scheme"]) for row in results["positions"]["rows"]} == {
        ("tiny", scheme) for scheme in POSITION_EMBEDDING_TYPES
    }
    assert set(results["profile"]) == set(MODELS)
    written = {path.name: path for path in tmp_path.iterdir()}
    assert set(written) == {"results.json", "results.md", "profile.md", "scaling.png"}
    assert json.loads(written["results.json"].read_text()) == json.loads(json.dumps(results))
    assert written["results.md"].read_text() == report.markdown(results)
    assert written["profile.md"].read_text().startswith("# Training-step profiles")
    headings = ("## Machine", "## Speed against BERT", "## Per model", "## Decisions", "## Inference routes")
    for heading in (*headings, "## Position schemes"):
        assert heading in written["results.md"].read_text(), heading
    assert written["scaling.png"].read_bytes()[:8] == PNG_SIGNATURE
