"""Measuring the engine, off the serving path: answers to real recordings (:mod:`engine.eval.audio`), one voice
from several takes (:mod:`engine.eval.takes`), how smoothly a morph sounds (:mod:`engine.eval.morph`) and the
serving path's latency per stage on every backend (:mod:`engine.eval.bench`)."""
