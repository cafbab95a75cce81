"""Every ``dexbridge`` command: the module that registers it and its one-line summary.

The command line reads this table instead of importing every command module, so ``dexbridge --help``
prints at once and ``dexbridge COMMAND ...`` imports only that command's module (whose own imports of
torch, the engine or matplotlib wait inside its handlers). A test keeps the summaries here identical
to the ones the modules register.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One subcommand: ``module`` under ``bridge.commands`` registers it; ``summary`` is its help line."""

    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    # the main job first: sound in, voice out, live
    "infer": Command("infer", "infer DX7 voices from recordings of single notes"),
    "serve": Command("serve", "run the live bridge: OSC and MIDI in, voices out to Dexed / a DX7 / Max"),
    "send": Command("send", "send the daemon one OSC message and print its replies in words"),
    "monitor": Command("send", "print everything the daemon says (voices, changes, answers and errors to any client) until Ctrl-C"),
    "demo": Command("demo", "run the whole job end to end: sound in over OSC, DX7 voice and morph out"),
    # voices and files
    "voices": Command("voices", "list the voices of a DX7 .syx file"),
    "voice": Command("voices", "extract one voice as a single voice dump (.syx or .mid)"),
    "dump": Command("dump", "write voices as DX7 SysEx into .syx and/or .mid files (for a DAW, a librarian or a DX7)"),
    "library": Command("library", "voice libraries indexed by sound: build one, search one"),
    "cc-learn": Command("cc_learn", "send each CC of a CC map in turn, for MIDI-learning them in Dexed"),
    # the model: data, training, measurements
    "corpus": Command("corpus", "build and inspect the voice corpus (SQLite)"),
    "dataset": Command("dataset", "render the corpus to training spectrograms"),
    "train": Command("train", "train the sound-to-voice model on a rendered dataset"),
    "export-checkpoint": Command("train", "write the slim serving checkpoint of a training run"),
    "eval": Command("eval", "score a checkpoint on held-out voices (paper metrics, mean and nearest baselines)"),
    "eval-audio": Command("eval_audio", "score the answers to real recordings: spectral error and pitch in cents, vs retrieval"),
    "eval-takes": Command("eval_takes", "one voice from six notes vs from middle C alone, on held-out voices"),
    "eval-morph": Command("eval_morph",
                          "measure how smooth each morph method sounds (largest step, detour, toward B, ends)"),
    "macros": Command("macros", "name the macro controls by what they do to the sound, and measure how smoothly they move"),
    "soak": Command("soak", "run the daemon for minutes under mixed traffic: unanswered requests, lost MIDI, growth"),
    "bench": Command("bench", "time the serving path per stage and end to end on every backend"),
}
"""Command name -> its module and summary, in the order ``dexbridge --help`` lists them."""


def modules() -> tuple[str, ...]:
    """The command modules, each once, in the order of :data:`COMMANDS`."""
    return tuple(dict.fromkeys(command.module for command in COMMANDS.values()))
