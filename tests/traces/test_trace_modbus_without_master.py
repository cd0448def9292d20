"""`metersim trace --protocol modbus` runs a firmware alone: with no Modbus master polling it
(or no Modbus traffic at all) it says so instead of leaving an empty pcap without a word."""

from pathlib import Path

from metersim._cli import EXIT_SETUP, main
from metersim._traces.pcap import read_pcap

REPO = Path(__file__).resolve().parents[2]


def test_a_silent_modbus_slave_is_reported_naming_the_missing_master(firmware, tmp_path, capsys):
    pcap = tmp_path / "slave.pcap"
    rc = main(["trace", "--platform", str(REPO / "platforms/boards/metering_controller.repl"),
               str(firmware("f103rb", "metering_controller")), "--uart", "usart2",
               "--protocol", "modbus", "--pcap", str(pcap), "--for", "300ms"])
    err = capsys.readouterr().err
    assert rc == EXIT_SETUP
    assert "expected Modbus RTU frames on usart2 and saw no character at all in 300ms" in err
    assert "no Modbus master" in err and "ModbusMaster" in err and "capture_rs485_pcap" in err
    assert read_pcap(pcap)[1] == []                   # the file named in the message is empty


def test_bytes_that_are_not_modbus_are_reported_too(firmware, tmp_path, capsys):
    rc = main(["trace", str(firmware("f413rg", "hello")), "--protocol", "modbus",
               "--pcap", str(tmp_path / "console.pcap"), "--for", "1.2s"])
    err = capsys.readouterr().err
    assert rc == EXIT_SETUP
    assert "expected Modbus RTU frames on usart1" in err
    assert "none a valid Modbus RTU frame" in err
