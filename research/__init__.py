"""Research code beside the package: the positional-encoding study, the quality comparison and its
TF-IDF baseline, and the diagnostics they share. It imports `posenc_hf` and is never imported by it,
so none of it ships in the wheel; run it from the repository root of a clone:

    python -m research.study [--quick | --smoke | --report_only]   # docs/study.md
    python -m research.quality                                      # docs/quality.md
    python -m research.baseline CONFIG_OR_CORPUS                    # TF-IDF + logistic regression
    python -m research.diagnostics MODEL_FOLDER --corpus NAME       # one model's attention and positions
"""
