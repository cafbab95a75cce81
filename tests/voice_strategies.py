"""Hypothesis strategies shared by the model tests (imported by module name: tests have no package)."""

from __future__ import annotations

from hypothesis import strategies as st

from models.params import VOICE_PARAMS
from models.voice import Voice

valid_voices: st.SearchStrategy[Voice] = st.builds(
    Voice, st.tuples(*(st.integers(spec.lo, spec.hi) for spec in VOICE_PARAMS))
)
"""Any valid voice: every VCED value drawn within its range (the name as any 7-bit codes)."""
