"""The ``dexbridge`` command: parses arguments, calls the library, maps errors to exit codes.

The only module that exits. Each subcommand group lives in ``bridge.commands.<group>`` and
exposes ``register(subparsers)``; the handler it sets returns an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bridge.commands import bench, cc_learn, corpus, dataset, demo, dump, eval_audio, infer, librarian, library, serve, train
from bridge.commands import eval as evaluation
from bridge.commands import eval_morph as morph_evaluation
from models.errors import DexbridgeError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2

_GROUPS = (librarian, library, corpus, dataset, train, evaluation, eval_audio, morph_evaluation, infer, bench, demo, serve, dump,
           cc_learn)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="dexbridge",
        description="Turn sound into DX7/Dexed voices, live: librarian, corpus, model and bridge tools.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dexbridge`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except DexbridgeError as exc:
        print(f"dexbridge {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"dexbridge {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
