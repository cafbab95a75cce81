"""``/dexbridge/note`` on a real ``dexbridge serve`` playing through PortAudio on JACK: a chord sent at
once is answered note by note (played, or refused as busy), and the daemon still answers and stops
cleanly on SIGINT."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from osc_client import build
from serve_process import ask, replies, serving

pytestmark = pytest.mark.jack
CHORD = 8


def test_a_chord_is_answered_note_by_note_and_the_daemon_stops_on_sigint(jack: str, tiny_checkpoint: Path,
                                                                        tmp_path: Path) -> None:
    with serving("--checkpoint", str(tiny_checkpoint), "--backend", "torch", "--engine-threads", "1",
                 "--files-dir", str(tmp_path), "--log-json") as (proc, sock, port):
        for step in range(CHORD):
            sock.sendto(build("/dexbridge/note", 60 + step, 100, 0.3), ("127.0.0.1", port))
        answers = [(got, args) for got, args in replies(sock, time.monotonic() + 15.0)
                   if got == "/dexbridge/error" or (got == "/dexbridge/done" and args[0] == "/dexbridge/note")]
        assert proc.poll() is None, f"serve died during the chord: {proc.communicate()[1][-2000:]}"
        assert len(answers) == CHORD, f"{len(answers)} of {CHORD} notes answered: {answers}"
        played = [args[1] for got, args in answers if got == "/dexbridge/done"]
        refused = [args[0] for got, args in answers if got == "/dexbridge/error"]
        assert played, answers
        assert all(text.startswith("/dexbridge/note: busy: ") and "notes already waiting" in text
                   for text in refused), refused
        assert ask(sock, port, build("/dexbridge/ping"), "/dexbridge/pong", timeout_s=5.0) == []
        stopping = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        stop_s = time.monotonic() - stopping
    assert proc.returncode == 0, stderr[-2000:]
    assert stop_s < 5.0, f"SIGINT took {stop_s:.1f} s to stop the daemon"
    assert "osc.failed" not in stderr and "Assertion" not in stderr, stderr[-2000:]
