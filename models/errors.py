"""The one error hierarchy of dexbridge.

Every error we raise on purpose derives from :class:`DexbridgeError`; leaves also subclass the
builtin they refine, so ``except ValueError`` keeps working for callers that do not know us.
"""

from __future__ import annotations


class DexbridgeError(Exception):
    """Root of every deliberate dexbridge error."""


class InvalidVoiceError(DexbridgeError, ValueError):
    """A voice holds a value outside its DX7 range, or has the wrong shape."""


class SysexDecodeError(DexbridgeError, ValueError):
    """Bytes that are not the DX7 SysEx message they claim to be.

    Attributes:
        field: what was wrong (``"header"``, ``"length"``, ``"checksum"``, ``"data"``, ...).
        offset: byte offset of the problem inside the message, when known.
    """

    def __init__(self, message: str, *, field: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.offset = offset


class RepresentationError(DexbridgeError, ValueError):
    """An unknown representation name, or a vector whose shape does not fit the representation."""


class SysexEncodeError(DexbridgeError, ValueError):
    """Arguments no DX7 SysEx message can carry: channel, parameter, value, bank size, framing."""


class VoiceIndexError(DexbridgeError, IndexError):
    """A voice index outside the voices of a file or bank."""


class CorpusError(DexbridgeError, ValueError):
    """A corpus file is missing, malformed or of an unknown schema."""


class CheckpointError(DexbridgeError, ValueError):
    """A checkpoint is missing, of an unsupported version, or inconsistent with its contract."""


class ConfigError(DexbridgeError, ValueError):
    """A configuration file or value that cannot be used; the message names the key and the fix."""


class ModelInputError(DexbridgeError, ValueError):
    """A tensor given to the front end or the network has the wrong shape or dtype."""


class DatasetError(DexbridgeError, ValueError):
    """A dataset directory that is missing, unfinished, damaged, or rendered with other settings."""


class TrainingError(DexbridgeError, RuntimeError):
    """Training cannot start, resume or go on: the message names the cause and the fix."""


class BackendError(DexbridgeError, RuntimeError):
    """An inference backend that is unknown, not installed, or cannot run on this machine."""


class EvaluationError(DexbridgeError, ValueError):
    """An evaluation without voices to score, or with a training reference that does not fit."""


class SilentInputError(ModelInputError):
    """Audio given for inference is silent (or nearly): there is no sound to match."""


class InputFileError(DexbridgeError, ValueError):
    """A file named as input that is missing, is a folder, cannot be read, or is not in the expected format."""


class AudioFileError(InputFileError):
    """An audio file that does not exist or that cannot be decoded."""


class OutputPathError(DexbridgeError, ValueError):
    """An output named where it cannot be written as asked: its folder does not exist, or it is a folder."""


class MidiPortError(DexbridgeError, OSError):
    """A MIDI port that cannot be found, opened or written, or that vanished; or no JACK client to see it."""


class WorkerBusyError(DexbridgeError, RuntimeError):
    """The inference worker's job queue is full: the request was refused, retry later."""


class WorkerStoppedError(DexbridgeError, RuntimeError):
    """The inference worker is not running (not started, stopping or stopped)."""
