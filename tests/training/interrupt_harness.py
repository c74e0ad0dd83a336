"""Run `train/run.py` with one test hook: before optimizer step `PAUSE_AFTER_STEP + 1` starts, write
the process id to `PAUSE_MARKER` and wait (up to a minute), so that a test can send a signal at a
known point of training. Everything else is the real command: `python interrupt_harness.py
configs/smoke.yaml --output_dir DIR` trains exactly like `python train/run.py configs/smoke.yaml ...`.

Not a test module (pytest collects `test_*.py` only); `test_training.py` (the interrupted-run test) runs it.
"""

import os
import runpy
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

import posenc_hf.training.prepare as training

RUN = Path(__file__).resolve().parents[2] / "train" / "run.py"


class PauseCallback(TrainerCallback):
    def __init__(self, after_step, marker):
        self.after_step, self.marker = after_step, Path(marker)

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.after_step:
            self.marker.write_text(str(os.getpid()))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not getattr(self, "signalled", False):
                time.sleep(0.05)  # a signal handler runs between sleeps; SIGKILL ends us here


def main():
    after_step = os.environ.get("PAUSE_AFTER_STEP")
    if after_step:
        pause = PauseCallback(int(after_step), os.environ["PAUSE_MARKER"])
        build_trainer = training.build_trainer

        def build_trainer_with_pause(*args, **kwargs):
            trainer = build_trainer(*args, **kwargs)
            trainer.add_callback(pause)
            graceful = next(cb for cb in trainer.callback_handler.callbacks if hasattr(cb, "stop_reason"))
            handle = graceful._handle

            def handle_and_wake(signum, frame):  # the real handler, then end the pause
                handle(signum, frame)
                pause.signalled = True

            graceful._handle = handle_and_wake
            return trainer

        training.build_trainer = build_trainer_with_pause
    sys.argv = [str(RUN), *sys.argv[1:]]
    runpy.run_path(str(RUN), run_name="__main__")


if __name__ == "__main__":
    main()
