"""The real metering-controller firmware polled by the Modbus master, its RS-485 bus recorded:
every pcap record is one Modbus RTU frame with a valid CRC, in the order and direction of the
exchanges, and Wireshark (tshark, when installed) decodes every one of them as Modbus."""

from metersim._cabinet.board import build_controller
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._engine.emulation import Emulation
from metersim._protocols.modbus.errors import ModbusException
from metersim._traces.pcap import capture_rs485_pcap
from tests.traces.modbus_decode import rtu_frames, tshark_fields, udp_records


def poll(master):
    """A query manager's round: device info, every room, settings, a top-up (the room's last
    token read, then amount and the next token written), a bad register, a broadcast price. Returns the number of requests sent to slave 1 (each gets a reply)."""
    master.device_info()
    for room in range(4):
        master.room(room)
    master.read_holding(0x0008)
    master.write_single(0x0008, 61)
    master.top_up(1, 500)
    try:
        master.read_input(0x5000, 1)
    except ModbusException as e:
        assert e.code == 2
    master.transact(bytes([6, 0, 8, 0, 60]), address=0)          # broadcast: no reply
    return 10


def test_every_record_of_a_polled_controller_is_one_valid_rtu_frame(firmware, tmp_path):
    emu = Emulation(seed=1)
    board = build_controller(emu, channels=4, elf=firmware("f103rb", "metering_controller"))
    master = ModbusMaster(emu, board.bus)
    emu.run_for("1.5s")
    cap = capture_rs485_pcap(board.bus, tmp_path / "bus.pcap", master="master")
    answered = poll(master)
    emu.run_for("50ms")
    cap.close()

    frames = rtu_frames(tmp_path / "bus.rtu.pcap")            # raises on a glued or broken one
    assert len(frames) == 2 * answered + 1
    assert [a for a, _ in frames] == [1] * (2 * answered) + [0]
    assert (cap.valid, cap.invalid) == (2 * answered + 1, 0)
    assert [f.driver for f in cap.frames] == ["master", "controller1/rs485"] * answered + ["master"]

    udp = udp_records(tmp_path / "bus.pcap")
    assert all(r is not None for r in udp)
    assert [r[3] == 502 for r in udp] == [True, False] * answered + [True]   # request -> port 502
    assert [r[4] for r in udp[:-1]] == [i // 2 + 1 for i in range(2 * answered)]   # paired ids
    assert udp[-2][6] == bytes([0x84, 2])                     # the exception reply, decoded

    lines = (tmp_path / "bus.txt").read_text().splitlines()[1:]
    assert [ln.split()[2] for ln in lines] == ["master->slave", "slave"] * answered + ["master->slave"]
    assert all("slave 1->master" in ln for ln in lines[1::2][:answered])
    assert "master->slave (broadcast)" in lines[-1]

    rows = tshark_fields(tmp_path / "bus.pcap", ["frame.number", "modbus.func_code",
                                                 "mbtcp.trans_id", "modbus.request_frame",
                                                 "modbus.exception_code"])
    if rows is not None:                                      # tshark installed
        assert len(rows) == len(frames)
        assert [r[1] for r in rows] == ["4", "4"] * 5 + ["3", "3", "6", "6", "3", "3", "16", "16", "4", "4",
                                          "6"]
        replies = rows[1:-1:2]
        assert [r[3] for r in replies[:-1]] == [str(2 * i + 1) for i in range(answered - 1)]
        assert replies[-1][4] == "2"                          # tshark shows the exception code
