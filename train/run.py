"""Train a PosEnc text classifier and write a Hub-ready model folder.

    accelerate launch train/run.py configs/subject.yaml [--any_field value ...]
    accelerate launch train/run.py configs/pretrain_goemotions.yaml       # task: mlm, masked-LM pretraining

Parsing and wiring only: the work is in `posenc_hf.training`.
"""

import logging
import sys
from pathlib import Path

from posenc_hf.arguments import configure_threads, parse_run_arguments
from posenc_hf.folders import push_folder
from posenc_hf.pretraining import format_pretraining_summary, run_pretraining
from posenc_hf.training import format_summary, run_training

CARD_TEMPLATE = Path(__file__).resolve().parents[1] / "model_card.md"


def main(argv=None):
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    model_args, data_args, run_args = parse_run_arguments(argv)
    push, run_args.push_to_hub = run_args.push_to_hub, False  # we push the finished folder, not checkpoints
    configure_threads(run_args)
    if model_args.task not in ("classification", "mlm"):
        raise ValueError(f"task must be classification or mlm, got {model_args.task!r}")
    mlm = model_args.task == "mlm"
    result = (run_pretraining if mlm else run_training)(model_args, data_args, run_args, CARD_TEMPLATE)
    if run_args.process_index == 0:
        print((format_pretraining_summary if mlm else format_summary)(result, run_args.output_dir))
    if result.stopped in ("SIGINT", "SIGTERM"):
        return 130
    if run_args.process_index == 0 and push and result.folder:
        repo_id = run_args.hub_model_id or Path(run_args.output_dir).name
        print(f"Pushed to {push_folder(result.folder, repo_id, token=run_args.hub_token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
