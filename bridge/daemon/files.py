"""The files folder: every path an OSC request names is read or written only inside ``--files-dir``.

OSC has no authentication, so a path in a request is treated as untrusted. :class:`FileArea`
resolves it (``~``, ``..`` and symbolic links followed, through :meth:`pathlib.Path.resolve`) and
refuses anything that lands outside its folders with one message, the same whether the file out
there exists or not: the reply tells nothing about files outside. Relative paths resolve inside
the folders. The first folder takes writes; every folder may be read.

A write never replaces a file the daemon would not have written itself, unless ``--overwrite``:
an existing target may be replaced only when its name ends in ``.syx``, ``.mid`` or ``.midi`` and it
holds DX7 voice or bank dumps and nothing else (what ``voice/save``, ``bank/save`` and ``dump``
write; see :func:`holds_dx7_dumps`).

The command line (``dexbridge dump``, ``infer``, ...) runs as its user and is not confined.
Everything here touches the disk: the session calls it off the event loop.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bridge.daemon.state import RequestError
from bridge.midi.sysex import SYSEX_END, SYSEX_START, BankDump, VoiceDump, decode_sysex
from bridge.midi.syxfile import MIDI_SUFFIXES, SYX_SUFFIXES
from models.errors import ConfigError, SysexDecodeError

FOLDER_NAME = "dexbridge"
MAX_DUMP_FILE_BYTES = 1 << 20  # about 250 banks: a larger file is not one the daemon wrote
_MIDI_WRITER_META = frozenset({"set_tempo", "end_of_track"})  # the only meta events write_midi_file writes


class FileAreaError(RequestError):
    """A path outside the files folder, or a write that would replace a file the daemon did not write."""


def default_files_dir(env: Mapping[str, str] | None = None) -> Path:
    """The files folder without ``--files-dir``: ``dexbridge`` in the user's data folder
    (``$XDG_DATA_HOME``, else ``~/.local/share``), or in the current folder when there is no home."""
    env = os.environ if env is None else env
    data_home = env.get("XDG_DATA_HOME", "")
    if data_home and Path(data_home).is_absolute():
        return Path(data_home) / FOLDER_NAME
    try:
        return Path.home() / ".local" / "share" / FOLDER_NAME
    except RuntimeError:  # no home directory for this user
        return Path.cwd() / FOLDER_NAME


@dataclass(frozen=True)
class FileArea:
    """The folders OSC requests may read (all) and write (the first), resolved and absolute.

    Build one with :meth:`open`.
    """

    folders: tuple[Path, ...]
    overwrite: bool = False

    @classmethod
    def open(cls, folders: Sequence[Path] = (), *, overwrite: bool = False) -> FileArea:
        """The area of ``--files-dir`` folders, which must exist (a typo is not made a new folder); without
        any, the default folder, created if missing.

        Args:
            folders: the folders, the first for writes; empty means :func:`default_files_dir`.
            overwrite: let writes replace any file inside the write folder.

        Raises:
            ConfigError: a folder given does not exist, or the default one cannot be created.
        """
        given = [Path(folder).expanduser().absolute() for folder in folders]
        for folder in given:
            if not folder.is_dir():
                raise ConfigError(f"files_dir {folder}: no such folder; create it (mkdir -p {folder}) or correct --files-dir")
        if not given:
            given = [default_files_dir()]
            try:
                given[0].mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"files_dir {given[0]}: cannot create it ({exc.strerror or exc}); "
                                  f"give --files-dir a folder the daemon may write") from None
        return cls(tuple(dict.fromkeys(folder.resolve() for folder in given)), overwrite)

    @property
    def write_folder(self) -> Path:
        """Where writes go (the first ``--files-dir``)."""
        return self.folders[0]

    def describe(self, *, writing: bool = False) -> str:
        """The folders as messages name them: ``/a`` or ``/a, /b``."""
        return str(self.write_folder) if writing else ", ".join(str(folder) for folder in self.folders)

    def resolve_read(self, path: str) -> Path:
        """The existing file a request may read.

        Raises:
            FileAreaError: the path leads outside the folders (from any of them, for a relative
                path; the message is the same whether or not a file is there), or no such file is inside.
        """
        resolved = [_resolve(candidate) for candidate in self._candidates(path, self.folders)]
        if not all(found is not None and self._contains(found, self.folders) for found in resolved):
            raise self._outside(path, writing=False)  # decided before looking at any file: nothing leaks
        for found in resolved:
            if found is not None and found.is_file():
                return found
        plural = "s" if len(self.folders) > 1 else ""
        raise FileAreaError(f"{path!r} not found in the files folder{plural} {self.describe()}: give the name of "
                            f"a file inside (relative to it), or start the daemon with --files-dir on its folder")

    def resolve_write(self, path: str) -> Path:
        """The file a request may create or replace.

        Raises:
            FileAreaError: the path leads outside the write folder, or names a file there that is not
                a DX7 ``.syx``/``.mid`` file (unless ``overwrite``).
        """
        (candidate,) = self._candidates(path, self.folders[:1])
        resolved = _resolve(candidate)
        if resolved is None or not self._contains(resolved, self.folders[:1]):
            raise self._outside(path, writing=True)
        if resolved.exists() and not self.overwrite and not holds_dx7_dumps(resolved):
            raise FileAreaError(f"{path!r} exists in {self.write_folder} and is not a DX7 .syx/.mid file: not replaced "
                                f"(the daemon replaces only voice and bank dumps; choose another name, or start it "
                                f"with --overwrite)")
        return resolved

    @staticmethod
    def _candidates(path: str, folders: Sequence[Path]) -> list[Path]:
        # only the daemon user's own ~ is expanded: '~name' would tell whether a user 'name' exists
        given = Path(path).expanduser() if path == "~" or path.startswith("~/") else Path(path)
        return [given] if given.is_absolute() else [folder / given for folder in folders]

    @staticmethod
    def _contains(resolved: Path, folders: Sequence[Path]) -> bool:
        return any(resolved != folder and resolved.is_relative_to(folder) for folder in folders)

    def _outside(self, path: str, *, writing: bool) -> FileAreaError:
        verb, plural = ("writes", "") if writing else ("reads", "s" if len(self.folders) > 1 else "")
        return FileAreaError(f"{path!r} is outside the files folder{plural} {self.describe(writing=writing)}: over OSC "
                             f"the daemon {verb} files only there (give a name relative to it; start the daemon with "
                             f"--files-dir DIR for another folder)")


def _resolve(candidate: Path) -> Path | None:
    """The path with every link followed; None when that fails (a link loop), which counts as outside."""
    try:
        return candidate.resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def holds_dx7_dumps(path: Path) -> bool:
    """Whether ``path`` is a file the daemon could have written, so a write may replace it without ``--overwrite``.

    A ``.syx`` must be DX7 single voice and 32-voice bank dumps back to back, every byte inside one
    of them, each with a valid checksum and every value in range. A ``.mid``/``.midi`` must be what
    :func:`~bridge.midi.syxfile.write_midi_file` writes: one track (type 0) of such dumps as SysEx
    events, with nothing else than its tempo and end-of-track events, and no byte besides. Anything
    else (another maker's SysEx, notes, text, a raw bank, a file over ``MAX_DUMP_FILE_BYTES``) is kept.
    """
    suffix = path.suffix.lower()
    if suffix not in SYX_SUFFIXES + MIDI_SUFFIXES:
        return False
    try:
        if not path.is_file() or path.stat().st_size > MAX_DUMP_FILE_BYTES:
            return False
        data = path.read_bytes()
    except OSError:
        return False
    return _syx_of_dumps(data) if suffix in SYX_SUFFIXES else _midi_of_dumps(data)


def _is_dump(message: bytes) -> bool:
    try:
        return isinstance(decode_sysex(message, strict=True), VoiceDump | BankDump)
    except SysexDecodeError:
        return False


def _syx_of_dumps(data: bytes) -> bool:
    """Whether ``data`` is one or more DX7 voice or bank dumps and nothing else."""
    start = 0
    while start < len(data):
        end = data.find(SYSEX_END, start)
        if data[start] != SYSEX_START or end < 0 or not _is_dump(data[start:end + 1]):
            return False
        start = end + 1
    return bool(data)


def _midi_of_dumps(data: bytes) -> bool:
    """Whether ``data`` is a type-0 MIDI file of DX7 voice or bank dumps, byte for byte as mido writes it."""
    import mido

    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
        rewritten = io.BytesIO()
        midi.save(file=rewritten)
    except Exception:  # noqa: BLE001 - mido raises many types on files that are not MIDI: not ours, so kept
        return False
    events = [event for track in midi.tracks for event in track]
    sysex = [bytes(event.bytes()) for event in events if event.type == "sysex"]
    return (midi.type == 0 and rewritten.getvalue() == data and bool(sysex) and all(map(_is_dump, sysex))
            and all(event.type == "sysex" or event.type in _MIDI_WRITER_META for event in events))
