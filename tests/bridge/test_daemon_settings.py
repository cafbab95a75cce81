"""Settings: TOML < DEXBRIDGE_* environment < flags, validated once with messages that name the fix."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from bridge.commands.cli import build_parser
from bridge.commands.serve import check_osc_port, settings_from_args
from bridge.daemon import settings as settings_module
from bridge.daemon.settings import Settings
from bridge.osc.server import OscPortError
from models.errors import ConfigError


def test_defaults() -> None:
    settings = Settings.resolve(env={})
    assert settings == Settings()
    assert settings.control_rate == 200.0
    assert settings.mode == ("param",)
    assert settings.bytes_per_second is None
    assert settings.midi_channel == 0
    assert settings.sink == ()


def test_toml_then_env_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('osc_port = 9100\nchannel = 3\nmode = ["param", "cc"]\ncontrol_rate = 100\nmidi_out = "virtual:out"\n')
    env = {"DEXBRIDGE_OSC_PORT": "9200", "DEXBRIDGE_DIN": "yes", "DEXBRIDGE_MODE": "dump,osc", "DEXBRIDGE_ENGINE_THREADS": "1",
           "HOME": "/x"}
    settings = Settings.resolve(config, env, {"osc_port": 9300, "midi_in": None})
    assert settings.osc_port == 9300  # flag beats env beats file
    assert settings.channel == 3 and settings.midi_channel == 2  # file
    assert settings.mode == ("dump", "osc")  # env beats file
    assert settings.control_rate == 100.0 and isinstance(settings.control_rate, float)
    assert settings.din and settings.bytes_per_second == 3125
    assert settings.midi_out == "virtual:out" and settings.sink == ("midi",)  # a MIDI output implies the midi sink
    assert settings.to_dict()["mode"] == ["dump", "osc"]
    assert settings.engine_threads == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"channel": 17}, "channel = 17, range 1..16"),
        ({"osc_port": 70000}, "osc_port = 70000, range 0..65535"),
        ({"mode": ("param", "sysex")}, "mode = 'sysex', choose from param, dump, cc, osc"),
        ({"midi_api": "oss"}, "midi_api = 'oss', choose from auto, jack, alsa, coremidi, winmm"),
        ({"control_rate": 0.5}, "control_rate = 0.5 Hz, range 1..2000"),
        ({"control_rate": float("nan")}, "control_rate = nan Hz"),
        ({"morph_method": "spline"}, "morph_method = 'spline', choose from planned, latent, naive"),
        ({"byte_budget": 3}, "byte_budget = 3 bytes/s, must be >= 7"),
        ({"engine_threads": 0}, "engine_threads = 0, range 1..256"),
        ({"plugin": Path("Dexed.vst3")}, "add --sink dawdreamer"),
        ({"client_uploads": 0}, "client_uploads = 0, range 1..64 (open uploads per client)"),
        ({"client_jobs": 65}, "client_jobs = 65, range 1..64 (inferences in flight per client)"),
        ({"allow": ("192.168.1.300",)}, "allow = '192.168.1.300': not an IP address or network"),
        ({"allow": ("any", "::1")}, "allow = any ::1: 'any' admits every address, give it alone"),
    ],
)
def test_invalid_values_are_refused_with_the_range(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(**values)


def test_bad_sources_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['osc_prot'\]"):
        Settings.resolve(env={"DEXBRIDGE_CHANNEL": "2"}, flags={"osc_prot": 1})
    with pytest.raises(ConfigError, match="setting channel: invalid literal"):
        Settings.resolve(env={"DEXBRIDGE_CHANNEL": "two"})
    with pytest.raises(ConfigError, match="setting din: 'maybe' is not a boolean"):
        Settings.resolve(env={"DEXBRIDGE_DIN": "maybe"})
    with pytest.raises(ConfigError, match="settings file .* not found"):
        Settings.resolve(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("osc_port = 'nine'\n")
    with pytest.raises(ConfigError, match=r"setting osc_port: invalid literal"):
        Settings.resolve(bad, env={})
    bad.write_text("osc_port = 1.5\n")
    with pytest.raises(ConfigError, match=r"setting osc_port: a float \(1.5\), expected int"):
        Settings.resolve(bad, env={})
    bad.write_text("[serve]\nosc_port = 1\n")
    with pytest.raises(ConfigError, match=r"tables \['serve'\] are not settings"):
        Settings.resolve(bad, env={})


def test_network_and_files_settings_from_each_source(tmp_path: Path) -> None:
    assert Settings().allow == () and Settings().files_dir == () and not Settings().overwrite
    assert Settings().allow_list.describe() == "127.0.0.0/8 ::1/128"
    config = tmp_path / "serve.toml"
    config.write_text('files_dir = ["~/voices", "/srv/banks"]\nallow = ["192.168.1.0/24"]\nclient_jobs = 3\n')
    from_file = Settings.resolve(config, env={})
    assert from_file.files_dir == (Path("~/voices"), Path("/srv/banks")) and from_file.allow == ("192.168.1.0/24",)
    from_env = Settings.resolve(config, {"DEXBRIDGE_FILES_DIR": "/a, /b", "DEXBRIDGE_ALLOW": "any", "DEXBRIDGE_OVERWRITE": "1",
                                         "DEXBRIDGE_CLIENT_UPLOADS": "4"})
    assert from_env.files_dir == (Path("/a"), Path("/b")) and from_env.allow == ("any",) and from_env.overwrite
    assert from_env.client_uploads == 4 and from_env.client_jobs == 3
    assert json.loads(json.dumps(from_env.to_dict()))["files_dir"] == ["/a", "/b"]


def test_serve_options(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve", "--osc-host", "0.0.0.0", "--allow", "192.168.1.0/24", "--allow", "127.0.0.1",
                                      "--files-dir", str(tmp_path / "w"), "--files-dir", "/srv/banks", "--overwrite",
                                      "--client-uploads", "1", "--client-jobs", "3"])
    settings = settings_from_args(args)
    assert settings.allow == ("192.168.1.0/24", "127.0.0.1") and settings.files_dir == (tmp_path / "w", Path("/srv/banks"))
    assert settings.overwrite and settings.client_uploads == 1 and settings.client_jobs == 3
    assert settings_from_args(build_parser().parse_args(["serve"])) == Settings.resolve()


def test_morph_method_from_each_source(tmp_path: Path) -> None:
    assert Settings().morph_method == "planned"
    config = tmp_path / "serve.toml"
    config.write_text('morph_method = "naive"\n')
    assert Settings.resolve(config, env={}).morph_method == "naive"
    assert Settings.resolve(config, env={"DEXBRIDGE_MORPH_METHOD": "latent"}).morph_method == "latent"
    args = build_parser().parse_args(["serve", "--morph-method", "planned"])
    assert settings_from_args(args).morph_method == "planned"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--morph-method", "spline"])


def test_serve_help_explains_the_network_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("OSC has no authentication", "--allow ADDR/CIDR", "dropped without a reply", "'any' serves every address",
                   "--files-dir DIR", "nothing outside it is read or written", "--overwrite",
                   "only .syx/.mid files holding DX7 dumps are replaced", "--client-uploads N", "--client-jobs N"):
        assert phrase in text, phrase


def test_serve_caps_mallocs_arenas_unless_the_environment_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc's per-thread arenas grew the daemon's memory 160 MiB in a 10-minute soak; 2 arenas: 10 MiB."""
    from engine.allocator import cap_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_arenas() is True  # this machine runs glibc, as CI does
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_arenas() is False, "the user's own setting wins"


def test_serve_finds_a_taken_osc_port_before_anything_loads() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(OscPortError, match=f"OSC port {port} \\(UDP\\) on 127.0.0.1 is taken"):
            check_osc_port(Settings(osc_port=port))
    check_osc_port(Settings(osc_port=port))  # free again: the check holds nothing
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        udp.bind(("127.0.0.1", port))  # the check let the port go: the daemon can bind it
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", port))
    check_osc_port(Settings(osc_port=0))  # any free port: nothing to check
    with socket.create_server(("127.0.0.1", 0)) as listening:
        tcp_port = listening.getsockname()[1]
        check_osc_port(Settings(osc_port=tcp_port, osc_tcp=False))  # TCP is not wanted: its port may be taken
        with pytest.raises(OscPortError, match=f"OSC port {tcp_port} \\(TCP\\) on 127.0.0.1 is taken"):
            check_osc_port(Settings(osc_port=tcp_port))


def test_inference_leaves_a_core_to_the_loop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "all_cores", lambda: 2)
    assert Settings().inference_threads() == 1
    monkeypatch.setattr(settings_module, "all_cores", lambda: 8)
    assert Settings().inference_threads() == 7
    assert Settings(engine_threads=3).inference_threads() == 3
