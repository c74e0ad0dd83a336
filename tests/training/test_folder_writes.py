"""What a run writes, written safely (docs/reliability.md §1-2): the model folder only through its temporary
folder, a failing report step named in one line with the folder kept, an oversized max_length clipped, and one
no table can serve refused."""

import errno
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import SMOKE, read_metrics, snapshot, write_good_folder

from posenc_hf.training import prepare, runner, tasks


@pytest.mark.reliability
def test_model_folder_weights_metrics_and_card_all_go_through_the_temporary_folder(tmp_path, monkeypatch):
    """`write_model_folder` writes nothing into the final folder: a failure while writing the card
    (the last essential file) leaves the previous folder as it was."""
    dest = tmp_path / "model"
    before = write_good_folder(dest)
    written = {}

    def failing_card(folder, *args, **kwargs):
        written["card"] = Path(folder)
        (Path(folder) / "README.md").write_text("half a ca")
        raise OSError(errno.ENOSPC, "No space left on device")

    saved = SimpleNamespace(weights=None, tokenizer=None)
    model = SimpleNamespace(save_pretrained=lambda folder: setattr(saved, "weights", Path(folder)))
    tokenizer = SimpleNamespace(save_pretrained=lambda folder: setattr(saved, "tokenizer", Path(folder)))
    trainer = SimpleNamespace(model=model, state=SimpleNamespace(log_history=[]), args=None)
    report = {"test": {"confusion_matrix": [[1]]}}
    monkeypatch.setattr(tasks, "write_model_card", failing_card)

    def write_card(staging):
        tasks.Classification().write_card(staging, trainer, report, {"label_names": ["a"]}, "card.md", {})

    with pytest.raises(OSError, match="No space left"):
        runner.write_model_folder(dest, trainer, tokenizer, report, write_card)
    staging = tmp_path / ".model.tmp"
    assert saved.weights == saved.tokenizer == written["card"] == staging
    assert snapshot(dest) == before and not staging.exists()


@pytest.mark.reliability
@pytest.mark.parametrize(
    "failing, message",
    [
        ("plots", "Writing the plots failed (RuntimeError: no display)"),
        ("card", "Writing the card with its plots failed (OSError: [Errno 28] No space left on device)"),
    ],
)
def test_a_failing_report_step_is_named_in_one_line_and_the_folder_kept(tmp_path, caplog, failing, message):
    """The plots, and the card written again to show them, come after the complete folder."""
    folder = tmp_path / "model"
    before = write_good_folder(folder)

    def write_plots(into):
        if failing == "plots":
            raise RuntimeError("no display")
        return {"loss": "plots/loss.png"}

    def write_card(into, plots):
        raise OSError(errno.ENOSPC, "No space left on device")

    with caplog.at_level(logging.WARNING, logger="posenc_hf.training.runner"):
        runner.add_reports(folder, write_plots, write_card)
    assert [record.getMessage() for record in caplog.records] == [
        f"{message}; the model folder {folder} is complete without it"
    ]
    assert snapshot(folder) == before


class LogLines(logging.Handler):
    """Every message logged under `posenc_hf` while attached (a module-scoped fixture has no caplog)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def oversized_run(tmp_path_factory):
    """An in-process smoke run with max_length 100,000 whose position-similarity plot fails as it did
    on a 100,000-row table: (result, log lines)."""

    def out_of_memory(model, path):
        raise MemoryError("Unable to allocate 37.3 GiB for an array with shape (100000, 100000)")

    from posenc_hf.folder import plots
    from posenc_hf.training.plan import read_plan
    from posenc_hf.training.runner import run_training

    output_dir = tmp_path_factory.mktemp("oversized")
    argv = [SMOKE, "--max_length", "100000", "--output_dir", str(output_dir), "--report_to", "none"]
    log, logger = LogLines(), logging.getLogger("posenc_hf")
    logger.addHandler(log)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(plots, "plot_position_similarity", out_of_memory)
            result = run_training(read_plan([*argv, "--num_threads", "1"]))
    finally:
        logger.removeHandler(log)
    return result, log.lines


@pytest.mark.reliability
def test_an_oversized_max_length_is_clipped_before_training_said_in_the_log_and_the_card(oversized_run):
    result, log = oversized_run
    clipped = read_metrics(result.folder)["max_length_clipped"]
    used, longest = clipped["clipped_to"], clipped["longest_training_text"]
    assert clipped["asked"] == 100_000 and used == max(longest, prepare.LENGTH_KEPT) < 100_000
    line = f"max_length 100000 clipped to {used}: the longest tokenized training text has {longest} tokens"
    assert [entry for entry in log if "clipped" in entry] == [
        f"{line} (a max_length up to {prepare.LENGTH_KEPT} is used as given)"
    ]
    assert json.loads((result.folder / "config.json").read_text())["max_position_embeddings"] == used
    assert json.loads((result.folder / "tokenizer_config.json").read_text())["model_max_length"] == used
    card = (result.folder / "README.md").read_text()
    assert f"asked for `max_length` 100,000 and clipped it to {used:,} before training" in card
    assert read_metrics(result.folder)["settings"]["max_length"] == 100_000  # what the run was given


@pytest.mark.reliability
def test_a_failing_plot_leaves_a_complete_folder_and_one_line_naming_it(oversized_run):
    from posenc_hf.folder.checkpoints import check_model_folder

    result, log = oversized_run
    check_model_folder(result.folder)
    assert [line for line in log if "failed" in line] == [
        "Plot position_similarity failed (MemoryError: Unable to allocate 37.3 GiB for an array with shape "
        "(100000, 100000)); the model folder is complete without it"
    ]
    plots = sorted(path.name for path in (result.folder / "plots").iterdir())
    assert plots == ["confusion_matrix.png", "loss.png", "position_embeddings.png", "validation_metrics.png"]
    card = (result.folder / "README.md").read_text()
    assert "plots/loss.png" in card and "position_similarity" not in card
    assert result.test_metrics == read_metrics(result.folder)["test"]


def test_a_length_no_position_table_can_serve_is_refused_before_any_work(tmp_path):
    from posenc_hf.training.plan import read_plan

    with pytest.raises(ValueError, match=r"^max_length=100,000,000 cannot be served: .* x hidden_size 16 needs "):
        read_plan([SMOKE, "--max_length", "100000000", "--output_dir", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()
