"""Training: the run's arguments, settings, tasks, `Trainer` additions and the runner."""
