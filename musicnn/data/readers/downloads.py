"""Download a data set's published files with pooch: resumable, verified where a checksum is published.

Each reader module lists its files in ``REMOTES`` (:class:`~._common.Remote`).  For each file
:func:`fetch` asks pooch to retrieve it into the target folder.  The bytes go first to
``<file>.part``, which a later run continues with an HTTP range request where the server
allows it, so an interrupted download of many gigabytes resumes.  pooch then checks the
published checksum (md5 or SHA-256) and only then gives the file its name; a file without
a published checksum is kept unverified, and its SHA-256 is reported so that it can be
compared by hand.  An archive is extracted into a temporary folder beside it, which is
renamed into place once complete (nothing half extracted is ever left under the final
name), and then removed unless ``keep_archives``.

pooch is an optional dependency (the ``download`` extra), imported only here.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from musicnn.data.readers._common import Remote
from musicnn.errors import ConfigError, DataError
from musicnn.progress import progress_bar

__all__ = ["DownloadReport", "fetch"]

_CHUNK = 1 << 20
_TIMEOUT_S = 60


@dataclass
class DownloadReport:
    """What :func:`fetch` did: the target folder and one line per file."""

    root: Path
    lines: list[str] = field(default_factory=list)


def fetch(name: str, remotes: Sequence[Remote], to: str | os.PathLike, *, parts: Sequence[str] | None = None,
          force: bool = False, keep_archives: bool = False, progress: bool = True,
          log: Callable[[str], None] | None = None) -> DownloadReport:
    """Download the files of data set ``name`` into folder ``to`` and extract its archives.

    Parameters
    ----------
    name : str
        The data set (named in the messages).
    remotes : sequence of Remote
        Its published files.
    to : path
        The folder to download into; created if needed.  It becomes the root to give the reader.
    parts : sequence of str, optional
        Download only the files of these parts (default: all).
    force : bool
        Download and extract again what is already there (it is replaced once the new copy is complete).
    keep_archives : bool
        Keep each archive once extracted (default: remove it).
    progress : bool
        Show a progress bar per file (on a terminal only).
    log : callable, optional
        Called with one line per file once it is done.

    Returns
    -------
    DownloadReport

    Raises
    ------
    ConfigError
        An unknown part, or pooch not installed.
    DataError
        In one line: a server that cannot be reached (no network), an HTTP error, a
        checksum that does not match, or an archive that cannot be extracted.
    """
    valid = list(dict.fromkeys(r.part for r in remotes))
    if parts is not None:
        parts = [parts] if isinstance(parts, str) else list(parts)
        unknown = [p for p in parts if p not in valid]
        if unknown or not parts:
            raise ConfigError(f"parts={parts!r}: {name} has the parts {', '.join(repr(p) for p in valid)}")
    try:
        import pooch
    except ModuleNotFoundError:
        raise ConfigError(f"downloading {name} needs pooch: pip install 'musicnn-atiam[download]' "
                          "(or pip install pooch)") from None
    root = Path(to).expanduser()
    if root.exists() and not root.is_dir():
        raise DataError(f"{root}: not a folder; give the folder to download {name} into")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    report = DownloadReport(root)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # our own lines say what was done
    try:
        for remote in remotes:
            if parts is not None and remote.part not in parts:
                continue
            line = _fetch_one(pooch, name, remote, root, force=force, keep_archives=keep_archives, progress=progress)
            report.lines.append(line)
            if log is not None:
                log(line)
    except BaseException:
        if created and not any(root.iterdir()):
            root.rmdir()  # leave no empty folder behind a download that fetched nothing
        raise
    finally:
        logger.setLevel(level)
    return report


def _fetch_one(pooch: Any, name: str, remote: Remote, root: Path, *, force: bool, keep_archives: bool,
               progress: bool) -> str:
    archive = root / remote.fname
    if remote.unpacks_to is not None:
        final = root / remote.unpacks_to
        if final.exists() and not force:
            return f"{final}: already there (force=True downloads it again)"
    if force and archive.exists():
        archive.unlink()
    had = archive.is_file()  # pooch checks a file already there against its hash, and fetches it again if it differs
    downloader = _Resumable(root / f"{remote.fname}.part", progress=progress, desc=remote.fname)
    try:
        pooch.retrieve(remote.url, known_hash=remote.known_hash, fname=remote.fname, path=root,
                       downloader=downloader)
    except Exception as exc:
        raise _download_error(exc, name, remote, root) from None
    fetched = not had or downloader.calls > 0
    if remote.known_hash:
        check = f"{remote.known_hash.split(':', 1)[0]} verified"
    else:
        check = f"not verified (no published checksum); its sha256 is {pooch.file_hash(str(archive))}"
    if remote.unpacks_to is None:
        return f"{archive}: {'downloaded' if fetched else 'already there'}, {check}"
    _extract(archive, final)
    if not keep_archives:
        archive.unlink()
    return f"{final}: {'downloaded' if fetched else 'found'} {remote.fname}, {check}, extracted"


class _Resumable:
    """A pooch downloader that continues ``partial`` where a previous run stopped (HTTP Range)."""

    def __init__(self, partial: Path, *, progress: bool, desc: str) -> None:
        self.partial = partial
        self.progress = progress
        self.desc = desc
        self.calls = 0

    def __call__(self, url: str, output_file: Any, pooch: Any, check_only: bool = False) -> Any:
        import requests

        self.calls += 1
        if check_only:
            with requests.head(url, allow_redirects=True, timeout=_TIMEOUT_S) as r:
                return r.status_code == 200
        have = self.partial.stat().st_size if self.partial.is_file() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with requests.get(url, headers=headers, stream=True, allow_redirects=True, timeout=_TIMEOUT_S) as r:
            if not (have and r.status_code == 416):  # 416: nothing left to fetch, the part is whole
                r.raise_for_status()
                append = bool(have) and r.status_code == 206
                done = have if append else 0
                total = int(r.headers.get("Content-Length") or 0) + done
                with open(self.partial, "ab" if append else "wb") as fh, \
                        progress_bar(total, self.desc, "B", enabled=self.progress) as bar:
                    bar.update(done)
                    for chunk in r.iter_content(_CHUNK):
                        fh.write(chunk)
                        bar.update(len(chunk))
        os.replace(self.partial, output_file)  # pooch checks it, then names it (or deletes it)
        return None


def _download_error(exc: BaseException, name: str, remote: Remote, root: Path) -> DataError:
    """A one-line DataError for what went wrong while fetching ``remote``."""
    host = urlsplit(remote.url).netloc or remote.url
    by_hand = f"download {remote.url} by hand into {root} and run again"
    kind = type(exc).__name__
    if kind in ("ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout", "ProxyError", "SSLError"):
        return DataError(f"cannot reach {host} to download {name}'s {remote.fname} ({_root_cause(exc)}); "
                         f"is this machine offline? {by_hand}")
    if kind == "HTTPError":
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        return DataError(f"{host} answered HTTP {status} for {name}'s {remote.fname} ({remote.url}); "
                         f"the file may have moved: {by_hand}")
    if isinstance(exc, ValueError) and "hash" in str(exc).lower():
        return DataError(f"{root / remote.fname}: the download does not match the published checksum "
                         f"{remote.known_hash}; the file was removed, run again (a corrupt transfer), or {by_hand}")
    message = " ".join(str(exc).split()) or kind
    return DataError(f"downloading {name}'s {remote.fname} from {host} failed ({kind}: {message})")


def _root_cause(exc: BaseException) -> str:
    """The innermost operating-system reason of a network error (``Connection refused``), in one line."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    found = None
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and type(e).__module__ in ("builtins", "socket", "ssl") and e.strerror:
            found = e.strerror
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__, *e.args]
    text = found or " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _extract(archive: Path, final: Path) -> None:
    """Extract ``archive`` so that ``final`` appears complete or not at all."""
    tmp = final.with_name(f".tmp-extract-{final.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _check_members(archive, zf.namelist())
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
                    tf.extractall(tmp, filter="data")
                else:
                    _check_members(archive, tf.getnames())
                    tf.extractall(tmp)
        else:
            raise DataError(f"{archive}: neither a zip nor a tar archive; remove it and run again")
        entries = [p for p in tmp.iterdir() if not p.name.startswith(("__MACOSX", "._"))]
        inner = entries[0] if len(entries) == 1 and entries[0].is_dir() and entries[0].name == final.name else tmp
        if final.exists():  # force: the old copy goes once the new one is complete
            shutil.rmtree(final) if final.is_dir() else final.unlink()
        os.replace(inner, final)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise DataError(f"{archive}: cannot extract ({exc}); remove it and run again") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_members(archive: Path, names: Sequence[str]) -> None:
    for n in names:
        if n.startswith(("/", "\\")) or ".." in Path(n).parts:
            raise DataError(f"{archive}: holds {n!r}, a path outside its folder; not extracted")
