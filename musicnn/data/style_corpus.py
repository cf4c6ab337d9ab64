"""The scores of the embedded style set: which pieces of the music21 corpus feed each class.

The corpus that ships inside the ``music21`` package (the ``styles`` extra) is read from
disk: the pieces of each class are listed from the file names and a few header lines
(titles, mass names), without parsing a score, and a chosen piece is parsed once into a
plain table of notes (:func:`piece_notes`).  See ``datasets/styles.md``.

Classes and collections (and the group, which a split never cuts)
--------------------------------------------------------------------
* ``renaissance``: ``palestrina``, mass movements in Humdrum; group: the mass.
* ``chorale``: ``bach``, the four-part chorales ``music21.corpus.chorales`` lists; group:
  the chorale tune (its title), so two harmonisations of one tune stay together.
* ``fiddle``: ``ryansMammoth`` and ``oneills1850``, ABC; group: the tune (its title,
  normalised by :func:`slug`), shared by the two collections.
* ``folksong``: the German collections of ``essenFolksong``, ABC; group: the song's title
  (which gathers its variants).
* ``quartet``: ``haydn``, ``mozart``, ``beethoven``, string-quartet movements; group: the
  quartet.
* ``trecento``: ``trecento``, 14th-century Italian polyphony; group: the piece.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicnn.errors import DataError

__all__ = ["STYLE_CLASSES", "Piece", "corpus_root", "list_pieces", "piece_notes", "require_music21", "slug"]

#: Class -> (what it is, the corpus collections that feed it).
STYLE_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "renaissance": ("Renaissance polyphony: Palestrina's masses", ("palestrina",)),
    "chorale": ("J. S. Bach's four-part chorales", ("bach",)),
    "fiddle": ("Irish and Scottish fiddle tunes", ("ryansMammoth", "oneills1850")),
    "folksong": ("German folk songs of the Essen collection", ("essenFolksong",)),
    "quartet": ("Classical string quartets: Haydn, Mozart, Beethoven", ("haydn", "mozart", "beethoven")),
    "trecento": ("14th-century Italian polyphony (trecento)", ("trecento",)),
}

#: The German collections of ``essenFolksong`` (the others are Chinese, Irish, Lorraine,
#: Luxembourg, Haydn's arrangements, variants and test files).
_ESSEN_GERMAN = ("altdeu", "ballad", "boehme", "dva", "erk", "fink", "kinder", "zuccal")
#: Not a string quartet (a piano sonata) although it sits among Mozart's quartets.
_NOT_QUARTETS = ("mozart/k545",)
_EXTRA_HINT = "pip install 'musicnn-atiam[styles]' (or pip install music21)"


@dataclass(frozen=True)
class Piece:
    """One score of the corpus, as the style set uses it.

    Attributes
    ----------
    label : str
        Its class (a key of :data:`STYLE_CLASSES`).
    collection : str
        The corpus collection (its folder), e.g. ``"ryansMammoth"``.
    path : str
        The file, relative to the corpus folder, with ``/`` separators.
    number : int or None
        The tune's ``X:`` number inside an ABC file holding several; None for a file of one.
    title : str
        Title, mass or work as the file states it (may be empty).
    group : str
        The unit a split keeps whole: ``<label>:<key>``.
    """

    label: str
    collection: str
    path: str
    number: int | None
    title: str
    group: str

    @property
    def name(self) -> str:
        """A file-name-safe identifier, unique within the corpus (``bwv66.6``, ``erk10-x0005``)."""
        stem = Path(self.path).with_suffix("").as_posix()
        if self.collection in ("haydn", "mozart", "beethoven"):
            stem = f"{self.collection}-{stem.split('/', 1)[1]}"
        else:
            stem = stem.split("/", 1)[1]
        if self.number is not None:
            stem += f"-x{self.number:04d}"
        return re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace("/", "-")).strip("_")


def require_music21():
    """Import ``music21``, or say which extra installs it.

    Returns
    -------
    module
        The ``music21`` package.

    Raises
    ------
    DataError
        If ``music21`` is not installed.
    """
    try:
        import music21
    except ImportError as exc:
        raise DataError(f"the style set needs the music21 package and its corpus, which is not installed; "
                        f"{_EXTRA_HINT}") from exc
    return music21


def corpus_root() -> Path:
    """The folder of the corpus that ships inside the installed ``music21`` package.

    Found without importing ``music21`` (which is slow to import).

    Raises
    ------
    DataError
        If ``music21`` is not installed, or was installed without its corpus.
    """
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the style set needs the music21 package and its corpus, which is not installed; "
                        f"{_EXTRA_HINT}")
    for folder in spec.submodule_search_locations:
        root = Path(folder) / "corpus"
        if (root / "bach").is_dir():
            return root
    raise DataError(f"the music21 package at {spec.submodule_search_locations[0]} has no corpus folder "
                    f"(corpus/bach is missing); reinstall it from PyPI ({_EXTRA_HINT})")


def slug(text: str) -> str:
    """A title folded for comparison: ASCII letters and digits, words joined by ``-``.

    A leading article (``The``, ``A``) and a trailing tune type after ``--`` (as in
    ``"42d Highland Regiment -- Strathspey"``) are dropped, so that the same tune named in
    two collections gets one key.
    """
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = text.split("--")[0]
    words = re.findall(r"[a-z0-9]+", text)
    if len(words) > 1 and words[0] in ("the", "a", "an"):
        words = words[1:]
    return "-".join(words)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read the corpus file {path}: {exc.strerror or exc}") from exc


def _abc_tunes(path: Path) -> list[tuple[int, str]]:
    """``(X number, first title)`` of each tune of an ABC file, read from its header lines."""
    tunes: list[tuple[int, str]] = []
    for line in _read_text(path).splitlines():
        if line.startswith("X:"):
            digits = re.match(r"\s*(\d+)", line[2:])
            if digits:
                tunes.append((int(digits.group(1)), ""))
        elif line.startswith("T:") and tunes and not tunes[-1][1]:
            tunes[-1] = (tunes[-1][0], line[2:].strip())
    return tunes


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _palestrina(root: Path, label: str) -> list[Piece]:
    out = []
    for path in sorted((root / "palestrina").glob("*.krn")):
        mass = next((line[7:].strip() for line in _read_text(path).splitlines()[:12]
                     if line.startswith("!!!OPR:")), "")
        out.append(Piece(label, "palestrina", _rel(root, path), None, mass,
                         f"{label}:{slug(mass) or path.stem}"))
    return out


def _chorales(root: Path, label: str) -> list[Piece]:
    from music21.corpus import chorales  # the list of chorales and their titles

    out = []
    for bwv, entry in sorted(chorales.ChoraleListRKBWV().byBWV.items()):
        path = root / "bach" / f"bwv{bwv}.mxl"
        if path.is_file():
            title = str(entry.get("title") or "")
            out.append(Piece(label, "bach", _rel(root, path), None, title,
                             f"{label}:{slug(title) or 'bwv' + str(bwv)}"))
    return out


def _abc(root: Path, label: str, collection: str, keep=lambda path: True) -> list[Piece]:
    out = []
    for path in sorted((root / collection).glob("*.abc")):
        if not keep(path):
            continue
        tunes = _abc_tunes(path)
        single = len(tunes) == 1
        for number, title in tunes:
            key = slug(title) or f"{path.stem}-{number}"
            out.append(Piece(label, collection, _rel(root, path), None if single else number, title,
                             f"{label}:{key}"))
    return out


def _quartets(root: Path, label: str, collection: str) -> list[Piece]:
    out = []
    # one file per movement, in a folder per work; a whole quartet in one file (Beethoven's
    # op. 18 nos. 3-5, 74, 132, 133) is left out: it takes 10 s to parse, for a few excerpts
    for path in sorted((root / collection).glob("*/*.mxl")):
        rel = _rel(root, path)
        if rel.startswith(_NOT_QUARTETS):
            continue
        work = path.parent.name
        out.append(Piece(label, collection, rel, None, f"{collection} {work} {path.stem}",
                         f"{label}:{collection}-{work}"))
    return out


def _trecento(root: Path, label: str) -> list[Piece]:
    out, seen = [], set()
    # a piece stored both as .xml and .mxl, or with a backup copy ("_bak"), is taken once
    for path in sorted((root / "trecento").iterdir()):
        if path.suffix not in (".xml", ".mxl") or path.stem.endswith("_bak") or path.stem in seen:
            continue
        seen.add(path.stem)
        out.append(Piece(label, "trecento", _rel(root, path), None, path.stem, f"{label}:{slug(path.stem)}"))
    return out


def list_pieces(label: str, root: Path | None = None) -> list[Piece]:
    """Every candidate piece of one class, in a fixed order.

    Parameters
    ----------
    label : str
        A key of :data:`STYLE_CLASSES`.
    root : Path, optional
        The corpus folder; default :func:`corpus_root`.

    Returns
    -------
    list of Piece
        Sorted by file and tune number; reading them parses no score (the chorale list
        comes from ``music21.corpus.chorales``).

    Raises
    ------
    DataError
        If the class is unknown, or the corpus lacks the class's collections.
    """
    if label not in STYLE_CLASSES:
        raise DataError(f"unknown style class {label!r}; valid ones: {', '.join(STYLE_CLASSES)}")
    root = corpus_root() if root is None else Path(root)
    for collection in STYLE_CLASSES[label][1]:
        if not (root / collection).is_dir():
            raise DataError(f"the music21 corpus at {root} has no {collection!r} folder, needed by the "
                            f"{label!r} class; reinstall music21 from PyPI ({_EXTRA_HINT})")
    if label == "renaissance":
        pieces = _palestrina(root, label)
    elif label == "chorale":
        pieces = _chorales(root, label)
    elif label == "fiddle":
        pieces = _abc(root, label, "ryansMammoth") + _abc(root, label, "oneills1850")
    elif label == "folksong":
        pieces = _abc(root, label, "essenFolksong",
                      keep=lambda p: re.sub(r"\d+$", "", p.stem) in _ESSEN_GERMAN)
    elif label == "quartet":
        pieces = [p for c in ("haydn", "mozart", "beethoven") for p in _quartets(root, label, c)]
    else:
        pieces = _trecento(root, label)
    return pieces


def piece_notes(piece: Piece, root: Path | None = None) -> tuple[np.ndarray, float]:
    """Parse a piece once and return its notes as a table.

    Tied notes are merged into one; grace notes, rests and unpitched notes are left out;
    chords give one row per pitch.  Offsets are in quarter notes from the start.

    Parameters
    ----------
    piece : Piece
    root : Path, optional
        The corpus folder; default :func:`corpus_root`.

    Returns
    -------
    notes : ndarray of float64, shape (n_notes, 4)
        Columns: onset, duration (quarter notes), MIDI pitch, part index; sorted by onset.
    beat : float
        The length of the beat of the piece's first time signature, in quarter notes
        (a half note in 4/2, a dotted quarter in 6/8); 1.0 when the score has none.

    Raises
    ------
    DataError
        If the file cannot be parsed or holds no note.
    """
    music21 = require_music21()
    root = corpus_root() if root is None else Path(root)
    path = root / piece.path
    what = f"{path}" + (f" (tune X:{piece.number})" if piece.number is not None else "")
    try:
        kwargs = {} if piece.number is None else {"number": piece.number}
        # forceSource: read the file itself and write no pickle to music21's scratch folder
        score = music21.converter.parse(path, forceSource=True, **kwargs)
    except Exception as exc:  # music21 raises many kinds of errors on a malformed file
        raise DataError(f"cannot parse {what}: {type(exc).__name__}: {exc}") from exc
    if isinstance(score, music21.stream.Opus):
        if len(score.scores) != 1:
            raise DataError(f"{what} holds {len(score.scores)} scores; one was expected")
        score = score.scores[0]
    parts = list(score.parts) or [score]
    rows: list[list[float]] = []
    for index, part in enumerate(parts):
        open_ties: dict[int, int] = {}  # MIDI pitch -> row of the note its tie continues
        for element in part.flatten().notes:
            length = float(element.quarterLength)
            if length <= 0 or element.duration.isGrace:
                continue
            onset = float(element.offset)
            for note in (element.notes if element.isChord else [element]):
                if not hasattr(note, "pitch"):
                    continue  # unpitched
                midi = int(note.pitch.midi)
                tie = note.tie.type if note.tie is not None else None
                if tie in ("stop", "continue") and midi in open_ties:
                    row = rows[open_ties[midi]]
                    row[1] = max(row[1], onset + length - row[0])
                    if tie == "stop":
                        del open_ties[midi]
                    continue
                rows.append([onset, length, float(midi), float(index)])
                if tie == "start":
                    open_ties[midi] = len(rows) - 1
    if not rows:
        raise DataError(f"{what} holds no pitched note")
    notes = np.array(rows, dtype=np.float64)
    notes = notes[np.lexsort((notes[:, 2], notes[:, 3], notes[:, 0]))]
    signature = next(iter(score.recurse().getElementsByClass("TimeSignature")), None)
    beat = float(signature.beatDuration.quarterLength) if signature is not None else 1.0
    return notes, float(min(max(beat, 0.5), 4.0))
