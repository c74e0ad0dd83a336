"""The model: the files that travel to the Hub with a saved folder (remote code), and nothing else."""
