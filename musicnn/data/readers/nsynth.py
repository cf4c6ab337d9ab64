"""NSynth: 305,979 four-second notes of 1,006 instruments (Engel et al., 2017).

Published layout (the ``json/wav`` archives, one per split)::

    nsynth-train/examples.json     nsynth-train/audio/<note_str>.wav
    nsynth-valid/examples.json     nsynth-valid/audio/<note_str>.wav
    nsynth-test/examples.json      nsynth-test/audio/<note_str>.wav

``examples.json`` maps each note's ``note_str`` (``bass_synthetic_033-022-050``: instrument,
pitch, velocity) to its annotations, among them ``instrument_str``,
``instrument_family_str``, ``instrument_source_str``, ``pitch`` and ``velocity``.

The label is the instrument family (``instrument_family_str``); the group is the instrument
(``instrument_str``), so that notes of one instrument never straddle two splits; the split is
the folder's (train, valid -> validation, test): the data set's page says the instruments of
train do not appear in valid or test.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from musicnn.data.collection import Collection, Item
from musicnn.data.readers._common import Remote, as_root, missing_files, read_json
from musicnn.errors import ConfigError, DataError

__all__ = ["FAMILIES", "REMOTES", "SUBSETS", "read_nsynth"]

NAME = "nsynth"

#: The official subsets: folder suffix -> the split it gives.
SUBSETS = {"train": "train", "valid": "validation", "test": "test"}

#: The eleven instrument families of ``instrument_family_str``.
FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string",
            "synth_lead", "vocal")

#: Annotations every note must carry.
FIELDS = ("instrument_str", "instrument_family_str", "instrument_source_str", "pitch", "velocity")

_URL = "http://download.magenta.tensorflow.org/datasets/nsynth/nsynth-{}.jsonwav.tar.gz"

#: The download: Magenta publishes no checksum for these archives, so they are not verified.
REMOTES = (
    Remote("train", _URL.format("train"), "nsynth-train.jsonwav.tar.gz", None, unpacks_to="nsynth-train"),
    Remote("valid", _URL.format("valid"), "nsynth-valid.jsonwav.tar.gz", None, unpacks_to="nsynth-valid"),
    Remote("test", _URL.format("test"), "nsynth-test.jsonwav.tar.gz", None, unpacks_to="nsynth-test"),
)


def read_nsynth(root: str | os.PathLike, *, subsets: Sequence[str] | None = None,
                sources: Sequence[str] | None = None, label: str = "instrument_family_str") -> Collection:
    """Read a copy of NSynth (its json/wav archives, extracted).

    Parameters
    ----------
    root : path
        The folder holding ``nsynth-train/``, ``nsynth-valid/`` and ``nsynth-test/`` (any of
        them), or one of these folders itself.
    subsets : sequence of str, optional
        Which of ``train``, ``valid``, ``test`` to read (default: those present, at least one).
    sources : sequence of str, optional
        Keep only the notes of these instrument sources (``acoustic``, ``electronic``,
        ``synthetic``); default all.
    label : str
        The annotation that is the label: ``instrument_family_str`` (the task of the
        recipes), or another one with a plain value (``instrument_source_str``,
        ``instrument_str``, ``pitch``, ``velocity``...).

    Returns
    -------
    Collection
        label = ``instrument_family_str`` (or ``label``); group = ``instrument_str``; split = the subset's
        (``valid`` gives ``validation``).  ``meta``: ``instrument_source``, ``pitch``,
        ``velocity``, ``subset``.

    Raises
    ------
    DataError
        No subset folder, a subset without ``examples.json`` or ``audio/``, a note without
        one of the annotations above, or a note whose WAV is missing.
    ConfigError
        An unknown subset or source, or a ``label`` that is not an annotation of the notes.
    """
    base = as_root(root, NAME)
    if subsets is not None:
        subsets = [subsets] if isinstance(subsets, str) else list(subsets)
        unknown = [s for s in subsets if s not in SUBSETS]
        if unknown or not subsets:
            raise ConfigError(f"subsets={subsets!r}: choose among {', '.join(repr(s) for s in SUBSETS)}")
    if sources is not None:
        sources = [sources] if isinstance(sources, str) else list(sources)
        unknown = [s for s in sources if s not in ("acoustic", "electronic", "synthetic")]
        if unknown or not sources:
            raise ConfigError(f"sources={sources!r}: choose among 'acoustic', 'electronic', 'synthetic'")
    folders = _subset_folders(base)
    if subsets is None:
        if not folders:
            raise DataError(f"{base}: no NSynth subset here (expected {base}/nsynth-train/, nsynth-valid/ or "
                            "nsynth-test/, each with examples.json and audio/)")
        subsets = list(folders)
    else:
        absent = [s for s in subsets if s not in folders]
        if absent:
            raise DataError(f"{base}: no folder nsynth-{absent[0]}/ for subsets={subsets!r}; "
                            f"found {', '.join(f'nsynth-{s}/' for s in folders) or 'none'}")
    items: list[Item] = []
    for subset in subsets:
        items += _read_subset(folders[subset], subset, sources, label)
    if not items:
        raise DataError(f"{base}: no notes of sources={sources!r} in subsets {', '.join(subsets)}")
    return Collection(items, source=str(base))


def _subset_folders(base: Path) -> dict[str, Path]:
    if base.name.startswith("nsynth-") and base.name[len("nsynth-"):] in SUBSETS:
        return {base.name[len("nsynth-"):]: base}
    return {s: base / f"nsynth-{s}" for s in SUBSETS if (base / f"nsynth-{s}").is_dir()}


def _read_subset(folder: Path, subset: str, sources: Sequence[str] | None, label: str) -> list[Item]:
    meta_path = folder / "examples.json"
    audio = folder / "audio"
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: missing; every NSynth subset folder holds examples.json and audio/")
    if not audio.is_dir():
        raise DataError(f"{audio}: missing; every NSynth subset folder holds examples.json and audio/")
    examples = read_json(meta_path, "NSynth's examples.json")
    if not isinstance(examples, dict) or not examples:
        raise DataError(f"{meta_path}: expected an object mapping each note_str to its annotations")
    first = next(iter(examples.values()))
    if isinstance(first, dict) and (label not in first or isinstance(first[label], (list, dict))):
        plain = sorted(k for k, v in first.items() if not isinstance(v, (list, dict)))
        raise ConfigError(f"label={label!r} is not an annotation of the notes of {meta_path}; "
                          f"choose one of {', '.join(repr(k) for k in plain)}")
    present = {n for n in os.listdir(audio) if n.endswith(".wav")}
    items, missing = [], []
    split = SUBSETS[subset]
    audio_str = str(audio)
    for note, ann in examples.items():
        if not isinstance(ann, dict):
            raise DataError(f"{meta_path}: note {note!r} has no annotations object")
        lacking = [f for f in dict.fromkeys((*FIELDS, label)) if f not in ann]
        if lacking:
            raise DataError(f"{meta_path}: note {note!r} lacks {', '.join(lacking)}")
        family = str(ann["instrument_family_str"])
        if label == "instrument_family_str" and family not in FAMILIES:
            raise DataError(f"{meta_path}: note {note!r} has instrument_family_str={family!r}, not an NSynth "
                            f"family ({', '.join(FAMILIES)})")
        if sources is not None and ann["instrument_source_str"] not in sources:
            continue
        fname = f"{note}.wav"
        if fname not in present:
            missing.append(os.path.join(audio_str, fname))
            continue
        meta = {"instrument_family": family, "instrument_source": str(ann["instrument_source_str"]),
                "pitch": str(ann["pitch"]), "velocity": str(ann["velocity"]), "subset": subset}
        items.append(Item(path=os.path.join(audio_str, fname), label=str(ann[label]),
                          group=str(ann["instrument_str"]), split=split, meta=meta))
    if missing:
        raise missing_files(missing, meta_path, audio, len(examples))
    return items

