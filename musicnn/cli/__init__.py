"""The ``musicnn`` command line: options and printing over the library.

Each command maps its options to the parameters of a library function and prints what
it returns; the group and the shared plumbing are in :mod:`.app`, the commands in one
module per area.  Heavy libraries (torch, librosa, scikit-learn, numpy) are imported inside
the commands, so ``musicnn --help`` starts fast.
"""

from musicnn.cli import datasets, predict, recipes, timbre, training  # noqa: F401  (register the commands)
from musicnn.cli.app import EXIT_SKIPPED, main

__all__ = ["EXIT_SKIPPED", "main"]
