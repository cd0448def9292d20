"""Build the prepaid cabinet's query manager (STM32F103RC + W5500 + ILI9341 TFT + 4x8 keypad +
AT24C256 + RS-485) from platforms/boards/query_manager.repl, on the controllers' RS-485 bus.

    emu = Emulation(seed=1)
    bus = new_bus(emu)
    ctrl = build_controller(emu, bus=bus, address=1)
    qm = build_query_manager(emu, bus, elf=DEFAULT_ELF)
    qm.keypad.type_keys(["QUERY", "1", "OK", "0", "OK"])
    emu.run_for("3s")
    qm.tft.text_lines(), qm.tft.save_png("room.png"), qm.readings(1)

Wired by board.join_rs485 (no .repl syntax for it): USART2 TX -> transceiver DI, RO -> USART2 RX, the
transceiver onto the bus. `readings(addr)` reads the firmware's table `g_ctrl` through the debug
port (as a probe would), decoded with the layout of firmware/targets/query_manager/qm_master.h.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from metersim._cabinet.board import BoardHandle, CabinetError, device, join_rs485
from metersim._engine.platform_builder import create_machine
from metersim._engine.repl import load_platform
from metersim._orchestration.testers import UartTester, capture_uart
from metersim._resources import firmware_path, platforms_dir

BOARD = platforms_dir() / "boards" / "query_manager.repl"
DEFAULT_ELF = firmware_path("f103rc", "query_manager")
#: the keypad's labels, row-major (firmware/targets/query_manager/main.c, g_keys)
KEYMAP = ["1", "2", "3", "A", "QUERY", "PAY", "SET", "ESC",
          "4", "5", "6", "B", "UP", "DOWN", "LEFT", "RIGHT",
          "7", "8", "9", "C", "F1", "F2", "F3", "F4",
          "*", "0", "#", "D", "CLR", "BKSP", "MENU", "OK"]

# struct qm_ctrl / qm_room (qm_master.h): sizes on the Cortex-M3 (AAPCS alignment)
MAX_CTRL, MAX_ROOMS, ROOM_REGS = 8, 32, 16
_ROOM = struct.Struct("<16HIB3x")                      # regs, polled_ms, valid
_CTRL_HEAD = struct.Struct("<BBBBIIII")                # addr state rooms next retry req fail since
_CTRL_SIZE = _CTRL_HEAD.size + MAX_ROOMS * _ROOM.size
STATES = {0: "absent", 1: "online", 2: "offline"}


@dataclass(frozen=True)
class RoomSnapshot:
    room: int
    regs: tuple[int, ...]       # input registers +0x00..+0x0F as the controller reported them
    polled_ms: int


@dataclass
class QueryManager(BoardHandle):
    emu: object
    machine: object
    bus: object
    console: UartTester | None = None

    tft = device("tft")
    keypad = device("keypad")
    eth = device("eth")
    eeprom = device("eeprom")
    xcvr = device("rs485")

    def _read(self, addr: int, n: int) -> bytes:
        words = [self.machine.read_u32(addr + i) for i in range(0, n + 3, 4)]
        return b"".join(w.to_bytes(4, "little") for w in words)[:n]

    def controller_state(self, addr: int) -> str:
        return self.readings(addr)[0]

    def readings(self, addr: int) -> tuple[str, dict[int, RoomSnapshot]]:
        """(state, {room: snapshot}) of controller `addr` (1..8) in the firmware's table."""
        if not 1 <= addr <= MAX_CTRL:
            raise CabinetError(f"controller address must be 1..{MAX_CTRL}, got {addr!r}")
        base = self.machine.symbol("g_ctrl") + (addr - 1) * _CTRL_SIZE
        raw = self._read(base, _CTRL_SIZE)
        a, state, rooms, *_ = _CTRL_HEAD.unpack_from(raw)
        if a != addr:
            raise CabinetError(f"{self.name}: table entry {addr} holds address {a}: firmware not "
                               "started or its layout differs from qm_master.h")
        out = {}
        for r in range(rooms):
            *regs, polled, valid = _ROOM.unpack_from(raw, _CTRL_HEAD.size + r * _ROOM.size)
            if valid:
                out[r] = RoomSnapshot(r, tuple(regs), polled)
        return STATES.get(state, f"state {state}"), out


def build_query_manager(emu, bus=None, elf: str | os.PathLike | None = None,
                        eeprom_image: str | os.PathLike | None = None,
                        name: str = "qm") -> QueryManager:
    """A query manager machine on `bus` (a new RS-485 bus if None), with the cabinet keymap."""
    platform = load_platform(BOARD)
    platform.entries["keypad"].ctor_args["keymap"] = list(KEYMAP)
    if eeprom_image is not None:
        platform.entries["eeprom"].ctor_args["imagePath"] = str(eeprom_image)
    m = create_machine(emu, platform, name=name)
    bus = join_rs485(emu, m, bus)
    qm = QueryManager(emu, m, bus)
    qm.console = capture_uart(m, "usart1")
    if elf is not None:
        qm.load_firmware(elf)
    return qm


def build_controllers(emu, bus, cabinet, elf: str | os.PathLike, master=None) -> dict:
    """Metering controllers on `bus` for `cabinet` = [(Modbus address, rooms), ...], each
    answering at its address: every controller leaves the factory at address 1, so they are
    switched on one at a time and given their address over the bus (holding register 0x0000,
    kept in their EEPROM) by `master` (a `ModbusMaster`), as an installer would. Without
    `master`, one is made and taken off the bus once the addresses are set: the installer
    leaves, and a master left on the bus would hear, split and keep every frame of the run.
    Returns {address: Controller}; the virtual time used is about 1 s per controller."""
    from metersim._cabinet.board import build_controller
    from metersim._cabinet.modbus_master import ModbusMaster

    addrs = [a for a, _ in cabinet]
    if len(set(addrs)) != len(addrs):
        raise CabinetError(f"controller addresses must differ, got {addrs}")
    installer = ModbusMaster(emu, bus) if master is None else master
    ctrls = {}
    for a, rooms in cabinet:
        ctrls[a] = build_controller(emu, channels=rooms, bus=bus, address=a, elf=elf,
                                    name=f"controller{a}")
        ctrls[a].machine.power_off()
    for a, _ in sorted(cabinet, key=lambda c: c[0] == 1):   # address 1 last: it stays 1
        ctrls[a].machine.power_on()
        console = ctrls[a].console
        emu.run_until(lambda: any("rs485" in ln for ln in console.line_texts()), "5s",
                      f"controller {a}'s start-up banner")
        if a != 1:
            installer.set_slave_address(a, address=1)
            emu.run_for("100ms")
    if master is None:
        installer.close()
    return ctrls
