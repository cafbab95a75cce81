"""The live daemon: settings, shared state, the session's request handlers (audio, controls, voices
and banks), the morph/control loop, MIDI in routing and MIDI out per mode, capture, and the
start/serve/stop lifecycle."""
