"""Train a PosEnc text classifier and write a Hub-ready model folder.

    python train/run.py configs/subject.yaml [--any_field value ...]
    accelerate launch --config_file train/accelerate.yaml train/run.py configs/subject.yaml
    python train/run.py configs/pretrain_goemotions.yaml       # task: mlm, masked-LM pretraining

Wiring only: the plan is `posenc_hf.training.plan`'s, the work `posenc_hf.training.runner`'s. `--help`
lists the fields. A mistake (a bad path, an unknown column, another run's folder) prints its message and exits with 1;
`POSENC_DEBUG=1` shows the traceback too.
"""

import gc
import logging
import sys
from pathlib import Path

from posenc_hf.folder.cli import quiet_progress_bars, run_command
from posenc_hf.folder.hub import check_push_target, push_finished_folder
from posenc_hf.training.arguments import configure_threads
from posenc_hf.training.plan import read_plan
from posenc_hf.training.runner import format_summary, run_training


def main(argv=None):
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    quiet_progress_bars()
    plan = read_plan(argv)
    run_args = plan.run_args
    push, run_args.push_to_hub = run_args.push_to_hub, False  # we push the finished folder, not checkpoints
    repo_id = hub_repo(run_args) if push else None
    configure_threads(run_args)
    result = run_training(plan)
    if run_args.process_index == 0:
        print(format_summary(result, run_args.output_dir))
    if result.stopped in ("SIGINT", "SIGTERM"):
        return 130
    if run_args.process_index == 0 and repo_id and result.folder:
        print(f"Pushed to {push_finished_folder(result.folder, repo_id, token=run_args.hub_token)}")
    return 0


def hub_repo(run_args):
    """The repo the finished folder will go to, checked (and created) now rather than after training."""
    repo_id = run_args.hub_model_id or Path(run_args.output_dir).name
    return check_push_target(repo_id, token=run_args.hub_token, private=run_args.hub_private_repo)


if __name__ == "__main__":
    # The imported libraries' objects (transformers, torch, datasets: millions) live until exit; frozen,
    # no collection walks them again, the last one at exit included: 2 s less per run on 2 cores.
    gc.freeze()
    sys.exit(run_command("train/run.py", main))
