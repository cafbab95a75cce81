"""``dexbridge send`` and ``dexbridge monitor``: talk to a running daemon from a shell, in words.

``send`` sends one OSC message, its arguments typed as the address takes them (the namespace table,
:data:`~bridge.osc.namespace.OSC_ROUTES`), and prints every reply until the one that answers it
(:data:`~bridge.osc.namespace.OSC_ANSWERS`) has come and the daemon has gone quiet. ``monitor``
pings the daemon (so it streams to it, as to every client it has heard from) and prints everything
it streams until Ctrl-C. A voice is printed by name with its values as the DX7 shows them, a
parameter change by name and display value, an error verbatim, an answer to an inference in words.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bridge.commands.argtypes import at_least, number_between
from bridge.osc.namespace import OSC_ANSWERS, OSC_ROUTES, PREFIX, OscArgumentError, OscValue
from models.errors import DexbridgeError
from models.params import BY_INDEX, BY_NAME, OCTAVES, Kind, describe_change, display_value

if TYPE_CHECKING:
    from bridge.osc.client import Message

DEFAULT_PORT = 9000
PORT_VARIABLE = "DEXBRIDGE_OSC_PORT"  # the daemon's own setting (bridge.daemon.settings), read the same way
QUIET_S = 0.3  # after the answer, the daemon has finished when nothing came for this long
CONTROL_QUIET_S = 1.0  # a request without an answer: wait this long for the voices it makes
PING_EVERY_S = 10.0  # monitor: how often it renews its subscription (/dexbridge/monitor)
MONITOR_SUBSCRIPTION_S = 60.0
MONITOR_POLL_S = 0.2  # monitor: how often it looks at Ctrl-C
CHANGES_SHOWN = 8  # parameter changes listed per batch unless --all


class DaemonUnreachable(DexbridgeError, ConnectionError):
    """Nothing answers on the daemon's address (exit code 1: the environment, not the input)."""


class DaemonSilent(DexbridgeError, TimeoutError):
    """The daemon did not answer in time."""


class Refused(DexbridgeError, ValueError):
    """The daemon answered ``/dexbridge/error``: it refused the request (exit code 2)."""


def address_of(text: str) -> str:
    """The full address a user typed, ``/dexbridge`` optional: ``ping`` -> ``/dexbridge/ping``.

    Raises:
        OscArgumentError: no such address; the message names the nearest ones.
    """
    address = text if text.startswith(PREFIX + "/") else f"{PREFIX}/{text.lstrip('/')}"
    if address not in OSC_ROUTES:
        near = difflib.get_close_matches(address, OSC_ROUTES, n=3)
        hint = f"did you mean {' or '.join(near)}? " if near else ""
        raise OscArgumentError(f"{text}: the daemon serves no such address; {hint}every address: docs/osc.md")
    return address


def typed_arguments(address: str, texts: Sequence[str]) -> tuple[OscValue, ...]:
    """The arguments as the address takes them: a whole number where it takes an int, a number where
    it takes a float, else text.

    Raises:
        OscArgumentError: a wrong count, a value that is not of its type, or a blob (not typed on a command line).
    """
    route = OSC_ROUTES[address]
    values: list[OscValue] = []
    for position, text in enumerate(texts):
        slot = route.slots[min(position, len(route.slots) - 1)] if route.slots else None
        types = slot.types if slot is not None and (position < len(route.slots) or slot.repeated) else ""
        values.append(_typed(address, position, types, text))
    return route.check(values)


def _typed(address: str, position: int, types: str, text: str) -> OscValue:
    if "b" in types:
        raise OscArgumentError(f"{address}: argument {position + 1} is a blob, which a command line cannot carry; send "
                               "audio as a file: /dexbridge/infer/file PATH")
    if "i" in types:
        with contextlib.suppress(ValueError):
            return int(text)
    if "f" in types:
        with contextlib.suppress(ValueError):
            return float(text)
    if "s" in types or not types:
        return text  # a surplus argument: the route's check names the count
    wanted = " or ".join({"i": "a whole number", "f": "a number"}[t] for t in types)
    raise OscArgumentError(f"{address}: argument {position + 1} is {text!r}; it must be {wanted} "
                           f"({OSC_ROUTES[address].args_doc})")


class Words:
    """Replies as lines people read; keeps the current voice so a frequency change is shown as such.

    Args:
        every_change: list every parameter change, not the first :data:`CHANGES_SHOWN` of a batch.
    """

    def __init__(self, every_change: bool = False) -> None:
        self.voice: list[int] | None = None
        self.every_change = every_change

    def lines(self, messages: Sequence[Message]) -> list[str]:
        """One line per message, the parameter changes of one datagram on one line."""
        out: list[str] = []
        changes = [args for address, args in messages if address == f"{PREFIX}/param"]
        for address, args in messages:
            if address != f"{PREFIX}/param":
                out.append(self.line(address, args))
        if changes:
            out.append(self._changes(changes))
        return out

    def line(self, address: str, args: tuple[OscValue, ...]) -> str:
        """One message in words (an unknown one as its address and arguments)."""
        name = address.removeprefix(PREFIX + "/")
        describe: dict[str, Callable[..., str]] = {
            "pong": lambda: "pong: the daemon is alive",
            "status": lambda text: "status: " + json.dumps(json.loads(str(text)), indent=2),
            "voice": self._voice,
            "host_param": lambda label, value: f"host parameter {label!r} = {float(value):.3f} (0..1, for Max vst~)",
            "inferred": _inferred,
            "better": lambda source, distance, cents, renders: (f"better voice: {source}, distance {float(distance):.3f}, "
                                                          f"{float(cents):+.0f} cents, after {renders} renders"),
            "done": lambda request, detail: f"done: {request} -> {detail}",
            "error": lambda message: f"error: {message}",
            "notice": lambda message: f"notice: {message}",
            "macro": lambda index, value, macro: f"macro {index} ({macro}) = {float(value):+.2f}",
            "macros": lambda *names: "macros: " + ", ".join(f"{index} {macro}" for index, macro in enumerate(names)),
            "said": lambda client, said, *said_args: f"to {client}: {self.line(str(said), tuple(said_args))}",
        }
        try:
            return describe[name](*args)
        except (KeyError, TypeError, ValueError):
            return f"{address} {' '.join(map(repr, args))}"

    def _voice(self, blob: bytes) -> str:
        from models.voice import Voice

        try:
            voice = Voice.from_values(bytes(blob))
        except ValueError as exc:
            return f"voice: {len(blob)} bytes that are not a DX7 voice ({exc})"
        self.voice = list(voice.vced)

        def shown(field: str) -> int | str:
            return display_value(BY_NAME[field], voice[field], voice.vced)

        return (f"voice '{voice.name.strip()}': algorithm {shown('algorithm')}, transpose {shown('transpose')} "
                f"({OCTAVES}), feedback {shown('feedback')}, LFO {shown('lfo_wave')}")

    def _changes(self, changes: Sequence[tuple[OscValue, ...]]) -> str:
        words, renamed = [], False
        for index, value in changes:
            spec = BY_INDEX.get(int(index))  # type: ignore[arg-type]
            if spec is None:
                words.append(f"parameter {index} = {value}")
                continue
            if self.voice is not None and spec.index < len(self.voice):
                self.voice[spec.index] = int(value)  # type: ignore[arg-type]
            if spec.kind is Kind.NAME:
                renamed = True  # the voice line names it
            else:
                words.append(describe_change(spec, int(value), self.voice))  # type: ignore[arg-type]
        count = len(words) + renamed
        shown = words if self.every_change else words[:CHANGES_SHOWN]
        more = [f"and {len(words) - len(shown)} more (--all lists each)"] if len(shown) < len(words) else []
        return f"{count} parameter{'s' * (count != 1)} changed: " + ", ".join([*(["the name"] * renamed), *shown, *more])


def _inferred(f0: float, level_db: float, backend: str, voice_f0: float, cents: float, pitch: str, source: str,
              distance: float) -> str:
    heard = f"input f0 {f0:.1f} Hz" if f0 else "input without a clear pitch"
    played = f", voice {voice_f0:.1f} Hz ({cents:+.1f} cents)" if f0 and voice_f0 else ""
    return (f"answer: the voice from {source}, distance {distance:.3f} (closer is better; 0 = identical); {heard} at "
            f"{level_db:.1f} dB{played}; {pitch}; backend {backend}")


class _Inbox:
    """A :class:`~bridge.osc.client.Listener` that queues what arrives."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[float, Sequence[Message]] | OSError] = asyncio.Queue()

    def packet(self, arrived: float, messages: Sequence[Message]) -> None:
        self.queue.put_nowait((arrived, messages))

    def failed(self, error: OSError) -> None:
        self.queue.put_nowait(error)

    async def get(self, timeout: float) -> tuple[float, Sequence[Message]] | None:
        """The next datagram, or None after ``timeout`` seconds without one.

        Raises:
            OSError: the network said nothing listens there.
        """
        try:
            item = await asyncio.wait_for(self.queue.get(), max(timeout, 0.0))
        except TimeoutError:
            return None
        if isinstance(item, OSError):
            raise item
        return item


def _where(args: argparse.Namespace) -> str:
    return f"udp://{args.host}:{args.port}"


def _unreachable(args: argparse.Namespace) -> DaemonUnreachable:
    return DaemonUnreachable(f"nothing listens on {_where(args)}: start the daemon there (dexbridge serve), or name "
                             "its port with --port")


async def _send(args: argparse.Namespace, address: str, values: tuple[OscValue, ...], say: Callable[[str], None]) -> int:
    from bridge.osc.client import OscClient

    inbox, words = _Inbox(), Words(args.all)
    answer = OSC_ANSWERS.get(address)
    async with OscClient.connect(args.host, args.port, listener=inbox, local_port=args.reply_port) as client:
        client.send(address, *values)
        deadline = time.monotonic() + args.wait
        answered, refused, heard = answer is None, None, False
        while True:
            remaining = deadline - time.monotonic()
            quiet = CONTROL_QUIET_S if answer is None and not heard else QUIET_S
            try:
                item = await inbox.get(min(remaining, quiet) if answered else remaining)
            except ConnectionError:
                raise _unreachable(args) from None
            if item is None:
                if answered:
                    break
                raise DaemonSilent(f"no {answer} from {_where(args)} within {args.wait:g} s: is the daemon running there? "
                                   "(a daemon started with --reply-port replies to that port: pass the same --reply-port here)")
            heard = True
            shown = []
            for reply, reply_args in item[1]:
                answered = answered or reply == answer
                if reply == f"{PREFIX}/error" and refused is None:  # said once, on stderr, by the Refused below
                    refused, answered = str(reply_args[0]) if reply_args else "", True
                else:
                    shown.append((reply, reply_args))
            for line in words.lines(shown):
                say(line)
        if not heard:
            say(f"sent {address}; it answers only with the voices it makes, and none came")
    if refused is not None:
        raise Refused(f"the daemon refused {address}: {refused}")
    return 0


def send_command(args: argparse.Namespace) -> int:
    """``dexbridge send``: one message, every reply in words until the answer and quiet.

    Raises:
        OscArgumentError: an unknown address or arguments that do not fit it (nothing is sent).
        DaemonUnreachable, DaemonSilent: no daemon there, or no answer in time.
        Refused: the daemon answered ``/dexbridge/error``.
    """
    address = address_of(args.address)
    values = typed_arguments(address, args.arguments)
    return asyncio.run(_send(args, address, values, print))


async def _monitor(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    from bridge.osc.client import OscClient

    inbox, words = _Inbox(), Words(args.all)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows loops
            loop.add_signal_handler(number, stop.set)
    say(f"monitoring the daemon on {_where(args)}: its voices, parameter changes, answers and errors, until Ctrl-C")
    async with OscClient.connect(args.host, args.port, listener=inbox, local_port=args.reply_port) as client:
        pinged, alive, waiting = -PING_EVERY_S, False, False
        while not stop.is_set():
            if time.monotonic() - pinged >= (PING_EVERY_S if alive else 1.0):
                client.send(f"{PREFIX}/monitor", MONITOR_SUBSCRIPTION_S)  # renewed long before it ends
                pinged = time.monotonic()
            try:
                item = await inbox.get(MONITOR_POLL_S)
            except ConnectionError:
                if not waiting:
                    say(f"nothing listens on {_where(args)} yet: waiting for the daemon (dexbridge serve)")
                alive, waiting = False, True
                continue
            if item is None:
                continue
            stamp = time.strftime("%H:%M:%S")
            if all(address == f"{PREFIX}/done" and args[:1] == (f"{PREFIX}/monitor",) for address, args in item[1]):
                if not alive:
                    say(f"{stamp} subscribed: the daemon's voices and changes, and its answers and errors to every client")
                alive, waiting = True, False
                continue  # the subscriptions that keep the stream coming
            for line in words.lines(item[1]):
                say(f"{stamp} {line}")
            alive, waiting = True, False
    say("monitor stopped")
    return 0


def monitor_command(args: argparse.Namespace) -> int:
    """``dexbridge monitor``: print what the daemon streams until Ctrl-C (exit 0)."""
    return asyncio.run(_monitor(args, lambda line: print(line, flush=True)))


def default_port() -> int:
    """The port ``dexbridge serve`` listens on when told nothing else: ``DEXBRIDGE_OSC_PORT``, else 9000."""
    text = os.environ.get(PORT_VARIABLE, "").strip()
    return int(text) if text.isdigit() else DEFAULT_PORT


def _add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the daemon's address (default 127.0.0.1: this computer)")
    parser.add_argument("--port", type=at_least(1, "port"), default=default_port(),
                        help=f"the daemon's OSC port (default: ${PORT_VARIABLE} as for dexbridge serve, else {DEFAULT_PORT})")
    parser.add_argument("--reply-port", type=at_least(1, "port"), metavar="PORT",
                        help="receive on this port: for a daemon started with --reply-port PORT")
    parser.add_argument("--all", action="store_true",
                        help=f"list every parameter change (default: the first {CHANGES_SHOWN} of each batch)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``send`` and ``monitor``."""
    send = subparsers.add_parser(
        "send", help="send the daemon one OSC message and print its replies in words",
        description="Send a running daemon (dexbridge serve) one OSC message and print every reply in words until the "
        "one that answers it has come and the daemon has gone quiet: a voice by name and its values as the DX7 shows "
        "them, parameter changes by name, errors verbatim, the answer to an inference. The arguments are typed as the "
        "address takes them (docs/osc.md). Exit 0 when answered, 2 when the daemon refused the request (or "
        "the address or arguments are wrong: nothing is sent), 1 when nothing answers.",
        epilog="examples: dexbridge send /dexbridge/ping; dexbridge send /dexbridge/infer/file horn.wav (a file in the "
        "daemon's files folder); dexbridge send /dexbridge/note 60; dexbridge send /dexbridge/morph/slot 0 current")
    send.add_argument("address", help="an address the daemon serves, e.g. /dexbridge/ping (the /dexbridge/ may be left out)")
    send.add_argument("arguments", nargs="*", metavar="ARG", help="its arguments (whole numbers, numbers or text)")
    _add_connection(send)
    send.add_argument("--wait", type=number_between(0.1, 600, "s"), default=60.0, metavar="S",
                      help="seconds to wait for the answer (default 60: an inference on a cold machine takes seconds)")
    send.set_defaults(handler=send_command)

    monitor = subparsers.add_parser(
        "monitor", help="print everything the daemon says (voices, changes, answers and errors to any client) until Ctrl-C",
        description="Subscribe to a running daemon (/dexbridge/monitor, renewed every 10 s), then print each voice it "
        "sends (name, algorithm, transpose), each batch of parameter changes (named and valued as the DX7 shows them), "
        "and every answer and error it sends any client, with the client it went to ('to 127.0.0.1:52011: error: ...'), "
        "one line each with the time, until Ctrl-C. Waits for a daemon that is not running yet.")
    _add_connection(monitor)
    monitor.set_defaults(handler=monitor_command)

