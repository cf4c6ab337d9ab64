"""``python -m musicnn``: the command line (also what ``torchrun -m musicnn`` starts)."""

from musicnn.cli import main

if __name__ == "__main__":
    main()
