"""What a model card says about its training: the run's `TrainingArguments` as the template's
hyper-parameter table, and how long it trained: the epochs run against the ceiling, early stopping,
and the epoch whose weights the folder holds. `posenc_hf.folder.card` puts these fields into the template.
"""


def enum_value(value):
    return getattr(value, "value", value)


def warmup(training_args):
    """transformers 5 reads a `warmup_steps` below 1 as a fraction of the training steps."""
    steps = training_args.warmup_steps
    if steps == 0:
        return "none"
    return f"{steps:.0%} of the training steps" if steps < 1 else f"{int(steps):,} steps"


def precision(training_args):
    if training_args.bf16:
        return "bf16 mixed precision"
    return "fp16 mixed precision" if training_args.fp16 else "fp32"


def epochs_text(training_args, metrics):
    """The ceiling (`num_train_epochs` or `max_steps`), the epochs run when early stopping ended sooner,
    and the epoch kept (`load_best_model_at_end`: the best validation checkpoint's)."""
    args, ran = training_args, metrics.get("epochs")
    text = f"{args.num_train_epochs:g}" if args.max_steps <= 0 else f"{args.max_steps:,} steps (`max_steps`)"
    patience = getattr(args, "early_stopping_patience", None)
    if patience and ran is not None and args.max_steps <= 0 and ran < args.num_train_epochs:
        text = f"{ran:g} of at most {text} (early stopping: {patience} evaluations without improvement)"
    elif patience:
        text += f" (early stopping allowed, patience {patience})"
    kept = kept_epoch(args, metrics)
    if kept is not None:
        text += f"; the weights are epoch {kept:g}'s, the best on validation `{args.metric_for_best_model}`"
    return text


def kept_epoch(training_args, metrics):
    """The epoch whose weights the folder holds, when `load_best_model_at_end` kept the best validation
    one (`metrics`: the run's report, whose `validation` is that evaluation's), else None."""
    return metrics.get("validation", {}).get("epoch") if training_args.load_best_model_at_end else None


def training_fields(training_args, metrics):
    """The template's training placeholders; `metrics` is the run's report (`metrics.json`)."""
    args = training_args
    return {
        "epochs": epochs_text(args, metrics),
        "per_device_batch_size": args.per_device_train_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "num_processes": args.world_size,
        "effective_batch_size": args.train_batch_size * args.gradient_accumulation_steps * args.world_size,
        "learning_rate": f"{args.learning_rate:g}",
        "lr_scheduler": enum_value(args.lr_scheduler_type),
        "warmup": warmup(args),
        "weight_decay": f"{args.weight_decay:g}",
        "optimizer": enum_value(args.optim),
        "max_grad_norm": f"{args.max_grad_norm:g}",
        "precision": precision(args),
        "seed": args.seed,
    }
