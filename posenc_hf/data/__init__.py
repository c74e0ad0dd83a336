"""Data: sources, corpora, labels, splits, streaming and the tokenizer."""
