"""`python -m research.baseline`: TF-IDF + logistic regression on the same splits as a PosEnc run."""

import pytest
from helpers import read_metrics

from posenc_hf.training.prepare import load_data
from research.baseline import main, parse_baseline_arguments, run_baseline

WORDS = {
    "Biology": "cell enzyme protein gene membrane",
    "Chemistry": "acid bond molecule reaction salt",
    "Maths": "equation integral matrix prime angle",
    "Physics": "force energy velocity charge wave",
}


@pytest.fixture
def tiny_csv(tmp_path):
    rows = ["text,label"]
    for i in range(15):
        for label, words in WORDS.items():
            chosen = words.split()
            rows.append(f"what about the {chosen[i % 5]} and the {chosen[(i + 2) % 5]} number {i},{label}")
    path = tmp_path / "tiny.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_baseline_command_writes_its_scores(tiny_csv, tmp_path, capsys):
    argv = [str(tiny_csv), "--seed", "3", "--output_dir", str(tmp_path / "out"), "--C", "1", "10"]
    assert main(argv) == 0  # what `python -m research.baseline ...` runs
    report = read_metrics(tmp_path / "out" / "baseline")
    assert report["splits"] == {"train": 48, "validation": 6, "test": 6}
    assert report["chosen"]["C"] in (1.0, 10.0) and report["chosen"]["class_weight"] in ("none", "balanced")
    assert report["test"]["accuracy"] == 1.0  # the subject words are a perfect cue
    assert "Test accuracy 1.0000" in capsys.readouterr().out


def test_baseline_reads_a_run_config(tiny_csv, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"corpus: {tiny_csv}\nseed: 5\nhidden_size: 32\noutput_dir: {tmp_path / 'run'}\n")
    plan, args = parse_baseline_arguments([str(config), "--analyzer", "char_wb", "--C", "3"])
    assert args.seed == 5 and args.analyzer == "char_wb" and plan.data_args.corpus == str(tiny_csv)
    report = run_baseline(plan, args)
    assert report["splits"] == {split: len(rows) for split, rows in load_data(plan).items()}
    assert report["model"].startswith("TF-IDF (char_wb")
    assert main([str(config), "--C", "3"]) == 0
    assert (tmp_path / "run" / "baseline" / "metrics.json").is_file()


def test_baseline_rejects_an_unknown_analyzer(tiny_csv):
    with pytest.raises(ValueError, match="analyzer"):
        parse_baseline_arguments([str(tiny_csv), "--analyzer", "bytes"])
