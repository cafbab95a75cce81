"""ParamStream: only changed parameters, latest value wins, the byte budget holds on a simulated clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from voice_strategies import valid_voices

from bridge.midi.param_stream import ByteBudget, ParamStream, SysexParamEncoder
from bridge.midi.receiver import Receiver
from bridge.midi.sysex import PARAM_CHANGE_SIZE, decode_sysex
from bridge.midi.syxfile import DIN_BYTES_PER_SECOND
from models.errors import SysexEncodeError
from models.voice import Voice

INIT = Voice.init()


def _drain(stream: ParamStream, now: float = 0.0) -> list[bytes]:
    return stream.take(now)


def test_only_changed_parameters_are_sent_as_group_0_changes() -> None:
    stream = ParamStream(channel=3, synth_voice=INIT)
    target = INIT.replace({134: 31, 0: 12, 150: ord("X")})
    stream.update(target)
    messages = _drain(stream)
    assert messages == [bytes([0xF0, 0x43, 0x13, 0x00, 0x00, 12, 0xF7]),
                        bytes([0xF0, 0x43, 0x13, 0x01, 134 - 128, 31, 0xF7]),
                        bytes([0xF0, 0x43, 0x13, 0x01, 150 - 128, ord("X"), 0xF7])]
    assert all(m[3] >> 2 == 0 for m in messages), "never a group-2 (function) parameter change"
    stream.update(target)
    assert _drain(stream) == [], "nothing changed, nothing sent"


def test_latest_value_wins_and_a_value_set_back_leaves_the_queue() -> None:
    stream = ParamStream(synth_voice=INIT)
    for value in range(10):
        stream.update(INIT.replace({137: value, 135: 7}))
    stream.update(INIT.replace({137: 9}))  # feedback back to what the synth holds
    assert stream.pending == 1
    assert [decode_sysex(m) for m in _drain(stream)] == [decode_sysex(bytes([0xF0, 0x43, 0x10, 0x01, 9, 9, 0xF7]))]


def test_unknown_synth_state_sends_every_parameter_once() -> None:
    stream = ParamStream()
    stream.update(INIT)
    assert len(_drain(stream)) == 155
    stream.assume_synth_holds(INIT.replace({0: 1}))
    stream.update(INIT)
    assert len(_drain(stream)) == 1


@settings(max_examples=40, deadline=None)
@given(a=valid_voices, b=valid_voices, steps=st.lists(valid_voices, max_size=3))
def test_a_to_b_through_a_receiver_ends_on_b(a: Voice, b: Voice, steps: list[Voice]) -> None:
    receiver = Receiver(voice=a)
    stream = ParamStream(synth_voice=a)
    for step in [*steps, b]:
        stream.update(step)
    sent = _drain(stream)
    assert len(sent) == len(a.diff(b)), "one message per parameter that differs, whatever came between"
    for message in sent:
        receiver.feed(message)
    assert receiver.voice == b


@settings(max_examples=25, deadline=None)
@given(rate=st.sampled_from([DIN_BYTES_PER_SECOND, 700, 50]),
       ticks=st.lists(st.floats(0.0, 0.05, allow_nan=False), min_size=5, max_size=200),
       voices=st.lists(valid_voices, min_size=1, max_size=4))
def test_din_budget_never_exceeded_on_a_simulated_clock(rate: int, ticks: list[float], voices: list[Voice]) -> None:
    stream = ParamStream(bytes_per_second=rate)
    sent: list[tuple[float, int]] = []
    now = 0.0
    for i, dt in enumerate(ticks):
        now += dt
        stream.update(voices[i % len(voices)])
        sent += [(now, len(m)) for m in stream.take(now)]
    for start, _ in sent:  # every window that starts at a send
        for end, _ in sent:
            if end >= start:
                window = sum(size for t, size in sent if start <= t <= end)
                assert window <= rate * (end - start) + stream.budget.burst_bytes + 1e-6


def test_a_whole_voice_takes_347_ms_at_din_rate() -> None:
    stream = ParamStream(bytes_per_second=DIN_BYTES_PER_SECOND)
    stream.update(INIT)
    last = max(t * 0.001 for t in range(1000) if stream.take(t * 0.001))
    assert stream.pending == 0
    burst = stream.budget.burst_bytes // PARAM_CHANGE_SIZE  # sent at once, from the full bucket
    assert last == pytest.approx((155 - burst) * PARAM_CHANGE_SIZE / DIN_BYTES_PER_SECOND, abs=0.002)  # 155 changes: 347 ms


def test_shared_budget_caps_two_streams_together() -> None:
    budget = ByteBudget(700)
    first, second = ParamStream(budget=budget), ParamStream(channel=1, budget=budget)
    first.update(INIT)
    second.update(INIT)
    total = sum(len(m) for t in range(101) for s in (first, second) for m in s.take(t * 0.01))
    assert total <= 700 + budget.burst_bytes


def test_bad_arguments_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        ByteBudget(0)
    with pytest.raises(ValueError, match="under one 7-byte"):
        ByteBudget(100, burst_bytes=3)
    with pytest.raises(SysexEncodeError, match="channel 16 out of range"):
        SysexParamEncoder(16)
    stream = ParamStream(bytes_per_second=100)
    stream.take(1.0)
    with pytest.raises(ValueError, match="clock went back"):
        stream.take(0.5)
