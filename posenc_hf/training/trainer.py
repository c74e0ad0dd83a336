"""Two small additions to `transformers.Trainer`: a stepped learning rate and a clean stop (on
SIGINT/SIGTERM or after a given step) that the same command resumes from."""

import math
import signal

from torch.optim.lr_scheduler import LambdaLR
from transformers import Trainer, TrainerCallback


class PosEncTrainer(Trainer):
    """`Trainer`, plus `lr_step_epochs`: multiply the learning rate by `lr_step_gamma` every
    `lr_step_epochs` epochs (the seed's schedule). Without it, the usual `lr_scheduler_type`."""

    def create_scheduler(self, num_training_steps, optimizer=None):
        if not getattr(self.args, "lr_step_epochs", None):
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            steps_per_epoch = max(1, math.ceil(num_training_steps / self.args.num_train_epochs))
            step_size = steps_per_epoch * self.args.lr_step_epochs
            gamma = self.args.lr_step_gamma
            self.lr_scheduler = LambdaLR(optimizer or self.optimizer, lambda step: gamma ** (step // step_size))
        return self.lr_scheduler


class GracefulStopCallback(TrainerCallback):
    """Finish the current step, save a checkpoint and stop training on SIGINT or SIGTERM, or when
    optimizer step `stop_after_step` is done (a time-sliced job: the schedule is unchanged).

    Running the same command again resumes from that checkpoint. A second signal is not caught.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stop_after_step=None):
        self.stop_after_step = stop_after_step
        self.stop_reason = None  # "SIGINT", "SIGTERM" or "stop_after_step=N" once training stops early
        self._previous = {}

    def on_train_begin(self, args, state, control, **kwargs):
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def on_train_end(self, args, state, control, **kwargs):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        self.stop_reason = signal.Signals(signum).name
        signal.signal(signum, self._previous[signum])  # a second signal acts as usual

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.stop_after_step and self.stop_reason is None:
            self.stop_reason = f"stop_after_step={self.stop_after_step}"
        if self.stop_reason:
            control.should_training_stop = True
            # At the end of an epoch, Trainer's own epoch-end evaluation and save follow: saving here
            # too would rewrite the checkpoint, and a kill during that rewrite would leave a damaged
            # checkpoint beside a complete-looking trainer_state.json.
            if not (epoch_complete(state) and args.save_strategy == "epoch"):
                control.should_save = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        """A stop inside an epoch is saved already at its step: skip the epoch-end evaluation and save,
        which would score (and could pick as the best) a model the uninterrupted run never evaluates."""
        if self.stop_reason and not epoch_complete(state):
            control.should_evaluate = False
            control.should_save = False
        return control


def epoch_complete(state):
    """Whether the last optimizer step ended an epoch (Trainer's `state.epoch` is then a whole number)."""
    return float(state.epoch or 0).is_integer()
