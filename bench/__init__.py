"""Speed benchmarks: PosEncForSequenceClassification against a same-size BertForSequenceClassification.

Run `python -m bench` (add `--quick` for a shorter run, `--smoke` for the seconds-long CI check).
"""
