"""General MIDI as the embedded instrument set reads it: ten families of programs and the
pitch range each program is rendered over.
"""

from __future__ import annotations

from musicnn.errors import DataError

__all__ = ["FAMILIES", "PITCH_RANGES", "pitch_range"]

#: Family -> General-MIDI programs (0-based) that play it.
FAMILIES: dict[str, tuple[int, ...]] = {
    "bass": tuple(range(32, 40)),
    "brass": tuple(range(56, 64)),
    "flute": tuple(range(72, 80)),
    "guitar": tuple(range(24, 32)),
    "keyboard": tuple(range(0, 8)),
    "mallet": tuple(range(8, 16)),
    "organ": tuple(range(16, 24)),
    "reed": tuple(range(64, 72)),
    "string": (40, 41, 42, 43, 44, 45, 46, 48, 49),  # 47 is timpani: not a string sound
    "vocal": (52, 53, 54),
}

# Pitch range (MIDI notes, inclusive) of each family, then of the programs that differ.
_FAMILY_RANGES: dict[str, tuple[int, int]] = {
    "bass": (28, 67),  # E1..G4, a four-string bass
    "brass": (40, 84),
    "flute": (60, 96),
    "guitar": (40, 88),  # E2..E6
    "keyboard": (21, 108),  # the 88 keys of a piano
    "mallet": (48, 96),
    "organ": (36, 96),
    "reed": (50, 86),
    "string": (28, 96),
    "vocal": (40, 84),  # bass E2 .. soprano C6
}

_PROGRAM_RANGES: dict[int, tuple[int, int]] = {
    4: (28, 100),  # electric piano 1 (73 keys)
    5: (28, 100),  # electric piano 2
    6: (29, 89),  # harpsichord
    7: (29, 88),  # clavinet
    8: (60, 108),  # celesta
    9: (79, 108),  # glockenspiel
    10: (60, 96),  # music box
    11: (53, 89),  # vibraphone
    12: (45, 96),  # marimba
    13: (65, 108),  # xylophone
    14: (60, 77),  # tubular bells
    15: (48, 84),  # dulcimer
    19: (24, 96),  # church organ, with pedals
    21: (41, 89),  # accordion
    22: (60, 96),  # harmonica
    23: (41, 89),  # tango accordion
    31: (52, 88),  # guitar harmonics
    38: (24, 72),  # synth bass 1
    39: (24, 72),  # synth bass 2
    40: (55, 103),  # violin
    41: (48, 91),  # viola
    42: (36, 76),  # cello
    43: (28, 67),  # contrabass
    46: (24, 103),  # harp
    56: (54, 86),  # trumpet
    57: (40, 72),  # trombone
    58: (28, 58),  # tuba
    59: (54, 82),  # muted trumpet
    60: (34, 77),  # french horn
    61: (36, 84),  # brass section
    62: (36, 96),  # synth brass 1
    63: (36, 96),  # synth brass 2
    64: (56, 87),  # soprano sax
    65: (49, 81),  # alto sax
    66: (44, 76),  # tenor sax
    67: (36, 69),  # baritone sax
    68: (58, 91),  # oboe
    69: (52, 81),  # english horn
    70: (34, 75),  # bassoon
    71: (50, 91),  # clarinet
    72: (74, 108),  # piccolo
    76: (60, 84),  # blown bottle
    77: (55, 88),  # shakuhachi
    79: (60, 84),  # ocarina
}

#: Program -> (lowest, highest) MIDI note rendered, both inclusive.
PITCH_RANGES: dict[int, tuple[int, int]] = {
    program: _PROGRAM_RANGES.get(program, _FAMILY_RANGES[family])
    for family, programs in FAMILIES.items()
    for program in programs
}


def pitch_range(program: int) -> tuple[int, int]:
    """Lowest and highest MIDI note rendered for a General-MIDI program.

    Parameters
    ----------
    program : int
        A program of :data:`FAMILIES`.

    Returns
    -------
    tuple of int
        ``(lowest, highest)``, both inclusive.

    Raises
    ------
    DataError
        If the program belongs to no family.
    """
    try:
        return PITCH_RANGES[program]
    except KeyError:
        raise DataError(
            f"program {program} belongs to no instrument family; "
            f"valid programs: {', '.join(map(str, sorted(PITCH_RANGES)))}"
        ) from None
