"""The card's training fields say how long the model trained: the ceiling, the epochs early stopping
ran, and the epoch whose weights the folder holds."""

from posenc_hf.folder.card_training import epochs_text, training_fields
from posenc_hf.training.arguments import parse_run_arguments


def run_args(*overrides):
    return parse_run_arguments(["configs/smoke.yaml", "--num_train_epochs", "30", *overrides])[2]


def test_an_early_stopped_run_states_the_epochs_run_the_ceiling_and_the_epoch_kept():
    text = epochs_text(run_args("--early_stopping_patience", "4"), {"epochs": 14.0, "validation": {"epoch": 10.0}})
    assert text == (
        "14 of at most 30 (early stopping: 4 evaluations without improvement); "
        "the weights are epoch 10's, the best on validation `macro_f1`"
    )


def test_a_run_that_reached_its_ceiling_says_early_stopping_was_allowed():
    text = epochs_text(run_args("--early_stopping_patience", "4"), {"epochs": 30.0, "validation": {"epoch": 22.0}})
    assert text.startswith("30 (early stopping allowed, patience 4); the weights are epoch 22's")


def test_without_early_stopping_or_best_model_selection_only_the_epochs_are_given():
    args = run_args("--load_best_model_at_end", "false", "--save_strategy", "no")
    assert training_fields(args, {"epochs": 30.0, "validation": {"epoch": 5.0}})["epochs"] == "30"
