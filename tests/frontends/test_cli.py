"""The `metersim` command line: each subcommand runs, and exit codes tell outcomes apart."""

import json
from pathlib import Path

from metersim._cli import (EXIT_FAULT, EXIT_OK, EXIT_SETUP, EXIT_TIMEOUT, main)
from metersim._traces import read_pcap

REPO = Path(__file__).resolve().parents[2]


def test_run_prints_the_console_and_a_summary(firmware, capsys):
    rc = main(["run", str(firmware("f413rg", "hello")), "--for", "1.5s"])
    out = capsys.readouterr().out
    assert rc == EXIT_OK
    assert "[f413] uptime 1 s" in out
    assert "virtual time 1.500000 s" in out and "MIPS" in out


def test_run_until_text_on_a_platform(firmware, capsys):
    rc = main(["run", "--platform", str(REPO / "platforms/cpus/stm32f103rb.repl"),
               str(firmware("f103rb", "hello")), "--until", "uptime 2 s", "--for", "3s"])
    assert rc == EXIT_OK
    assert "uptime 2 s" in capsys.readouterr().out


def test_exit_codes_tell_fault_timeout_and_setup_apart(firmware, tmp_path, capsys):
    assert main(["run", str(firmware("f413rg", "bad_access"))]) == EXIT_FAULT
    assert "BFAR   : 0x60000000" in capsys.readouterr().err
    assert main(["run", str(firmware("f413rg", "hello")), "--until", "never printed",
                 "--for", "50ms"]) == EXIT_TIMEOUT
    assert "timeout" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.elf")]) == EXIT_SETUP
    assert "not found" in capsys.readouterr().err


def test_trace_writes_a_pcap_and_a_vcd(firmware, tmp_path, capsys):
    pcap, vcd = tmp_path / "hello.pcap", tmp_path / "hello.vcd"
    rc = main(["trace", "--platform", str(REPO / "platforms/cpus/stm32f413.repl"),
               str(firmware("f413rg", "hello")), "--for", "2.1s", "--pcap", str(pcap),
               "--vcd", str(vcd)])
    assert rc == EXIT_OK
    _, records = read_pcap(pcap)
    texts = b"".join(r.data for r in records)
    assert b"uptime 1 s" in texts and b"uptime 2 s" in texts
    # records carry virtual time: "uptime 2 s" is printed about 2 s after "uptime 1 s"
    times = {r.data.strip(): r.time_ns for r in records}
    assert abs(times[b"uptime 2 s"] - times[b"uptime 1 s"] - 10**9) < 10**7
    text = vcd.read_text()
    assert "$timescale" in text and "gpioPortA" in text and "usart1" in text


def test_trace_without_outputs_is_a_setup_error(firmware, capsys):
    assert main(["trace", str(firmware("f413rg", "hello"))]) == EXIT_SETUP
    assert "nothing to trace" in capsys.readouterr().err


def test_platform_show_and_scene(capsys):
    assert main(["platform", "show", str(REPO / "platforms/cpus/stm32f103rb.repl")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "usart1" in out and "0x40013800" in out and "modelled" in out
    assert main(["run", str(REPO / "platforms/scenes/hello_f103.resc"), "--for", "1.2s"]) == EXIT_OK
    assert "[f103:usart1] uptime 1 s" in capsys.readouterr().out


def test_cabinet_prints_rooms_as_json_and_checks_them(firmware, capsys):
    elf = str(firmware("f103rb", "metering_controller"))
    rc = main(["cabinet", "--hours", "0.05", "--elf", elf, "--json", "--check", "0.2"])
    cap = capsys.readouterr()
    assert rc == EXIT_OK
    rows = json.loads(cap.out)
    assert [r["name"] for r in rows] == ["heater0", "motor1", "computer2", "mixed3"]
    assert rows[0]["energy_Wh"] > 40 and rows[0]["relay"] == "closed"   # a 2 kW heater, 3 min
    assert "virtual hours" in cap.err                                  # progress kept off stdout
    assert main(["cabinet", "--hours", "0", "--elf", elf]) == EXIT_SETUP
    assert main(["cabinet", "--check", "-1", "--elf", elf]) == EXIT_SETUP
    assert "percentage" in capsys.readouterr().err
