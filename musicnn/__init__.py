"""musicnn: classify music audio with the neural networks of the ATIAM course.

Nothing heavy is imported here: ``import musicnn`` and ``musicnn --help`` stay fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
