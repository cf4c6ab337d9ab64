"""A minimal SoundFont 2 (.sf2) reader: which samples each General-MIDI program plays.

Only the preset, instrument and sample tables of the ``pdta`` chunk are read; of the
audio (``sdta``) only the length is used, to check that the sample table points inside
it.  The point is to find programs built from the same recordings, so that a held-out
"instrument" is really one the model never heard.

A SoundFont is a RIFF file ``RIFF 'sfbk'`` holding three ``LIST`` chunks (``INFO``,
``sdta``, ``pdta``).  In ``pdta`` each preset header (``phdr``) points to a run of preset
zones (``pbag``), each zone to a run of generators (``pgen``); a preset zone whose
generator 41 (``instrument``) is set plays that instrument.  Instruments (``inst``,
``ibag``, ``igen``) work the same way, generator 53 (``sampleID``) naming a sample of the
sample table (``shdr``).  Every table ends with a terminal record that is not an entry.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from musicnn.errors import DataError

__all__ = ["program_samples", "sample_fingerprints", "sample_sharing_groups", "shared_sample_groups"]

_GEN_INSTRUMENT = 41
_GEN_SAMPLE_ID = 53

# record size in bytes of each pdta sub-chunk (SoundFont 2.04, section 7)
_RECORD_SIZES = {
    b"phdr": 38,
    b"pbag": 4,
    b"pmod": 10,
    b"pgen": 4,
    b"inst": 22,
    b"ibag": 4,
    b"imod": 10,
    b"igen": 4,
    b"shdr": 46,
}


class _Corrupt(Exception):
    """Internal: the file is not a well-formed SoundFont (message says why)."""


def _chunks(data: bytes, start: int, end: int) -> Iterable[tuple[bytes, int, int]]:
    """Yield ``(id, body_start, body_end)`` of the RIFF chunks in ``data[start:end]``."""
    pos = start
    while pos + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if body + size > end:
            raise _Corrupt(f"chunk {cid!r} at byte {pos} runs past the end of its parent")
        yield cid, body, body + size
        pos = body + size + (size & 1)  # chunks are padded to an even length


def _find_lists(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Body span of each top-level ``LIST`` chunk, keyed by its type (``INFO``, ...)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise _Corrupt("not a RIFF 'sfbk' file")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = min(len(data), 8 + riff_size)
    lists: dict[bytes, tuple[int, int]] = {}
    for cid, body, body_end in _chunks(data, 12, end):
        if cid == b"LIST" and body_end - body >= 4:
            lists.setdefault(data[body : body + 4], (body + 4, body_end))
    for kind in (b"sdta", b"pdta"):
        if kind not in lists:
            raise _Corrupt(f"no '{kind.decode()}' chunk")
    return lists


def _read_tables(data: bytes) -> dict[bytes, list[tuple]]:
    lists = _find_lists(data)
    n_points = 0  # 16-bit sample points in 'smpl'
    for cid, body, body_end in _chunks(data, *lists[b"sdta"]):
        if cid == b"smpl":
            n_points = (body_end - body) // 2
    if n_points == 0:  # such a file crashes the renderer
        raise _Corrupt("no sample data ('smpl' is missing or empty)")
    raw: dict[bytes, tuple[int, int]] = {}
    for cid, body, body_end in _chunks(data, *lists[b"pdta"]):
        if cid in _RECORD_SIZES:
            raw[cid] = (body, body_end)
    needed = (b"phdr", b"pbag", b"pgen", b"inst", b"ibag", b"igen", b"shdr")
    missing = [c.decode() for c in needed if c not in raw]
    if missing:
        raise _Corrupt(f"'pdta' lacks the sub-chunk(s) {', '.join(missing)}")
    formats = {
        b"phdr": "<20sHHHIII",
        b"pbag": "<HH",
        b"pgen": "<HH",
        b"inst": "<20sH",
        b"ibag": "<HH",
        b"igen": "<HH",
        b"shdr": "<20sIIIIIBbHH",
    }
    tables: dict[bytes, list[tuple]] = {}
    for cid in needed:
        body, body_end = raw[cid]
        size = _RECORD_SIZES[cid]
        if (body_end - body) % size or body_end - body < size:
            raise _Corrupt(f"sub-chunk '{cid.decode()}' has {body_end - body} bytes, "
                           f"not a positive multiple of {size}")
        tables[cid] = list(struct.iter_unpack(formats[cid], data[body:body_end]))
    for i, rec in enumerate(tables[b"shdr"][:-1]):
        start, end, sample_type = rec[1], rec[2], rec[9]
        if not sample_type & 0x8000 and not start <= end <= n_points:  # 0x8000: ROM sample
            raise _Corrupt(f"sample {i} spans points {start}..{end}, "
                           f"but the sample data holds {n_points}")
    return tables


def _zone_gens(
    owner_bag: list[int], bags: list[tuple], gens: list[tuple], i: int, what: str
) -> Iterable[list[tuple[int, int]]]:
    """Yield, for entry ``i`` of a header table, the generator list of each of its zones."""
    b0, b1 = owner_bag[i], owner_bag[i + 1]
    if not 0 <= b0 <= b1 < len(bags):
        raise _Corrupt(f"{what} {i} has zone indices {b0}..{b1} outside its bag table")
    for z in range(b0, b1):
        g0, g1 = bags[z][0], bags[z + 1][0]
        if not 0 <= g0 <= g1 <= len(gens):
            raise _Corrupt(f"{what} {i} zone {z} has generator indices {g0}..{g1} "
                           "outside its generator table")
        yield [(op, amount) for op, amount in gens[g0:g1]]


def _program_samples(data: bytes) -> dict[int, frozenset[int]]:
    t = _read_tables(data)
    phdr, pbag, pgen = t[b"phdr"], t[b"pbag"], t[b"pgen"]
    inst, ibag, igen = t[b"inst"], t[b"ibag"], t[b"igen"]
    n_samples = len(t[b"shdr"]) - 1  # last record is the terminal 'EOS'
    for cid in (b"phdr", b"inst"):
        if len(t[cid]) < 2:
            raise _Corrupt(f"sub-chunk '{cid.decode()}' holds no entry")
    if n_samples < 1:
        raise _Corrupt("sub-chunk 'shdr' holds no sample")

    inst_bag = [rec[1] for rec in inst]
    inst_samples: dict[int, frozenset[int]] = {}

    def samples_of(k: int) -> frozenset[int]:
        if k not in inst_samples:
            if not 0 <= k < len(inst) - 1:
                raise _Corrupt(f"a preset zone names instrument {k}, "
                               f"but there are {len(inst) - 1}")
            found = set()
            for gens in _zone_gens(inst_bag, ibag, igen, k, "instrument"):
                for op, amount in gens:
                    if op == _GEN_SAMPLE_ID:
                        if amount >= n_samples:
                            raise _Corrupt(f"instrument {k} names sample {amount}, "
                                           f"but there are {n_samples}")
                        found.add(amount)
            inst_samples[k] = frozenset(found)
        return inst_samples[k]

    preset_bag = [rec[3] for rec in phdr]
    result: dict[int, set[int]] = {}
    for i in range(len(phdr) - 1):  # last record is the terminal 'EOP'
        program, bank = phdr[i][1], phdr[i][2]
        if bank != 0 or program > 127:
            continue
        used = result.setdefault(program, set())
        for gens in _zone_gens(preset_bag, pbag, pgen, i, "preset"):
            for op, amount in gens:
                if op == _GEN_INSTRUMENT:
                    used |= samples_of(amount)
    return {p: frozenset(s) for p, s in sorted(result.items())}


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        reason = exc.strerror or exc
        raise DataError(f"cannot read SoundFont {os.fspath(path)!s}: {reason}") from exc


def _parse(path: str | os.PathLike[str], parse: Callable[[bytes], Any]) -> Any:
    """Read a SoundFont and ``parse`` its bytes; a malformed file raises DataError naming it."""
    data = _read(path)
    try:
        return parse(data)
    except (_Corrupt, struct.error, StopIteration) as exc:
        raise DataError(f"{os.fspath(path)!s} is not a valid SoundFont 2 file: {exc}") from exc


def _fingerprints(data: bytes) -> dict[int, frozenset[str]]:
    """Program -> digests of the sample data (the PCM points) it plays."""
    lists = _find_lists(data)
    smpl = next(body for cid, body, _ in _chunks(data, *lists[b"sdta"]) if cid == b"smpl")
    shdr = _read_tables(data)[b"shdr"]
    digest = {}
    for i, rec in enumerate(shdr[:-1]):
        start, end = rec[1], rec[2]
        digest[i] = hashlib.sha1(data[smpl + 2 * start : smpl + 2 * end]).hexdigest()
    return {p: frozenset(digest[s] for s in samples) for p, samples in _program_samples(data).items()}


def sample_fingerprints(path: str | os.PathLike[str]) -> dict[int, frozenset[str]]:
    """Digests of the recordings each bank-0 preset plays, comparable across SoundFonts.

    Two SoundFonts that ship the same recording (the same 16-bit sample points) give
    it the same digest, whatever its name or index in either file.

    Parameters
    ----------
    path : str or path-like
        A SoundFont 2 (``.sf2``) file.

    Returns
    -------
    dict[int, frozenset[str]]
        General-MIDI program -> SHA-1 digests of its samples' data.

    Raises
    ------
    DataError
        If the file cannot be read or is not a well-formed SoundFont.
    """
    return _parse(path, _fingerprints)


def shared_sample_groups(
    programs: Mapping[str, Iterable[int]], fingerprints: Mapping[str, Mapping[int, frozenset[str]]]
) -> dict[tuple[str, int], str]:
    """Group (source, program) pairs that play at least one common recording, across sources.

    Sharing is transitive, as in :func:`sample_sharing_groups`.

    Parameters
    ----------
    programs : mapping
        Source name -> the programs of that source to group.
    fingerprints : mapping
        Source name -> :func:`sample_fingerprints` of its SoundFont.

    Returns
    -------
    dict[tuple[str, int], str]
        ``(source, program)`` -> group name: the sorted members written
        ``source:p%03d``, joined with ``+`` (``"merlin:p024+timgm6mb:p024"``).
    """
    nodes = sorted((src, int(p)) for src, progs in programs.items() for p in set(progs))
    members = _union(nodes, lambda n: fingerprints[n[0]].get(n[1], ()))
    return {n: "+".join(f"{s}:p{p:03d}" for s, p in ms) for n, ms in members.items()}


def _union(nodes: list, keys: Callable[[Any], Iterable]) -> dict[Any, list]:
    """Each node -> the sorted members of its group: nodes joined, transitively, when they
    share a key (a sample)."""
    parent = {n: n for n in nodes}

    def root(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    owner: dict = {}  # key -> first node seen with it
    for n in nodes:
        for k in sorted(keys(n)):
            if k in owner:
                a, b = root(owner[k]), root(n)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[k] = n
    groups: dict = {}
    for n in nodes:
        groups.setdefault(root(n), []).append(n)
    return {n: groups[root(n)] for n in nodes}


def program_samples(path: str | os.PathLike[str]) -> dict[int, frozenset[int]]:
    """Sample indices played by each bank-0 preset of a SoundFont.

    Parameters
    ----------
    path : str or path-like
        A SoundFont 2 (``.sf2``) file.

    Returns
    -------
    dict[int, frozenset[int]]
        General-MIDI program (0..127) -> indices into the file's sample table (``shdr``)
        reached through the preset's instruments.  Programs the file lacks are absent;
        percussion and other banks are ignored.

    Raises
    ------
    DataError
        If the file cannot be read or is not a well-formed SoundFont.
    """
    return _parse(path, _program_samples)


def sample_sharing_groups(
    path: str | os.PathLike[str], programs: Iterable[int]
) -> dict[int, str]:
    """Group programs that are built from at least one common sample.

    Sharing is transitive: if A shares a sample with B and B with C, all three form
    one group, even when A and C share nothing directly.

    Parameters
    ----------
    path : str or path-like
        A SoundFont 2 (``.sf2``) file.
    programs : iterable of int
        General-MIDI programs (0..127) to group.  A program the SoundFont lacks plays
        no sample and forms a group of its own.

    Returns
    -------
    dict[int, str]
        Program -> group name: the sorted members of its group, each written ``p%03d``,
        joined with ``+`` (e.g. ``"p024+p025"``; a program sharing nothing gets ``"p040"``).

    Raises
    ------
    DataError
        If the file cannot be read or is not a well-formed SoundFont.
    """
    progs = sorted({int(p) for p in programs})
    samples = program_samples(path)
    members = _union(progs, lambda p: samples.get(p, ()))
    return {p: "+".join(f"p{m:03d}" for m in ms) for p, ms in members.items()}
