"""Monitor commands Renode's scripts use, with Renode's semantics, in scenes of our own
(tests/frontends/renode_scenes/) and on metersim's firmware."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from metersim._frontends.monitor_syntax import MonitorError, statements

HERE = Path(__file__).resolve().parent
SCENES = HERE / "renode_scenes"
REPO = HERE.parents[1]


def f103(mon, firmware, program="hello"):
    mon.execute('mach create "m"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f103rb.repl")
    mon.execute(f"sysbus LoadELF @{firmware('f103rb', program)}")
    return mon.machine


def var(mon, name):
    return mon.variables[name].value


# ---------------------------------------------------------------- include, set, if, python
def test_include_loads_a_platform_a_piece_python_and_a_script(mon):
    mon.execute_script(SCENES / "include_all.resc")
    m = mon.machine
    assert m.cpu.core == "cortex-m3" and "usart1" in m.peripherals       # the .repl built it
    gpioa, led = m.peripherals["gpioPortA"], m.peripherals["led"]       # the piece was added
    gpioa.write(0x00, 4, 0x44144444)                                    # CRL: PA5 output
    gpioa.write(0x10, 4, 1 << 5)                                        # BSRR: set PA5
    assert led.state is True
    assert var(mon, "led_state") == "False" and var(mon, "from_python") == "board"
    assert var(mon, "greeting") == "hello from sub"
    assert Path(var(mon, "sub_origin")) == SCENES / "sub"               # $ORIGIN of sub/settings
    assert "ORIGIN" not in mon.variables                                # restored after the scene


def test_set_blocks_if_and_global_variables(mon):
    mon.execute_script(SCENES / "conditions.resc")
    assert var(mon, "mode").strip() == "fast"
    assert var(mon, "chosen") == "a or b"          # ECUB is in "ECUA ECUB", not in "ECUC"
    assert var(mon, "count") == 3 and var(mon, "name") == "ECUB"
    mon.execute('$global.name = "ECUC"')
    mon.execute_script(SCENES / "conditions.resc")
    assert var(mon, "chosen") == "c"


def test_a_triple_quoted_block_on_the_next_line_joins_the_statement():
    got = statements('set hook\n"""\nprint(pc)\n"""\nstart\n')
    assert [(n, s.split("\n")[0]) for n, s in got] == [(1, "set hook"), (5, "start")]


def test_python_one_liners_and_blocks(mon, firmware):
    assert mon.execute('python "print(6 * 7)"') == "42"
    assert mon.execute('python "import _random"') == ""               # Renode's F4 scene does this
    assert mon.execute('python "print 6 * 7"') == "42"                 # IronPython 2 print statement
    f103(mon, firmware)
    out = mon.execute('python """\n    u = machine["sysbus.usart1"]\n    print(u.GetName(), '
                      'hex(machine.SystemBus.ReadDoubleWord(0x08000004)))\n"""')
    reset_vector = int(mon.execute("sysbus ReadDoubleWord 0x08000004"), 16)
    assert out == f"usart1 {hex(reset_vector)}"
    with pytest.raises(MonitorError, match="python: NameError"):
        mon.execute('python "no_such_name + 1"')


# ---------------------------------------------------------------- errors with their line
def test_unknown_commands_fail_with_their_name_and_line(mon):
    with pytest.raises(MonitorError, match=r"unknown\.resc:2: unknown command or peripheral "
                                           r"'frobnicate'"):
        mon.execute_script(SCENES / "unknown.resc")
    with pytest.raises(MonitorError, match=r"typo\.resc:4: sysbus has no command 'LoadElf'; "
                                           r"did you mean sysbus LoadELF\?"):
        mon.execute_script(SCENES / "typo.resc")


# ---------------------------------------------------------------- hubs
def test_create_uart_hub_in_renodes_spelling_and_ours(mon):
    mon.execute('emulation CreateUARTHub "a"')
    mon.execute('emulation CreateUartHub "b"')
    assert set(mon.hubs) == {"a", "b"}
    with pytest.raises(MonitorError, match="exists already"):
        mon.execute('emulation CreateUARTHub "a"')
    scene = (REPO / "platforms/scenes/two_boards.resc").read_text()
    assert 'emulation CreateUARTHub "link"' in scene and "CreateUartHub" not in scene


# ---------------------------------------------------------------- sysbus loading
def intel_hex(data: bytes, base: int) -> str:
    out = []
    upper = None
    for off in range(0, len(data), 16):
        addr = base + off
        if addr >> 16 != upper:
            upper = addr >> 16
            rec = bytes([2, 0, 0, 4]) + upper.to_bytes(2, "big")
            out.append(":" + (rec + bytes([-sum(rec) & 0xFF])).hex().upper())
        chunk = data[off:off + 16]
        rec = bytes([len(chunk), (addr >> 8) & 0xFF, addr & 0xFF, 0]) + chunk
        out.append(":" + (rec + bytes([-sum(rec) & 0xFF])).hex().upper())
    return "\n".join(out + [":00000001FF"]) + "\n"


def test_load_hex_runs_the_firmware(mon, firmware, lines, tmp_path):
    hexfile = tmp_path / "hello.hex"
    hexfile.write_text(intel_hex(firmware("f103rb", "hello").with_suffix(".bin").read_bytes(),
                                 0x08000000))
    mon.execute('mach create "h"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f103rb.repl")
    assert mon.execute(f"sysbus LoadHEX @{hexfile}").endswith("bytes from hello.hex")
    mon.execute("showAnalyzer sysbus.usart1")
    mon.execute('emulation RunFor "1.1"')
    assert "[h:usart1] uptime 1 s" in lines
    bad = tmp_path / "bad.hex"
    bad.write_text(":0400000001020304F0\n")
    with pytest.raises(MonitorError, match=r"bad.hex:1: checksum mismatch"):
        mon.execute(f"sysbus LoadHEX @{bad}")


def test_load_symbols_from_gives_addresses_without_loading(mon, firmware):
    elf = firmware("f103rb", "hello")
    mon.execute('mach create "s"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f103rb.repl")
    mon.execute(f"sysbus LoadSymbolsFrom @{elf}")
    assert mon.machine.firmware is None
    assert mon.execute("sysbus ReadDoubleWord 0x08000000") == "0xFFFFFFFF"   # erased flash: nothing loaded
    main = int(mon.execute('sysbus GetSymbolAddress "main"'), 16)
    from metersim._engine.loader import load_elf
    assert main == load_elf(elf).symbols.lookup("main")


# ---------------------------------------------------------------- cpu
def test_cpu_pc_and_sp_are_values_and_can_be_set(mon, firmware):
    f103(mon, firmware)
    sp, pc = (int(mon.execute(f"sysbus ReadDoubleWord {a}"), 16) for a in (0x08000000, 0x08000004))
    assert int(mon.execute("cpu PC"), 16) == pc & ~1
    assert int(mon.execute("cpu SP"), 16) == sp
    mon.execute("$start = `cpu PC`")
    assert var(mon, "start") == pc & ~1                         # a value other commands can use
    mon.execute("cpu SP 0x20001000")
    assert mon.execute("cpu GetRegister 13") == "0x20001000"


def test_cpu_add_hook_runs_python_at_an_address(mon, firmware, lines):
    f103(mon, firmware)
    mon.execute('set hook """\nprint("main reached, pc=0x%x sp=0x%x" % (pc, self.SP))\n'
                'monitor.Parse("set main_seen true")\n"""')
    mon.execute('cpu AddHook `sysbus GetSymbolAddress "main"` $hook')
    mon.execute('emulation RunFor "0.01"')
    main = int(mon.execute('sysbus GetSymbolAddress "main"'), 16) & ~1
    assert any(ln.startswith(f"main reached, pc=0x{main:x}") for ln in lines)
    assert var(mon, "main_seen") is True
    mon.execute(f"cpu RemoveHooksAt {main}")
    with pytest.raises(MonitorError, match="no hook at"):
        mon.execute(f"cpu RemoveHooksAt {main}")


# ---------------------------------------------------------------- peripherals
def test_register_access_on_a_named_peripheral_and_bare_names(mon, firmware):
    f103(mon, firmware)
    mon.execute("sysbus.usart1 WriteDoubleWord 0x0C 0x200C")          # CR1: UE TE RE
    assert mon.execute("usart1 ReadDoubleWord 0x0C") == "0x0000200C"   # bare name: under sysbus
    assert mon.execute("sysbus ReadDoubleWord 0x4001380C") == "0x0000200C"
    assert mon.execute("sysbus.usart1 ReadWord 0x0C") == "0x200C"
    with pytest.raises(MonitorError, match="outside the peripheral"):
        mon.execute("sysbus.usart1 ReadDoubleWord 0x400")


def test_pydev_from_string_and_from_file(mon, firmware):
    f103(mon, firmware)
    mon.execute('machine PyDevFromString "request.Value = 0x1234 + request.Offset" 0x40007800 '
                '0x10 false "magic"')
    assert mon.execute("sysbus ReadDoubleWord 0x40007804") == "0x00001238"
    assert mon.execute("sysbus.magic ReadDoubleWord 0x8") == "0x0000123C"
    mon.execute("machine PyDevFromFile @scripts/pydev/counter.py 0x40007C00 4 true \"ctr\"")
    assert [mon.execute("sysbus ReadDoubleWord 0x40007C00") for _ in range(3)] == \
        ["0x00000000", "0x00000001", "0x00000002"]


def test_log_all_peripherals_access(mon, firmware, caplog):
    f103(mon, firmware)
    assert mon.execute("sysbus LogAllPeripheralsAccess true").startswith("access logging on")
    with caplog.at_level(logging.INFO, logger="metersim.access"):
        mon.execute('emulation RunFor "0.01"')
    assert any("m: usart1: write" in r.getMessage() for r in caplog.records)
    mon.execute("sysbus LogAllPeripheralsAccess false")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="metersim.access"):
        mon.execute('emulation RunFor "1"')
    assert not [r for r in caplog.records if r.name == "metersim.access"]


# ---------------------------------------------------------------- socket terminal
def test_server_socket_terminal_bridges_a_uart_to_tcp(mon, firmware):
    f103(mon, firmware, "shell_demo")
    out = mon.execute('emulation CreateServerSocketTerminal 0 "term" false')
    term = mon.terminals["term"]
    assert out == f"terminal 'term' listening on 127.0.0.1:{term.port}"
    mon.execute("connector Connect sysbus.usart1 term")
    client = socket.create_connection(("127.0.0.1", term.port), timeout=5)
    try:
        deadline = time.monotonic() + 5
        while term._client is None and time.monotonic() < deadline:
            time.sleep(0.01)
        mon.execute('emulation RunFor "1"')
        got = b""
        while b"msh> " not in got:
            got += client.recv(4096)
        client.sendall(b"echo over tcp\r")
        while term.received < 14 and time.monotonic() < deadline:
            time.sleep(0.01)
        mon.execute('emulation RunFor "0.5"')
        got = b""
        while b"msh> " not in got:
            got += client.recv(4096)
        assert b"over tcp\r\n" in got.replace(b"echo over tcp", b"")
    finally:
        client.close()


# ---------------------------------------------------------------- a scene in Renode's style
def test_scene_in_the_style_of_renodes_stm32_scenes(mon, firmware, lines):
    import random

    mon.execute(f"$bin = @{firmware('f413rg', 'hello')}")
    mon.execute_script(SCENES / "renode_style_f4.resc")
    m = mon.machine
    assert m.name == "F4_Renode_style" and mon.started
    board_id = random.Random(7).getrandbits(32)              # CPython's _random, as Renode's
    assert var(mon, "id1") == board_id
    notes = [ln for ln in lines if ln.startswith("note: ltdc (Video.STM32LTDC) is not modelled")]
    assert len(notes) == 2                                    # the property and the analyzer
    assert any("PerformanceInMips ignored" in ln for ln in lines)
    mon.run_for("1.05s")
    assert "[F4_Renode_style:usart1] metersim hello on STM32F413RG (Cortex-M4F)" in lines
    assert "[F4_Renode_style:usart1] uptime 1 s" in lines
    m.peripherals["button"].press()                           # wired by IRQ -> gpioPortC@13
    assert m.sysbus.read_word(0x40020810) & (1 << 13)         # GPIOC IDR13


# ---------------------------------------------------------------- SD cards, network services
def test_sd_card_from_file_is_checked_recorded_and_says_the_card_is_not_modelled(mon, lines,
                                                                               tmp_path):
    (tmp_path / "card.img").write_bytes(bytes(4096))
    scene = tmp_path / "sd_card.resc"
    scene.write_text((SCENES / "sd_card.resc").read_text())
    mon.execute_script(scene)
    notes = [ln for ln in lines if "SD card" in ln]
    assert notes[0] == ("note: sd_board: SD card 'sdCard' (card.img, 8388608 bytes, not "
                        "persistent) recorded on sdmmc (SD.STM32HSDMMC); metersim does not model "
                        "SD cards or their controllers, so the firmware sees no card and the "
                        "image is never read or written")
    assert "SD card 'card2' (card.img, 4096 bytes, persistent)" in notes[1]   # size: the file's
    assert set(mon.sd_cards) == {("sd_board", "sdCard"), ("sd_board", "card2")}
    assert mon.machine.sysbus.read_word(0x52007000) == 0       # the controller is a tag
    assert (tmp_path / "card.img").read_bytes() == bytes(4096)  # never written


def test_sd_card_on_a_missing_controller_fails_with_the_line(mon, tmp_path):
    (tmp_path / "card.img").write_bytes(bytes(512))
    scene = tmp_path / "sd_card_no_controller.resc"
    scene.write_text((SCENES / "sd_card_no_controller.resc").read_text())
    with pytest.raises(MonitorError, match=r"sd_card_no_controller\.resc:3: sd_board has no "
                                           r"peripheral 'sysbus\.sdio'"):
        mon.execute_script(scene)


def test_emulated_network_service_is_created_in_renode_argument_order(mon):
    mon.execute_script(SCENES / "network_service.resc")
    service = mon.emulation.network.services["netEcho"]
    assert type(service).__name__ == "EchoService"
    assert (service.address, service.port) == ("192.0.2.1", 4242)


@pytest.mark.parametrize("line, error", [
    ('"netEcho" "Antmicro.Renode.Peripherals.Network.EchoService" "192.0.2.2" 7 ""',
     r"a network service named 'netEcho' exists already"),
    ('"other" "Antmicro.Renode.Peripherals.Network.EchoService" "192.0.2.1" 4242',
     r"192\.0\.2\.1:4242 is taken by 'netEcho'"),
    ('"web" "Antmicro.Renode.Peripherals.Network.HttpService" "192.0.2.3" 80',
     r"no emulated network service type '.*HttpService'; metersim has: "
     r"Antmicro\.Renode\.Peripherals\.Network\.EchoService"),
    ('"bad" "Antmicro.Renode.Peripherals.Network.EchoService" "192.0.2.300" 7',
     r"'192\.0\.2\.300' is not an IP address"),
    ('"bad" "Antmicro.Renode.Peripherals.Network.EchoService" "192.0.2.4" "7"',
     r"the port is a number, got '\"7\"'"),
    ('"bad" "Antmicro.Renode.Peripherals.Network.EchoService"', r"expected 4 or 5 arguments, got 2"),
])
def test_emulated_network_service_errors(mon, line, error):
    mon.execute_script(SCENES / "network_service.resc")
    with pytest.raises(MonitorError, match=error):
        mon.execute(f"emulation CreateEmulatedNetworkService {line}")


UPSTREAM = REPO.parents[1] / "shared" / "renode-upstream"
if not UPSTREAM.is_dir():
    UPSTREAM = Path("/work/shared/renode-upstream")


@pytest.fixture
def modem_scene(mon, lines, firmware):
    """Renode's STM32F746 Discovery platform, the BG96 on usart2, the echo service at
    192.0.2.1:4242 and metersim's echo client (firmware/targets/renode_samples/f7_modem.c)."""
    mon.search_paths.insert(0, UPSTREAM)       # Renode's platforms/boards/stm32f7_discovery-bb
    mon.execute(f"$bin = @{firmware('renode_samples', 'f7_modem')}")
    mon.execute_script(SCENES / "modem_echo.resc")
    return mon.machine.peripherals["bg96"]


def console(lines):
    return [ln.split("] ", 2)[-1] for ln in lines if ln.startswith("[modem_board:usart1]")]


def test_echo_client_through_the_bg96_and_the_echo_service(mon, lines, modem_scene):
    mon.run_for("6.2s")        # the modem boots in 4.9 s; then a block every ~0.3 s
    out = console(lines)
    assert "<inf> modem_quectel_bg9x: IMEI: 490154203237518" in out         # the .repl's
    assert "<inf> modem_quectel_bg9x: Registered, signal +CSQ: 16,99" in out  # Rssi -81 dBm
    assert "<inf> net_echo_client_sample: Network is ready" in out
    echoed = [ln for ln in out if "IPv4 TCP: Received and compared" in ln]
    assert echoed == [f"<inf> net_echo_client_sample: IPv4 TCP: Received and compared {n} "
                      "bytes, all ok" for n in (15, 170, 600)]
    assert mon.emulation.network.services["echo"].echoed_bytes == 15 + 170 + 600
    assert modem_scene.commands[-3:] == ["AT+QISEND=0,600", "AT+QIRD=0,1500", "AT+QIRD=0,1500"]


def test_echo_client_reports_a_refused_pdp_context(mon, lines, modem_scene):
    mon.execute('usart2.bg96 OverrideResponseForCommand "AT+QIACT=1" "ERROR"')
    mon.run_for("5.6s")
    out = console(lines)
    assert out[-1] == "<err> modem_quectel_bg9x: Error activating modem with pdp context"
    assert not any("Network is ready" in ln for ln in out)


def test_echo_client_without_a_service_at_the_address(mon, lines, modem_scene):
    mon.emulation.network.services.pop("echo")
    mon.run_for("5.6s")
    out = console(lines)
    assert out[-2:] == ["<inf> net_echo_client_sample: Network is ready",
                        "<err> net_echo_client_sample: Cannot connect to TCP remote "
                        "192.0.2.1:4242"]


def test_a_platform_error_in_a_scene_names_the_scene_line(mon):
    from metersim._errors import PlatformError

    with pytest.raises(PlatformError, match=r"unmodelled_piece\.resc:3: LoadPlatformDescription"
                                            r"FromString:\d+: baro: could not resolve type "
                                            r"'Sensors\.BMP180': metersim has no "
                                            r"model of it \(Renode's Sensors namespace\)"):
        mon.execute_script(SCENES / "unmodelled_piece.resc")
