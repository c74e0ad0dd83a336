"""`python -m research.study [--quick | --smoke] ...`: the command of cli.py."""

from .cli import main

if __name__ == "__main__":
    main()
