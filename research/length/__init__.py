"""The length-generalisation study (issue 22): which position scheme keeps working on inputs longer than
any seen in training. `python -m research.length [--quick]` trains the grid (`runner`) on Ruoss et al.'s
tasks (`tasks`) and writes docs/length_generalization.md and its plots (`report`) from the stored results."""
