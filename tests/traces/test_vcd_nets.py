"""VCD of a whole machine (`VcdTracer.machine`, `metersim trace --vcd`): signals named after the
nets the platform wires, in a scope per machine and per port or device, read back from the file
while the real firmware drives them."""

import pytest

from metersim._cabinet.board import build_controller
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.scenario import RoomLoad, attach_rooms, prepare_rooms
from metersim._engine.emulation import Emulation
from metersim._cli import EXIT_OK, main
from metersim._orchestration.appliances import ResistiveHeater
from metersim._resources import platforms_dir
from metersim._traces.errors import TraceError
from metersim._traces.vcd import VcdTracer

from tests.traces.test_vcd import parse_vcd

C = "controller1"


def edges(changes):
    """Times at which a 1-bit signal changed after its initial value."""
    return [t for t, _ in changes[1:]]


@pytest.fixture(scope="module")
def controller_vcd(firmware, tmp_path_factory):
    """The metering controller booted with a heater in room 0, topped up over Modbus (so the
    firmware closes room 0's relay), traced from before the first instruction."""
    path = tmp_path_factory.mktemp("nets") / "controller.vcd"
    emu = Emulation(seed=1)
    board = build_controller(emu, elf=firmware("f103rb", "metering_controller"))
    master = ModbusMaster(emu, board.bus)
    tracer = VcdTracer(path, emu.clock)
    tracer.machine(board)
    attach_rooms(board, [RoomLoad("heater", [ResistiveHeater(2000.0)])])
    emu.run_for("1.5s")
    prepare_rooms(master, 1)
    emu.run_for("200ms")
    assert board.relay_closed(0)
    tracer.close()
    changes, _, names = parse_vcd(path)
    return board, changes, names, path


def test_pins_are_named_after_the_device_inputs_they_drive(controller_vcd):
    _, _, names, path = controller_vcd
    for net in ("gpioPortB.PB4->csDecoder0_E1_n", "gpioPortB.PB5->csDecoder1_E1_n",
                "gpioPortB.PB0->csDecoder0_A0,csDecoder1_A0",
                "gpioPortB.PB9->ade0_RESET_n,ade1_RESET_n,ade2_RESET_n,ade3_RESET_n",
                "gpioPortB.PB11->relayIn_PL_n", "gpioPortB.PB12->relayOut_RCLK",
                "gpioPortA.PA1->rs485_DE,rs485_RE_n", "gpioPortC.PC6->ledRun",
                # pins wired to nothing on the board keep their port/pin name
                "gpioPortA.PA0", "gpioPortA.PA8", "gpioPortC.PC0"):
        assert f"{C}.{net}" in names
    assert not [n for n in names if ".pin" in n]
    # the tree GTKWave shows: machine, then port or device
    text = path.read_text()
    assert "$scope module controller1 $end\n$scope module ade0 $end" in text


def test_device_outputs_are_named_after_their_source(controller_vcd):
    _, _, names, _ = controller_vcd
    for net in ("ade0.IRQ->adeIrq_0", "adeIrq.OUT->PA8", "csDecoder0.Y3->ade3_CS_n",
                "relayOut.Q0->relay0_SET", "relayOut.Q7->relay3_RESET",
                "relay0.contact", "relay0.feedback->relayIn_D0", "relay3.contact",
                # lines wired only to the interrupt controllers carry their source's name
                "usart1.IRQ", "spi1.IRQ", "pwr.PVD",
                "spi1.mosi", "spi1.miso", "spi1.xfer", "spi2.mosi", "ade0.cs_active",
                "usart1.tx", "usart2.tx"):
        assert f"{C}.{net}" in names


def test_ade7753_chip_selects_toggle_as_the_firmware_reads_each_room(controller_vcd):
    _, ch, _, _ = controller_vcd
    e1 = edges(ch[f"{C}.gpioPortB.PB4->csDecoder0_E1_n"])
    assert len(e1) > 20                                     # decoder 0 enabled per transfer
    for room in range(4):
        y = ch[f"{C}.csDecoder0.Y{room}->ade{room}_CS_n"]
        cs = ch[f"{C}.ade{room}.cs_active"]
        assert y[0] == (0, 1) and len(y) > 4               # /CS idles high, then pulses low
        # the decoder output and the chip's own view of its select change together
        assert edges(y) == edges(cs)
        assert [v for _, v in y[1:]] == [1 - v for _, v in cs[1:]]
    # the rooms are read one after the other: room 0 first selected before room 1
    assert edges(ch[f"{C}.ade0.cs_active"])[0] < edges(ch[f"{C}.ade1.cs_active"])[0]
    # SPI bytes go out on bus spi1 while a chip is selected
    first_byte = ch[f"{C}.spi1.xfer"][0][0]
    assert edges(ch[f"{C}.ade0.cs_active"])[0] <= first_byte
    assert len(ch[f"{C}.spi1.xfer"]) > 20


def test_relay_coil_net_pulses_and_the_contact_follows(controller_vcd):
    board, ch, _, _ = controller_vcd
    set_coil = ch[f"{C}.relayOut.Q0->relay0_SET"]
    assert [v for _, v in set_coil] == [0, 1, 0]            # one pulse on room 0's SET coil
    on = set_coil[1][0]
    contact = ch[f"{C}.relay0.contact"]
    assert contact == [(0, 0), (on + board.relays[0].operate_time_ps // 1000, 1)]
    # the 595 latched it: RCLK rose at that instant; the other rooms' SET coils never pulsed
    assert on in [t for t, v in ch[f"{C}.gpioPortB.PB12->relayOut_RCLK"] if v == 1]
    assert all(len(ch[f"{C}.relayOut.Q{2 * r}->relay{r}_SET"]) == 1 for r in (1, 2, 3))
    # the bytes went out on bus spi2 (coil chain and feedback chain share its lines)
    assert len(ch[f"{C}.spi2.xfer"]) >= 2


def test_uart_characters_in_their_device_scope(controller_vcd):
    _, ch, _, _ = controller_vcd
    console = bytes(v for _, v in ch[f"{C}.usart1.tx"][1:])
    assert b"\n" in console and len(console) > 20
    replies = ch[f"{C}.usart2.tx_char"]
    requests = ch[f"{C}.usart2.rx_char"]                    # from the master, through the RS-485
    assert len(requests) >= 8 and len(replies) >= 8         # transceiver the board wired
    assert ch[f"{C}.usart2.rx"][1][1] == 1                  # a request starts with the address
    assert requests[0][0] < replies[0][0]                   # the slave answers after being asked


def test_cli_trace_names_the_nets_of_a_cpu_platform(firmware, tmp_path, capsys):
    vcd = tmp_path / "hello.vcd"
    assert main(["trace", "--platform", str(platforms_dir() / "cpus" / "stm32f413.repl"),
                 str(firmware("f413rg", "hello")), "--for", "1.1s", "--vcd", str(vcd)]) == EXIT_OK
    ch, _, names = parse_vcd(vcd)
    top = {n.split(".")[0] for n in names}
    assert len(top) == 1                                    # one scope: the machine
    m = top.pop()
    # GPIO pins routed only to SYSCFG/EXTI keep their port/pin names, every port of the part
    assert {f"{m}.gpioPort{p}.P{p}{i}" for p in "ABCDEFGH" for i in range(16)} <= names
    assert not [n for n in names if ".pin" in n]
    assert {f"{m}.usart1.IRQ", f"{m}.usart1.tx", f"{m}.usart2.tx"} <= names
    text = bytes(v for _, v in ch[f"{m}.usart1.tx"][1:])
    assert b"uptime 1 s" in text


def test_cli_trace_of_a_board_repl_names_its_nets(firmware, tmp_path, capsys):
    vcd = tmp_path / "mc.vcd"
    board = platforms_dir() / "boards" / "metering_controller.repl"
    assert main(["trace", "--platform", str(board), str(firmware("f103rb", "metering_controller")),
                 "--for", "0.2s", "--vcd", str(vcd)]) == EXIT_OK
    ch, _, names = parse_vcd(vcd)
    m = {n.split(".")[0] for n in names}.pop()
    assert {f"{m}.csDecoder0.Y0->ade0_CS_n", f"{m}.relayOut.Q0->relay0_SET",
            f"{m}.ade0.IRQ->adeIrq_0", f"{m}.relay0.contact", f"{m}.spi1.mosi"} <= names
    # the firmware enables decoder 0 for each ADE7753 it probes
    assert len(ch[f"{m}.gpioPortB.PB4->csDecoder0_E1_n"]) > 4


def test_machine_needs_a_machine(tmp_path):
    tr = VcdTracer(tmp_path / "x.vcd", Emulation(seed=1).clock)
    with pytest.raises(TraceError, match="not a machine"):
        tr.machine(object())
    tr.close()


def test_two_machines_of_one_emulation_each_get_their_scope(tmp_path):
    """Two controllers on one RS-485 bus traced into one file: a relay switched on the second
    shows under the second machine only."""
    emu = Emulation(seed=1)
    first = build_controller(emu, address=1)
    second = build_controller(emu, address=2, bus=first.bus)
    tracer = VcdTracer(tmp_path / "two.vcd", emu)
    tracer.machine(first)
    tracer.machine(second.machine)
    with pytest.raises(TraceError, match="traced already"):
        tracer.machine(first)
    emu.clock.run_for(1_000_000_000)                           # 1 ms
    second.relays[2].on_gpio(0, True)                          # SET coil of room 2
    emu.clock.run_for(20_000_000_000)
    tracer.close()
    ch, _, names = parse_vcd(tmp_path / "two.vcd")
    assert {n.split(".")[0] for n in names} == {"controller1", "controller2"}
    assert len(names) % 2 == 0
    assert ch["controller2.relay2.contact"] == [(0, 0), (11_000_000, 1)]
    assert ch["controller1.relay2.contact"] == [(0, 0)]


def test_storage_board_nets_spi_nor_and_ade_chip_selects(tmp_path):
    """Any board .repl: the W25Q flash's /CS pin is named after it and follows the pin."""
    from metersim._engine.platform_builder import create_machine
    from metersim._engine.repl import load_platform

    emu = Emulation(seed=1)
    m = create_machine(emu, load_platform(platforms_dir() / "boards" / "storage_f413.repl"),
                       name="meter")
    tracer = VcdTracer(tmp_path / "storage.vcd", emu)
    tracer.machine(m)
    pa = m["gpioPortA"]
    emu.clock.run_for(1_000_000)
    pa.drive(4, True)                                          # /CS high: deselected
    emu.clock.run_for(1_000_000)
    pa.drive(4, False)                                         # /CS low: selected
    emu.clock.run_for(1_000_000)
    tracer.close()
    ch, _, names = parse_vcd(tmp_path / "storage.vcd")
    assert {"meter.gpioPortA.PA4->nor_CS_n", "meter.gpioPortB.PB12->ade_CS_n",
            "meter.ade.IRQ->PB1", "meter.nor.cs_active", "meter.ade.cs_active"} <= names
    assert ch["meter.gpioPortA.PA4->nor_CS_n"] == [(0, 0), (1000, 1), (2000, 0)]   # ns
    assert ch["meter.nor.cs_active"][-1] == (2000, 1)
