"""Output folders as a user meets them: another run's checkpoints in the output folder are refused in
one line that says what to do. (Damaged and half-written folders: tests/test_reliability_saves.py.)"""

import pytest
import tiny

from posenc_hf.folders import check_checkpoint_matches


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
