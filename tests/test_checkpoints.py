"""Output folders as a user meets them: another run's checkpoints in the output folder are refused in
one line that says what to do. (Damaged and half-written folders: tests/test_reliability_saves.py.)"""

import pytest
import tiny

from posenc_hf.checkpoints import check_checkpoint_matches


def test_another_runs_checkpoints_are_refused_in_one_line_saying_what_to_do(tmp_path):
    tiny.tiny_config(hidden_size=16).save_pretrained(tmp_path / "subject" / "checkpoint-540")
    with pytest.raises(ValueError) as error:
        check_checkpoint_matches(tmp_path / "subject" / "checkpoint-540", tiny.tiny_config(hidden_size=32))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'subject'} holds checkpoints of another run (checkpoint-540 differs in ")
    assert "hidden_size: checkpoint 16 vs this run 32" in message
    assert message.endswith(
        "pass --output_dir NEW_FOLDER to start this run there, or that run's settings to resume it "
        "(nothing was deleted)."
    )


def test_a_checkpoint_must_agree_on_what_its_position_table_is_built_from(tmp_path):
    """The fields come from the position encoding's class: the sinusoidal table (rebuilt at load, not saved)
    is scaled by `initializer_range`, a learned table is loaded whatever the initialisation was."""
    for kind in ("sinusoidal", "learned"):
        tiny.tiny_config(position_embedding_type=kind).save_pretrained(tmp_path / kind / "checkpoint-1")
    with pytest.raises(ValueError, match="initializer_range: checkpoint 0.02 vs this run 0.05"):
        check_checkpoint_matches(
            tmp_path / "sinusoidal" / "checkpoint-1",
            tiny.tiny_config(position_embedding_type="sinusoidal", initializer_range=0.05),
        )
    check_checkpoint_matches(
        tmp_path / "learned" / "checkpoint-1",
        tiny.tiny_config(position_embedding_type="learned", initializer_range=0.05),
    )
