"""The model that ships with musicnn: instrument families of isolated notes.

``musicnn classify FILE...`` and ``musicnn info`` use it when no model file is given.  It
is a CNN on 64-band log-mel trained on every note of the embedded instrument set rendered
from two SoundFonts (TimGM6mb and Merlin); the README's model card gives its measured
accuracy and the command that retrains it (``make pretrained``).
"""

from __future__ import annotations

from pathlib import Path

from musicnn.errors import ModelFileError

__all__ = ["DEFAULT_MODEL", "default_model"]

#: File name of the shipped instrument-family model inside this package.
DEFAULT_MODEL = "instrument-families.safetensors"


def default_model() -> Path:
    """Path of the shipped instrument-family model.

    Raises
    ------
    ModelFileError
        If the installation lacks the file (a broken install or a stripped checkout).
    """
    from importlib import resources

    path = Path(str(resources.files(__name__).joinpath(DEFAULT_MODEL)))
    if not path.is_file():
        raise ModelFileError(
            f"the shipped model {path} is missing; reinstall musicnn-atiam, retrain it with "
            "`make pretrained`, or give a model file"
        )
    return path
