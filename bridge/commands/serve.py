"""``dexbridge serve``: the live daemon (OSC + MIDI in; SysEx / CC / OSC out), until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import logging
import signal
from pathlib import Path

from bridge.daemon.settings import DIN_BYTES_PER_SECOND, MIDI_APIS, OUTPUT_MODES, SINKS, Settings
from bridge.midi.cc_map import MAPPABLE
from engine.morph_path import MORPH_METHODS

logger = logging.getLogger(__name__)

_FLAG_FIELDS = ("osc_host", "osc_port", "reply_port", "midi_in", "midi_out", "midi_api", "mode", "din", "byte_budget",
                "channel", "control_rate", "slew_ms", "morph_method", "dump_debounce_ms", "dump_wait_notes", "resync_s",
                "messages_per_period", "sink", "plugin", "cc_map", "checkpoint", "backend", "engine_threads", "search_ms",
                "search_renders", "library", "no_library", "input_device", "output_device", "max_jobs", "overwrite",
                "client_uploads", "client_jobs", "log_json")


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (``event key=value ...``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The daemon's settings: ``--config``, then ``DEXBRIDGE_*`` variables, then the parsed options.

    Raises:
        ConfigError: a value out of range or of the wrong type (the message names it and the fix).
    """
    flags = {name: getattr(args, name) for name in _FLAG_FIELDS}
    for name in ("mode", "sink", "allow", "files_dir", "library"):  # repeatable options
        flags[name] = tuple(getattr(args, name)) if getattr(args, name) else None
    flags["osc_tcp"] = False if args.no_tcp else None
    return Settings.resolve(args.config, flags=flags)


def check_osc_port(settings: Settings) -> None:
    """Bind the OSC port as the daemon does (UDP, and TCP unless ``--no-tcp``), then let it go, so that a
    taken port or a host that is not this computer's is refused at once, not after the model loads.

    Raises:
        OscPortError: the daemon's own words: which port and protocol, and what to do.
    """
    if settings.osc_port == 0:  # any free port: none can be taken
        return
    from bridge.osc.server import bind_error

    host, port = settings.osc_host, settings.osc_port

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        try:
            udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(host, port))
        except OSError as exc:
            raise bind_error(exc, host, port, "UDP") from None
        try:
            if settings.osc_tcp:
                tcp = await asyncio.start_server(lambda reader, writer: writer.close(), host, port)
                tcp.close()
                await tcp.wait_closed()
        except OSError as exc:
            raise bind_error(exc, host, port, "TCP") from None
        finally:
            udp.close()

    asyncio.run(probe())


def _serve(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_osc_port(settings)
    if settings.log_json:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLogFormatter())
    logger.info("daemon.starting: loading the daemon's code (torch, the engine), then the MIDI system, the model and "
                "OSC, a few seconds; 'daemon.ready' says when it serves")
    from bridge.daemon.lifecycle import Daemon  # the daemon's modules load once the settings are good
    from engine.allocator import cap_arenas

    cap_arenas()
    faulthandler.enable(all_threads=True)  # a crash in native code (libjack, a synth) leaves every thread's stack in the log
    if hasattr(signal, "SIGUSR1"):  # kill -USR1 PID: every thread's stack to stderr, even with the GIL held
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    asyncio.run(Daemon(settings).serve())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve``."""
    serve = subparsers.add_parser(
        "serve", help="run the live bridge: OSC and MIDI in, voices out to Dexed / a DX7 / Max",
        description="Run the daemon until SIGINT/SIGTERM (graceful: all-notes-off, ports closed, files flushed, exit 0). "
        "Settings come from --config (TOML, keys = the long option names with underscores), then DEXBRIDGE_* environment "
        "variables (DEXBRIDGE_OSC_PORT=9001), then these options. The OSC namespace is in docs/osc.md.")
    serve.add_argument("--config", type=Path, help="a TOML settings file (osc_port = 9000, mode = ['param', 'cc'], ...)")
    osc = serve.add_argument_group("OSC")
    osc.add_argument("--osc-host", help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0 listens "
                     "on every network, and then --allow says who is served)")
    osc.add_argument("--osc-port", type=int, help="UDP port, and TCP on the same number (default 9000)")
    osc.add_argument("--no-tcp", action="store_true", help="do not listen on TCP")
    osc.add_argument("--reply-port", type=int, help="send replies to this port on the sender's host (Max udpreceive)")
    network = serve.add_argument_group(
        "network and files", "OSC has no authentication: these decide who is served and which files requests may touch "
        "(docs/network.md)")
    network.add_argument("--allow", action="append", metavar="ADDR/CIDR",
                         help="serve only this address or network, repeat for several (192.168.1.20, 192.168.1.0/24); "
                         "packets from anyone else are dropped without a reply and counted in /dexbridge/status. "
                         "Default: this computer only (127.0.0.0/8 and ::1; name 127.0.0.1 too when you give others). "
                         "'any' serves every address")
    network.add_argument("--files-dir", action="append", type=Path, metavar="DIR",
                         help="the folder OSC requests read and write files in (relative paths resolve there; nothing "
                         "outside it is read or written); repeat to let requests also read other folders: the first "
                         "takes the writes. Default: dexbridge in $XDG_DATA_HOME or ~/.local/share, created at start")
    network.add_argument("--overwrite", action="store_true", default=None,
                         help="let requests replace any file in the files folder (by default only .syx/.mid files "
                         "holding DX7 dumps are replaced, as the daemon writes them)")
    network.add_argument("--client-uploads", type=int, metavar="N",
                         help="chunked uploads one client address may have open at once (default 2)")
    network.add_argument("--client-jobs", type=int, metavar="N",
                         help="inferences one client address may have queued or running at once (default 2); "
                         "more are refused, so one busy client cannot starve the others")
    midi = serve.add_argument_group("MIDI")
    midi.add_argument("--midi-in", help="input port: exact name, unique substring, or virtual:NAME")
    midi.add_argument("--midi-out", help="output port: exact name, unique substring, or virtual:NAME")
    midi.add_argument("--midi-api", choices=MIDI_APIS, help="MIDI system (default auto)")
    midi.add_argument("--mode", action="append", choices=OUTPUT_MODES,
                      help="output mode, repeat for several: param (parameter changes), dump (voice dumps), "
                      "cc (MIDI-learned CCs), osc (/dexbridge/host_param for Max vst~); default param")
    midi.add_argument("--din", action="store_true", default=None,
                      help=f"a DIN cable is in the chain: limit output to {DIN_BYTES_PER_SECOND} bytes/s")
    midi.add_argument("--byte-budget", type=int, help="output limit in bytes/s (overrides --din)")
    midi.add_argument("--channel", type=int, help="MIDI channel 1-16 (default 1)")
    midi.add_argument("--cc-map", type=Path, help=f"CC map file for cc mode (default: the built-in map of {len(MAPPABLE)} "
                      "parameters, every one Dexed has a knob for; 'dexbridge cc-learn' teaches it to Dexed)")
    midi.add_argument("--dump-debounce-ms", type=float, help="dump mode: wait this long for more changes (default 50)")
    midi.add_argument("--dump-wait-notes", action="store_true", default=None,
                      help="dump mode: hold dumps until no note is held (Dexed cuts sounding notes on a dump)")
    midi.add_argument("--messages-per-period", type=int, metavar="N",
                      help="pace the MIDI port: at most N messages per JACK period (per millisecond on ALSA/CoreMIDI), "
                      "the rest in later periods, for a synth whose input queue is short (default: bursts go whole)")
    midi.add_argument("--resync-s", type=float, metavar="S",
                      help="send the whole voice again after S seconds without output, for a synth that may restart "
                      "unseen (default: never; a reopened port, a new JACK connection and /dexbridge/resync always do)")
    control = serve.add_argument_group("control and engine")
    control.add_argument("--control-rate", type=float, help="morph/macro steps per second (default 200)")
    control.add_argument("--slew-ms", type=float, help="morph/macro smoothing time constant in ms (default 20; 0 = none)")
    control.add_argument("--morph-method", choices=MORPH_METHODS,
                         help="how /dexbridge/morph moves between the slots: planned (a path planned when the slots are "
                         "filled, a little change at every step; the voice holds until it is ready), latent (the "
                         "model's latent line), naive (parameters blended); default planned (docs/morphing.md)")
    control.add_argument("--checkpoint", type=Path, help="serving checkpoint (default models/checkpoints/default.pt)")
    control.add_argument("--backend", help="auto, torch, torchscript, onnx, cuda, tensorrt (default auto)")
    control.add_argument("--engine-threads", type=int, metavar="N",
                         help="intra-op threads for inference (torch and ONNX Runtime), and processes rendering for "
                              "the search when 2 or more (default: every core but one, which stays free for the "
                              "daemon, MIDI and the DAW: 1 on a 2-core machine)")
    control.add_argument("--search-ms", type=float, metavar="MS",
                         help="search budget per inference: the first voice (the network's or the nearest library "
                         "voice, tuned) is sent at once, then each better voice as it is found, until MS or a newer "
                         "request (default 500; 0 = the first voice only)")
    control.add_argument("--search-renders", type=int, metavar="N",
                         help="also end each search after N renders (none by default): with a --search-ms long enough "
                         "to reach them, the daemon answers a snippet with the voice 'dexbridge infer --max-renders N' "
                         "gives")
    control.add_argument("--library", action="append", type=Path, metavar="LIB.npz",
                         help="also start searches from this voice library ('dexbridge library build'; repeatable)")
    control.add_argument("--no-library", action="store_true", default=None,
                         help="leave the shipped voice library (the DX7 corpus's training split) out")
    control.add_argument("--max-jobs", type=int, help="audio jobs queued at most; more are refused as busy (default 4)")
    control.add_argument("--input-device", help="audio input for /dexbridge/capture (sounddevice name; default input)")
    control.add_argument("--output-device", help="audio output for /dexbridge/note auditions (sounddevice name; default output)")
    sinks = serve.add_argument_group("synth sinks")
    sinks.add_argument("--sink", action="append", choices=SINKS,
                       help="where voices go, repeat for several: midi (the --midi-out port), embedded (dexed-py), "
                       "dawdreamer (a Dexed VST3 or the bundled Faust DX7); default: midi when --midi-out is given")
    sinks.add_argument("--plugin", type=Path, help="Dexed VST3 for the dawdreamer sink")
    serve.add_argument("--log-json", action="store_true", default=None, help="log one JSON object a line")
    serve.set_defaults(handler=_serve)
