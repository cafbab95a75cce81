"""The ``dexbridge`` command line itself: it speaks at once (``--help`` and argument errors without
torch), lists every command from its catalog, and exits by one rule with errors in plain words."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.commands.catalog import COMMANDS, modules
from bridge.commands.cli import build_parser, exit_code, main, plain_words
from bridge.commands.console import invoked_as, step
from bridge.midi.ports import MidiPortError
from bridge.osc.server import OscPortError
from models.errors import AudioFileError, BackendError, CheckpointError, InputFileError, OutputPathError

HEAVY = ("torch", "matplotlib", "librosa", "scipy", "onnxruntime")


def _loaded_by(*argv: str) -> dict[str, object]:
    """Run ``dexbridge ARGV`` in a fresh interpreter; which heavy modules it imported, and how it exited."""
    probe = ("import json, sys\nfrom bridge.commands.cli import main\ncode = None\n"
             f"try:\n    code = main({list(argv)!r})\nexcept SystemExit as exit:\n    code = exit.code\n"
             f"print(json.dumps({{'code': code, 'loaded': [m for m in {HEAVY!r} if m in sys.modules]}}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_top_level_help_lists_every_command_without_importing_any() -> None:
    probe = ("import sys\nfrom bridge.commands.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('bridge.commands.')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert all(f"    {name}" in result.stdout for name in COMMANDS)
    loaded = result.stdout.splitlines()[-1]
    assert loaded == "['bridge.commands.catalog', 'bridge.commands.cli']"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_comes_without_torch(command: str) -> None:
    outcome = _loaded_by(command, "--help")
    assert outcome == {"code": 0, "loaded": []}


def test_argument_errors_come_without_torch() -> None:
    assert _loaded_by("infer") == {"code": 2, "loaded": []}  # no AUDIO, no --out
    assert _loaded_by("serve", "--channel", "x") == {"code": 2, "loaded": []}


def test_a_file_refused_before_the_model_loads(tmp_path: Path) -> None:
    outcome = _loaded_by("infer", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "x.syx"))
    assert outcome == {"code": 2, "loaded": []}


def test_the_catalog_summaries_are_the_ones_the_modules_register() -> None:
    parser = build_parser()
    sub = next(action for action in parser._actions if action.dest == "command")
    registered = {choice.dest: choice.help for choice in sub._choices_actions}
    assert registered == {name: command.summary for name, command in COMMANDS.items()}
    for name, command in COMMANDS.items():
        module = getattr(sub.choices[name].get_default("handler"), "__module__", None)
        if module is not None:  # subcommand groups (corpus build, ...) set theirs one level down
            assert module.startswith(f"bridge.commands.{command.module}"), (name, module)
    assert len(modules()) == len(set(modules()))


def test_a_command_builds_its_own_module_only() -> None:
    parser = build_parser("voices")
    sub = next(action for action in parser._actions if action.dest == "command")
    assert sub.choices["voices"].get_default("handler").__name__ == "list_voices"
    assert sub.choices["infer"].get_default("handler") is None  # listed by name, not built


@pytest.mark.parametrize(("error", "code"), [
    (AudioFileError("x"), 2), (InputFileError("x"), 2), (OutputPathError("x"), 2), (CheckpointError("x"), 2),
    (MidiPortError("x"), 1), (BackendError("x"), 1), (OscPortError(errno.EADDRINUSE, "x"), 1),
    (PermissionError(errno.EACCES, "Permission denied", "/x"), 1),
])
def test_one_rule_for_exit_codes(error: BaseException, code: int) -> None:
    assert exit_code(error) == code


def test_errors_in_plain_words_without_errno() -> None:
    assert plain_words(PermissionError(errno.EACCES, "Permission denied", "/srv/x.syx")) == "/srv/x.syx: permission denied"
    assert plain_words(FileNotFoundError(errno.ENOENT, "No such file or directory")) == "no such file or directory"
    assert plain_words(OscPortError(errno.EADDRINUSE, "OSC port 9000 is taken")) == "OSC port 9000 is taken"
    assert plain_words(MidiPortError("no MIDI output port matches 'x'")) == "no MIDI output port matches 'x'"


def test_a_disk_failure_exits_1_in_plain_words(tmp_path: Path, brass_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.syx"))

    monkeypatch.setattr("bridge.commands.voices.write_file", full)
    assert main(["voice", str(brass_path), "--index", "0", "--out", str(tmp_path / "x.syx")]) == 1
    assert capsys.readouterr().err == f"dexbridge voice: {tmp_path / 'x.syx'}: no space left on device\n"


def test_a_reader_that_goes_away_is_not_an_error_message(brass_path: Path) -> None:
    result = subprocess.run(f"{sys.executable} -m bridge.commands.cli voices {brass_path} | head -1", shell=True,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split()[:3] == ["#", "NAME", "ALG"] and result.stderr == ""


def test_a_wait_is_announced_and_timed(capsys: pytest.CaptureFixture[str]) -> None:
    with step("loading the model"):
        pass
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "loading the model..." and err[1].startswith("loading the model: done in ")
    with pytest.raises(ValueError), step("warming up"):
        raise ValueError
    assert capsys.readouterr().err.splitlines()[1].startswith("warming up: failed after ")


def test_commands_are_printed_as_they_were_typed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "dexbridge").touch()
    monkeypatch.setattr(sys, "argv", [".venv/bin/dexbridge", "demo"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert invoked_as() == ".venv/bin/dexbridge"
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/dist-packages/pytest", "x"])
    assert invoked_as() == "dexbridge"
