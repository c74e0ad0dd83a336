"""The speed benchmark runs end to end in smoke mode and writes what the docs promise (no timing checks)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

TOP_KEYS = {"machine", "settings", "shapes", "matmul_peak_gflops", "results", "ratios", "targets", "decisions"}
TOP_KEYS |= {"compile", "inference_routes", "scaling", "profile", "wall_s"}
ROW_KEYS = {"shape", "padded", "pad_fraction", "model", "dropouts", "train_samples_per_s", "infer_samples_per_s"}
ROW_KEYS |= {"latency_ms", "peak_memory_mb", "forward_flops_per_sample", "train_flops_per_sample"}
ROW_KEYS |= {"train_share_of_peak", "infer_share_of_peak"}
STATS_KEYS = {"median", "min", "max", "q1", "q3", "n"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Run `python -m bench --smoke` once into a temporary folder; return (folder, parsed results.json)."""
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "bench", "--smoke", "--out", str(out)]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, text=True, timeout=600)
    return out, json.loads((out / "results.json").read_text())


def test_smoke_writes_all_outputs(smoke):
    out, _ = smoke
    for name in ("results.json", "results.md", "profile.md", "scaling.png"):
        assert (out / name).stat().st_size > 0, name


def test_results_json_has_expected_keys(smoke):
    _, results = smoke
    assert TOP_KEYS <= set(results)
    assert {"cpu", "logical_cores", "torch", "transformers", "torch_threads"} <= set(results["machine"])
    assert results["settings"]["smoke"] is True


def test_every_model_and_padding_is_measured(smoke):
    _, results = smoke
    measured = {(row["model"], row["padded"]) for row in results["results"]}
    assert measured == {(m, p) for m in ("posenc_default", "posenc_same", "bert") for p in (True, False)}
    for row in results["results"]:
        assert ROW_KEYS <= set(row)
        assert STATS_KEYS <= set(row["train_samples_per_s"])
        assert row["train_flops_per_sample"] == 3 * row["forward_flops_per_sample"] > 0
        assert {"train_mb", "infer_mb"} <= set(row["peak_memory_mb"])


def test_ratios_targets_decisions_and_scaling(smoke):
    _, results = smoke
    for entry in results["ratios"]:
        assert {"train posenc_same", "train posenc_default", "infer posenc_default"} <= set(entry["speed_vs_bert"])
    assert {t["target"] for t in results["targets"]} == {
        "train posenc_same",
        "train posenc_default",
        "infer posenc_default",
    }
    assert {"attention dropout", "hidden dropout", "attention kernel", "threads"} <= {
        d["decision"] for d in results["decisions"]
    }
    assert results["scaling"]["seq"] and results["scaling"]["depth"]
    assert set(results["profile"]) == {"posenc_default", "posenc_same", "bert"}


def test_inference_routes_cover_both_models_through_the_same_routes(smoke):
    out, results = smoke
    routes = results["inference_routes"]
    measured = {(row["model"], row["route"]) for row in routes["rows"]}
    names = {"eager", "int8 dynamic", "bf16 autocast"} | ({"onnxruntime"} if _has_onnx() else set())
    assert measured == {(model, route) for model in ("posenc_default", "bert") for route in names}
    assert set(routes["ours_vs_bert"]) == names
    assert "## Inference routes" in (out / "results.md").read_text()


def _has_onnx():
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True
