"""The lean `Trainer` of the research grids (`research.study`, `research.length`): no evaluation,
checkpoints, reports or progress bars while training (the grid scores each run itself and prints one
line per run), on the CPU. Their data and config come from the package (`posenc_hf.training.prepare`).
"""

from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments

LEAN = {"eval_strategy": "no", "save_strategy": "no", "report_to": [], "disable_tqdm": True, "use_cpu": True}


def lean_arguments(output_dir, seed, **fields):
    """`TrainingArguments` of a grid run: `fields` (sizes, budget, logging) on top of `LEAN`."""
    return TrainingArguments(output_dir=output_dir, seed=seed, **LEAN, **fields)


def lean_trainer(model, args, train, tokenizer, callbacks=()):
    """A `Trainer` on `train`, padding each batch, that logs no line of its own."""
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train,
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=list(callbacks),
    )
    trainer.remove_callback(PrinterCallback)
    return trainer
