"""The MIDI wire: DX7 SysEx framing, .syx/.mid files, CC maps, the paced parameter stream, a DX7
receiver (the test oracle and the embedded synth's input), and rtmidi ports."""
