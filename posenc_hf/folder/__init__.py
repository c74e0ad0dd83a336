"""The trained folder and what is made from it: checkpoints, card, plots, metrics, predict, export, Hub."""
