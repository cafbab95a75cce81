"""The OSC transport: a UDP ``DatagramProtocol`` and a TCP server around the bounded decoder (:mod:`bridge.osc.packet`);
replies are encoded and sent by :mod:`bridge.osc.replies`.

Receiving only decodes, looks the address up in the route table, checks the arguments and calls
one quick handler (which may start a task); it never waits. Bundled messages with a future time
tag are scheduled with ``loop.call_at``. Anything refused (garbage bytes, an unknown address,
wrong argument types, NaN/inf, an error a handler raises) is answered with ``/dexbridge/error``
to the sender, logged, and counted in :attr:`OscServer.stats`. Packets and TCP connections from
an address outside the allow-list (:class:`~bridge.osc.allow.AllowList`) are dropped before
parsing, without a reply: counted per address in :attr:`OscServer.refused_peers` and logged once
a minute per address.

TCP carries big payloads (a whole snippet as ``/dexbridge/infer/blob``): each connection's first
byte picks the framing, SLIP (OSC 1.1, starts with ``0xC0``) or a 4-byte big-endian length prefix
(OSC 1.0), read by :mod:`bridge.osc.tcp_frames`; replies go back on the same connection in the
same framing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import difflib
import errno
import functools
import logging
import math
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pythonosc import slip

from bridge.osc import tcp_frames
from bridge.osc.allow import AllowList
from bridge.osc.namespace import OSC_REPLIES, OscValue, Route
from bridge.osc.packet import IMMEDIATELY, OscPacketError, OscTypeError, decode_packet, encode_message
from bridge.osc.replies import Peer, TcpPeer, UdpPeer, encode_bundles, encode_reply
from models.errors import DexbridgeError

logger = logging.getLogger(__name__)

ERROR_ADDRESS = "/dexbridge/error"
SAID_ADDRESS = "/dexbridge/said"
MAX_MONITORS = 4  # clients subscribed with /dexbridge/monitor at once
MAX_PEERS = 16  # clients that receive broadcasts (voice, param, host_param): the most recent ones
MAX_SCHEDULE_AHEAD_S = 10.0  # a bundle time tag further ahead is refused, not held
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
ANY_PORT_ATTEMPTS = 8  # port 0: UDP ports tried when the number picked is taken for TCP
REFUSED_LOG_INTERVAL_S = 60.0  # a stranger's packets are logged once a minute per address, never per packet
REFUSED_PEERS_KEPT = 256  # addresses counted one by one; more (a spoofed flood) count together as "other"
_SUGGEST_UP_TO = 64  # characters of an unknown address for which a close one is suggested
MAX_SCHEDULED = 1024  # future-dated messages held at once, all clients together; more are refused
REFUSAL_LOG_BURST = 10  # refusals logged per client address per interval; the rest are counted, then summed up
REFUSAL_LOG_INTERVAL_S = 10.0
MAX_CONNECTIONS = 64  # open TCP connections, all clients together
MAX_CONNECTIONS_PER_HOST = 32
TCP_BUSY_WAIT_S = 1.0  # a connection over the caps is answered in its framing if it speaks within this, then closed


class OscAddressError(DexbridgeError, LookupError):
    """An OSC address the daemon does not serve."""


class OscPortError(DexbridgeError, OSError):
    """The OSC port cannot be bound: another program holds it, or the address is not this computer's."""


@dataclass(frozen=True)
class OscRequest:
    """One checked OSC message for a handler: its address, converted arguments and sender."""

    address: str
    args: tuple[OscValue, ...]
    peer: Peer


Handler = Callable[[OscRequest], None]


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: OscServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        if not self.server.admit(addr[0]):
            return
        reply_port = self.server.reply_port or addr[1]
        self.server.receive(data, UdpPeer((addr[0], reply_port), self.transport))

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" after a reply to a client that went away: not our failure
        logger.info("osc.udp_error error=%r", exc)


class OscServer:
    """OSC over UDP (and TCP) for one route table.

    Args:
        routes: address -> :class:`Route`; only these addresses are served.
        handler: called with each checked :class:`OscRequest`; must return quickly.
        reply_port: send UDP replies to this port on the sender's host instead of the sender's port.
        max_frame: the largest TCP frame accepted, in bytes.
        allow: who may talk to it; the default admits loopback only.
    """

    def __init__(self, routes: Mapping[str, Route], handler: Handler, *, reply_port: int | None = None,
                 max_frame: int = 16 * 1024 * 1024, allow: AllowList | None = None) -> None:
        self.routes = routes
        self.handler = handler
        self.reply_port = reply_port
        self.max_frame = max_frame
        self.allow = allow if allow is not None else AllowList.parse(())
        self.stats: collections.Counter[str] = collections.Counter()
        self.refused_peers: collections.Counter[str] = collections.Counter()
        """Datagrams and TCP connections dropped per address outside :attr:`allow`."""
        self._refusal_logged: dict[str, float] = {}
        self._peers: collections.OrderedDict[tuple[str, int], Peer] = collections.OrderedDict()
        self._monitors: collections.OrderedDict[tuple[str, int], tuple[Peer, float]] = collections.OrderedDict()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: dict[asyncio.StreamWriter, str] = {}  # open TCP connections and their client's address
        self._buffer = tcp_frames.ByteBudget(tcp_frames.TCP_BUFFER_BYTES)
        self._refusal_log = _RefusalLog()
        self._scheduled: set[asyncio.TimerHandle] = set()
        self._accepting = True
        # a bundle repeats an unknown address many times: its suggestion (difflib, slow) is made once
        self._unknown_address = functools.lru_cache(maxsize=256)(functools.partial(_unknown_address, routes=routes))

    @property
    def port(self) -> int:
        """The bound UDP port (useful with port 0)."""
        assert self._udp is not None, "OscServer.start() first"
        return self._udp.get_extra_info("sockname")[1]

    @property
    def tcp_port(self) -> int | None:
        """The bound TCP port, None without TCP."""
        return self._tcp.sockets[0].getsockname()[1] if self._tcp else None

    async def start(self, host: str, port: int, *, tcp: bool = True) -> None:
        """Bind UDP (and TCP on the same port number). With port 0 the system picks a free UDP port; when
        that number is taken for TCP (by another program's connection, say), another is picked.

        Raises:
            OscPortError: the port is taken or the host cannot be bound (the message says which and what to do).
        """
        loop = asyncio.get_running_loop()
        for attempt in range(1, ANY_PORT_ATTEMPTS + 1):
            try:
                transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=(host, port))
            except OSError as exc:
                raise bind_error(exc, host, port, "UDP") from None
            self._udp = transport  # type: ignore[assignment]
            if not tcp:
                break
            try:
                self._tcp = await asyncio.start_server(self._serve_connection, host, self.port)
                break
            except OSError as exc:
                picked = self.port
                transport.close()
                self._udp = None
                if port != 0 or exc.errno != errno.EADDRINUSE or attempt == ANY_PORT_ATTEMPTS:
                    raise bind_error(exc, host, picked, "TCP") from None
        with contextlib.suppress(OSError):  # a deep receive buffer absorbs control bursts; the kernel may cap it
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        logger.info("osc.listening host=%s udp=%d tcp=%s", host, self.port, self.tcp_port)

    def stop_intake(self) -> None:
        """Refuse new requests (``/dexbridge/error``: shutting down) and new TCP connections, while the
        sockets stay open for the replies of requests still in flight."""
        self._accepting = False
        for handle in self._scheduled:
            handle.cancel()
        self._scheduled.clear()
        if self._tcp is not None:
            self._tcp.close()

    async def close(self) -> None:
        """Close everything: the sockets, scheduled messages, TCP connections."""
        self.stop_intake()
        if self._tcp is not None:
            for writer in list(self._connections):
                writer.close()
            await self._tcp.wait_closed()
        if self._udp is not None:
            self._udp.close()

    def admit(self, host: str) -> bool:
        """Whether ``host`` may talk to the daemon; a stranger is counted, and logged once a minute per address."""
        if self.allow.admits(host):
            return True
        self.stats["refused"] += 1
        key = host if host in self.refused_peers or len(self.refused_peers) < REFUSED_PEERS_KEPT else "other"
        self.refused_peers[key] += 1
        now = time.monotonic()
        if now - self._refusal_logged.get(key, -math.inf) >= REFUSED_LOG_INTERVAL_S:
            self._refusal_logged[key] = now
            logger.warning("osc.stranger host=%s refused=%d: not in --allow (%s); dropped without a reply "
                           "(logged once a minute per address)", key, self.refused_peers[key], self.allow.describe())
        return False

    def receive(self, data: bytes, peer: Peer) -> None:
        """Decode one packet (bounded: :func:`~bridge.osc.packet.decode_packet`) and dispatch its messages,
        scheduling future-dated ones; a packet that cannot be decoded whole is refused whole."""
        self.stats["packets"] += 1
        if not self._accepting:
            self.refuse(peer, OscPacketError("the daemon is shutting down: request not served"))
            return
        self._remember(peer)
        try:
            messages = decode_packet(data)
        except OscTypeError as exc:
            self.refuse(peer, exc)
            return
        except OscPacketError as exc:
            self.refuse(peer, OscPacketError(f"not an OSC packet ({len(data)} bytes starting {data[:16]!r}): {exc}"))
            return
        now = time.time()
        loop = asyncio.get_running_loop()
        for message in messages:
            delay = message.time - now
            if message.time == IMMEDIATELY or delay <= 0.0005:
                self._dispatch(message.address, message.args, peer)
            elif delay > MAX_SCHEDULE_AHEAD_S:
                self.refuse(peer, OscPacketError(f"bundle time tag {delay:.1f} s ahead; at most {MAX_SCHEDULE_AHEAD_S:.0f} s"))
            elif len(self._scheduled) >= MAX_SCHEDULED:
                self.refuse(peer, OscPacketError(f"{message.address}: {MAX_SCHEDULED} future-dated messages already wait "
                                                 "for their time tags; send it later or with time tag 'immediately'"))
            else:
                self._schedule(loop, delay, message.address, message.args, peer)

    def reply(self, peer: Peer, address: str, *args: OscValue) -> None:
        """Send one reply (from ``OSC_REPLIES``) to one client, and tell the monitors."""
        peer.send(encode_reply(address, *args))
        if self._monitors:
            self._tell_monitors(peer, address, args)

    def broadcast(self, address: str, *args: OscValue) -> None:
        """Send one reply to every recent client and every monitor."""
        dgram = encode_reply(address, *args)
        for peer in self._listeners():
            peer.send(dgram)

    def monitor(self, peer: Peer, seconds: float) -> None:
        """Let ``peer`` hear, for ``seconds``, every reply sent to any other client (as ``/dexbridge/said``)
        and every broadcast; the oldest of more than :data:`MAX_MONITORS` is dropped."""
        self._monitors[peer.key] = (peer, time.monotonic() + seconds)
        self._monitors.move_to_end(peer.key)
        while len(self._monitors) > MAX_MONITORS:
            self._monitors.popitem(last=False)

    def _tell_monitors(self, peer: Peer, address: str, args: Sequence[OscValue]) -> None:
        now = time.monotonic()
        for key, (monitor, until) in list(self._monitors.items()):
            if until < now:
                del self._monitors[key]
            elif key != peer.key:
                letters = "".join(slot.types[0] for slot in OSC_REPLIES[address].slots)
                types = "ss" + "".join(letters[min(position, len(letters) - 1)] for position in range(len(args)))
                monitor.send(encode_message(SAID_ADDRESS, [f"{peer.key[0]}:{peer.key[1]}", address, *args], types))

    def _listeners(self) -> list[Peer]:
        """Who hears broadcasts: the recent clients and the monitors."""
        now = time.monotonic()
        extra = [monitor for key, (monitor, until) in self._monitors.items() if until >= now and key not in self._peers]
        return [*self._peers.values(), *extra]

    def broadcast_bundle(self, messages: Sequence[tuple[str, Sequence[OscValue]]]) -> None:
        """Send many replies to every recent client as immediate OSC bundles of at most ``bridge.osc.replies.BUNDLE_BYTES``.

        A new voice changes up to 155 parameters: one datagram each would overrun a client's
        receive buffer (and Max's), a few bundles do not.
        """
        listeners = self._listeners()
        for dgram in encode_bundles([encode_reply(address, *args) for address, args in messages]):
            for peer in listeners:
                peer.send(dgram)

    def refuse(self, peer: Peer | None, exc: BaseException, address: str = "") -> None:
        """Report a refusal: ``/dexbridge/error`` to the client, a log line and a counter.

        A :class:`DexbridgeError` is the client's problem: its message is sent as is, and logged at
        most :data:`REFUSAL_LOG_BURST` times per client address per :data:`REFUSAL_LOG_INTERVAL_S`
        (the rest are counted and summed up in one line). Anything else is our bug: logged with its
        traceback, and the client told a generic message.
        """
        self.stats["errors"] += 1
        self.stats[f"errors.{type(exc).__name__}"] += 1
        if isinstance(exc, DexbridgeError):
            message = str(exc)
            if self._refusal_log.admit(peer.key[0] if peer is not None else "-"):
                logger.warning("osc.refused address=%s error=%s message=%s", address or "-", type(exc).__name__, message)
        else:
            message = f"{address or 'request'} failed: internal error {type(exc).__name__} (see the daemon's log)"
            logger.error("osc.failed address=%s", address or "-", exc_info=exc)
        if peer is not None:
            self.reply(peer, ERROR_ADDRESS, message)

    def _remember(self, peer: Peer) -> None:
        self._peers[peer.key] = peer
        self._peers.move_to_end(peer.key)
        while len(self._peers) > MAX_PEERS:
            self._peers.popitem(last=False)

    def _schedule(self, loop: asyncio.AbstractEventLoop, delay: float, address: str, params: Sequence[OscValue],
                  peer: Peer) -> None:
        def fire() -> None:
            self._scheduled.discard(handle)
            self._dispatch(address, params, peer)

        handle = loop.call_at(loop.time() + delay, fire)
        self._scheduled.add(handle)

    def _dispatch(self, address: str, params: Sequence[OscValue], peer: Peer) -> None:
        self.stats["messages"] += 1
        route = self.routes.get(address)
        if route is None:
            self.refuse(peer, OscAddressError(self._unknown_address(address)), address)
            return
        try:
            self.handler(OscRequest(address, route.check(params), peer))
        except Exception as exc:
            self.refuse(peer, exc, address)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        if not self.admit(host):
            writer.close()
            return
        busy = self._connection_refusal(host)  # before this one counts
        self._connections[writer] = host
        peer = TcpPeer((host, port), writer, slip_framing=False)
        try:
            async with asyncio.timeout(TCP_BUSY_WAIT_S if busy else tcp_frames.TCP_IDLE_TIMEOUT_S):
                first = await reader.read(1)  # the framing, so that even a refusal is read
            if first:
                peer = TcpPeer((host, port), writer, slip_framing=first == slip.END)
                if busy:
                    raise OscPacketError(busy)
                frames = tcp_frames.SlipFrames if peer.slip_framing else tcp_frames.LengthPrefixedFrames
                await frames(reader, first, self.max_frame, self._buffer).deliver(lambda frame: self.receive(frame, peer))
        except OscPacketError as exc:
            self.refuse(peer, exc)
            with contextlib.suppress(ConnectionError, TimeoutError):
                async with asyncio.timeout(TCP_BUSY_WAIT_S):  # a client that reads nothing does not hold us
                    await writer.drain()
        except TimeoutError:
            if not busy:
                logger.info("osc.tcp_timeout host=%s port=%d: closed after %.0f s idle or a frame unfinished for %.0f s",
                            host, port, tcp_frames.TCP_IDLE_TIMEOUT_S, tcp_frames.TCP_FRAME_TIMEOUT_S)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-frame: nothing to answer
        finally:
            self._connections.pop(writer, None)
            self._peers.pop((host, port), None)
            writer.close()

    def _connection_refusal(self, host: str) -> str:
        """Why a new TCP connection from ``host`` is refused, or "" when it is taken."""
        if len(self._connections) >= MAX_CONNECTIONS:
            return f"{MAX_CONNECTIONS} TCP connections are open (the most at once); connection closed, try again later"
        if sum(1 for other in self._connections.values() if other == host) >= MAX_CONNECTIONS_PER_HOST:
            return f"{host} has {MAX_CONNECTIONS_PER_HOST} TCP connections open (the most per address); close one first"
        return ""


class _RefusalLog:
    """Decides which refusals get a log line: a burst per client address per interval, then a sum."""

    def __init__(self) -> None:
        self._windows: dict[str, list[float]] = {}  # address -> [window start, lines logged, refusals not logged]

    def admit(self, host: str) -> bool:
        """Whether this refusal from ``host`` is logged; at the end of a window, a sum of those that were not."""
        now = time.monotonic()
        window = self._windows.get(host)
        if window is None or now - window[0] >= REFUSAL_LOG_INTERVAL_S:
            if window is not None and window[2]:
                logger.warning("osc.refused_quietly host=%s count=%d in %.0f s (only %d a client are logged per interval)",
                               host, window[2], now - window[0], REFUSAL_LOG_BURST)
            if window is None and len(self._windows) >= REFUSED_PEERS_KEPT:
                self._windows.pop(next(iter(self._windows)))
            window = self._windows[host] = [now, 0, 0]
        if window[1] < REFUSAL_LOG_BURST:
            window[1] += 1
            return True
        window[2] += 1
        return False


def _unknown_address(address: str, routes: Mapping[str, Route]) -> str:
    # difflib's cost grows with the square of the length: only an address as short as ours gets a suggestion
    close = difflib.get_close_matches(address, list(routes), n=1) if len(address) <= _SUGGEST_UP_TO else []
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown address {address[:80]!r}: not in the /dexbridge namespace (docs/osc.md){hint}"


def bind_error(error: OSError, host: str, port: int, protocol: str) -> OscPortError:
    """The error for an OSC port that cannot be bound, saying what to do (the daemon's and ``serve``'s check)."""
    if error.errno == errno.EADDRINUSE:
        return OscPortError(error.errno, f"OSC port {port} ({protocol}) on {host} is taken: another dexbridge serve or "
                            "another program uses it; stop it, or pick another port with --osc-port")
    return OscPortError(error.errno, f"cannot listen for OSC on {host}:{port} ({protocol}): "
                        f"{error.strerror or error}; --osc-host must be an address of this computer")
