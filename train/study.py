"""Regenerate docs/study.md: `python train/study.py [--quick | --smoke]` (same as `python -m posenc_hf.study`)."""

from posenc_hf.study import main

if __name__ == "__main__":
    main()
