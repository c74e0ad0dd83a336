"""Run `train/run.py` and record the rows each process trains on: the token ids of every training
batch (padding left out), one JSON line per batch, in `$ROWS_DIR/rank-$RANK.jsonl`. Everything else
is the real command: `python rows_harness.py CONFIG.yaml ...` trains like `python train/run.py CONFIG.yaml ...`.

Not a test module (pytest collects `test_*.py` only); `test_streaming.py` (the DDP test) runs it.
"""

import json
import os
import runpy
import sys
from pathlib import Path

import posenc_hf.training.prepare as training

RUN = Path(__file__).resolve().parents[2] / "train" / "run.py"


def recording(training_step, path):
    """`Trainer.training_step`, writing the batch's rows to `path` first."""

    def step(model, inputs, *args, **kwargs):
        rows = [
            ids[mask.bool()].tolist() for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"], strict=True)
        ]
        with path.open("a") as file:
            file.write(json.dumps(rows) + "\n")
        return training_step(model, inputs, *args, **kwargs)

    return step


def main():
    path = Path(os.environ["ROWS_DIR"]) / f"rank-{os.environ.get('RANK', '0')}.jsonl"
    build_trainer = training.build_trainer

    def build_recording_trainer(*args, **kwargs):
        trainer = build_trainer(*args, **kwargs)
        trainer.training_step = recording(trainer.training_step, path)
        return trainer

    training.build_trainer = build_recording_trainer
    sys.argv = [str(RUN), *sys.argv[1:]]
    runpy.run_path(str(RUN), run_name="__main__")


if __name__ == "__main__":
    main()
