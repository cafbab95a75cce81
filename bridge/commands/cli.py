"""The ``dexbridge`` command: parses arguments, calls the library, maps errors to exit codes.

The only module that exits. Each subcommand group lives in ``bridge.commands.<group>`` and
exposes ``register(subparsers)``; the handler it sets returns an exit code. Only the chosen
command's module is imported (:mod:`bridge.commands.catalog` names them all), so ``--help`` and
argument errors come at once; the model, torch and matplotlib load inside the handlers that use them.

Exit codes: 0 done; 2 bad input (a file missing, a folder, unreadable or in the wrong format; a
value out of range; an output folder that does not exist); 1 the environment or I/O failed (a MIDI
system, port or audio device, a backend that cannot run here, a disk); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from bridge.commands.catalog import COMMANDS, modules
from engine.allocator import keep_large_blocks
from models.errors import BackendError, DexbridgeError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT

_DESCRIPTION = "Turn sound into DX7/Dexed voices, live: librarian, corpus, model and bridge tools."
_EPILOG = ("Start with 'dexbridge demo' (a sound in, a voice out, through the daemon), then 'dexbridge serve' and "
           "'dexbridge send'. Every command explains itself: dexbridge COMMAND --help.")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser.

    Args:
        command: ``None`` builds every command (importing every command module); a name builds that
            command's module only, the others listed by name and summary; ``""`` imports none.
    """
    parser = argparse.ArgumentParser(prog="dexbridge", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages (the backend choice, ...)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = modules() if command is None else (COMMANDS[command].module,) if command else ()
    for name, entry in COMMANDS.items():
        if entry.module not in wanted:
            sub.add_parser(name, help=entry.summary, add_help=False)
        elif name == next(n for n, e in COMMANDS.items() if e.module == entry.module):  # the module's first command
            importlib.import_module(f"bridge.commands.{entry.module}").register(sub)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: the first word that is not an option."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in COMMANDS else None


def exit_code(error: BaseException) -> int:
    """What a failure exits with: 1 when the environment or I/O failed, 2 when the input is at fault."""
    if isinstance(error, OSError | BackendError):
        return EXIT_ERROR
    return EXIT_BAD_INPUT


def plain_words(error: BaseException) -> str:
    """An error as a sentence: an OS error names the file and the reason, without ``[Errno N]``."""
    if isinstance(error, OSError) and error.strerror:
        reason = error.strerror if isinstance(error, DexbridgeError) else error.strerror[:1].lower() + error.strerror[1:]
        files = [str(name) for name in (error.filename, error.filename2) if name is not None]
        return f"{' -> '.join(files)}: {reason}" if files else reason
    return str(error)


class OneLineFormatter(logging.Formatter):
    """A log record's message on one line: control characters a client sent (a file name with a newline)
    are written escaped, so no request can forge a line of the log. Tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = record.message.translate(_ESCAPED_CONTROLS)
        return super().formatMessage(record)


_ESCAPED_CONTROLS = {code: f"\\x{code:02x}" for code in [*range(32), 127]} | {10: "\\n", 13: "\\r", 9: "\\t"}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dexbridge`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(arguments)
    parser = build_parser(command or "")
    args = parser.parse_args(arguments)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    keep_large_blocks()  # every command renders or transforms arrays of megabytes (engine.allocator)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:  # Ctrl-C before a command took over the signal (while it loads): no traceback
        print(f"dexbridge {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): nothing left to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except (DexbridgeError, OSError) as error:
        print(f"dexbridge {args.command}: {plain_words(error)}", file=sys.stderr)
        return exit_code(error)


if __name__ == "__main__":
    sys.exit(main())
