"""VCED (155 bytes) <-> VMEM (128-byte packed voice of a 32-voice bank).

Only the voice's own byte layout lives here; MIDI framing is ``bridge.midi.sysex``. Unpacking follows
Dexed's ``Cartridge::unpackProgram`` (the bits a field does not use are masked off, pitch-EG bytes
above 99 are rescaled as Dexed's ``normparm`` does), then brings every value still outside its
DX7 range into range and reports it; dexed-py's ``Patch.from_packed`` is the cross-check.
"""

from __future__ import annotations

from models.params import NAME_START, OPERATOR_BLOCK, VOICE_PARAMS, VOICE_SIZE
from models.voice import Clamp, ClampReport, Voice

PACKED_SIZE = 128
PACKED_OPERATOR = 17
BANK_VOICES = 32
BANK_PAYLOAD = PACKED_SIZE * BANK_VOICES  # 4096

_PITCH_EG = range(126, 134)


def _normparm(value: int, hi: int) -> int:
    """Dexed's rescaling of a corrupt byte: kept when in range, else treated as 0-255 noise."""
    return value if value <= hi else int(value / 255 * hi)


def pack_voice(voice: Voice) -> bytes:
    """The 128-byte VMEM record of a voice."""
    v = voice.values
    out = bytearray(PACKED_SIZE)
    for op in range(6):
        s, d = op * OPERATOR_BLOCK, op * PACKED_OPERATOR
        out[d : d + 11] = bytes(v[s : s + 11])
        out[d + 11] = v[s + 11] | (v[s + 12] << 2)  # left curve | right curve
        out[d + 12] = v[s + 13] | (v[s + 20] << 3)  # rate scaling | detune
        out[d + 13] = v[s + 14] | (v[s + 15] << 2)  # amp-mod sens | key-velocity sens
        out[d + 14] = v[s + 16]  # output level
        out[d + 15] = v[s + 17] | (v[s + 18] << 1)  # osc mode | coarse
        out[d + 16] = v[s + 19]  # fine
    out[102:110] = bytes(v[126:134])  # pitch EG
    out[110] = v[134]  # algorithm
    out[111] = v[135] | (v[136] << 3)  # feedback | osc key sync
    out[112:116] = bytes(v[137:141])  # LFO speed, delay, PMD, AMD
    out[116] = v[141] | (v[142] << 1) | (v[143] << 4)  # LFO sync | wave | pitch-mod sens
    out[117] = v[144]  # transpose
    out[118:128] = bytes(v[NAME_START:VOICE_SIZE])
    return bytes(out)


def unpack_voice(packed: bytes) -> tuple[Voice, ClampReport]:
    """Unpack a 128-byte VMEM record as Dexed does.

    Returns:
        The voice, and the values that had to be brought into range (empty for clean data).

    Raises:
        ValueError: ``packed`` is not 128 bytes long.
    """
    if len(packed) != PACKED_SIZE:
        raise ValueError(f"a packed voice is {PACKED_SIZE} bytes, got {len(packed)}")
    p = packed
    v = [0] * VOICE_SIZE
    for op in range(6):
        d, s = op * OPERATOR_BLOCK, op * PACKED_OPERATOR
        # Dexed normalises then overwrites EG/scaling bytes with a raw copy: keep them raw here.
        v[d : d + 11] = p[s : s + 11]
        curves = p[s + 11] & 0x0F
        v[d + 11], v[d + 12] = curves & 0x03, curves >> 2
        rs_detune = p[s + 12] & 0x7F
        v[d + 13], v[d + 20] = rs_detune & 0x07, rs_detune >> 3
        ams_kvs = p[s + 13] & 0x1F
        v[d + 14], v[d + 15] = ams_kvs & 0x03, ams_kvs >> 2
        v[d + 16] = p[s + 14] & 0x7F
        mode_coarse = p[s + 15] & 0x3F
        v[d + 17], v[d + 18] = mode_coarse & 0x01, mode_coarse >> 1
        v[d + 19] = p[s + 16] & 0x7F
    rescaled: list[Clamp] = []
    for i in _PITCH_EG:
        raw = p[102 + i - 126] & 0x7F
        v[i] = _normparm(raw, VOICE_PARAMS[i].hi)
        if v[i] != raw:
            rescaled.append(Clamp(i, VOICE_PARAMS[i].name, raw, v[i]))
    v[134] = p[110] & 0x1F
    fb_sync = p[111] & 0x0F
    v[135], v[136] = fb_sync & 0x07, fb_sync >> 3
    v[137:141] = [b & 0x7F for b in p[112:116]]
    lfo = p[116] & 0x7F
    v[141], v[142], v[143] = lfo & 0x01, (lfo >> 1) & 0x07, lfo >> 4
    v[144] = p[117] & 0x7F
    v[NAME_START:VOICE_SIZE] = [b & 0x7F for b in p[118:128]]
    voice, clamped = Voice.clamped(v)
    return voice, ClampReport(tuple(rescaled)) + clamped


def pack_bank(voices: list[Voice]) -> bytes:
    """The 4096-byte payload of a 32-voice bank.

    Raises:
        ValueError: not exactly 32 voices.
    """
    if len(voices) != BANK_VOICES:
        raise ValueError(f"a bank holds {BANK_VOICES} voices, got {len(voices)}")
    return b"".join(pack_voice(v) for v in voices)


def unpack_bank(payload: bytes) -> list[tuple[Voice, ClampReport]]:
    """Unpack a 4096-byte bank payload into its 32 voices, each with its clamp report.

    Raises:
        ValueError: the payload is not 4096 bytes long.
    """
    if len(payload) != BANK_PAYLOAD:
        raise ValueError(f"a bank payload is {BANK_PAYLOAD} bytes, got {len(payload)}")
    return [unpack_voice(payload[i * PACKED_SIZE : (i + 1) * PACKED_SIZE]) for i in range(BANK_VOICES)]
