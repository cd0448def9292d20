"""W5500 register tables (WIZnet W5500 data sheet v1.0.x, §3 "Register and Memory Organization",
§4.1 "Common Register Block", §4.2 "Socket Register Block"; summary in
shared/reference/protocols-and-chips.md §7).

Multi-byte registers are big-endian on the SPI bus (MSB at the lower address). The registers
are data, in w5500_registers.csv beside this file: a row per register with its block (common or
socket), name, offset, width in bytes, reset value and access: "rw", "r" (writes ignored), "w1c"
(write 1 to clear) or "cmd" (the model acts on the write; reads back as the model says). Here
each table is a tuple of (name, offset, width, reset, access).
"""

from __future__ import annotations

import csv
from pathlib import Path


def _rows(block: str) -> tuple:
    with open(Path(__file__).with_name("w5500_registers.csv"), newline="") as f:
        return tuple((r["name"], int(r["offset"], 0), int(r["width"]), int(r["reset"], 0),
                      r["access"]) for r in csv.DictReader(f) if r["block"] == block)


# SPI control byte (§2.2.2): BSB[4:0] RWB OM[1:0]
CTRL_RWB = 0x04
BSB_COMMON = 0
OM_LENGTH = {0: None, 1: 1, 2: 2, 3: 4}   # variable length (CS-delimited) or fixed 1/2/4 bytes

# Common registers (§4.1)
COMMON_REGS = _rows("common")
COMMON_SIZE = 0x40

MR_RST, MR_WOL, MR_PB, MR_PPPOE, MR_FARP = 0x80, 0x20, 0x10, 0x08, 0x02
IR_CONFLICT, IR_UNREACH, IR_PPPOE, IR_MP = 0x80, 0x40, 0x20, 0x10
PHY_RST, PHY_OPMD, PHY_DPX, PHY_SPD, PHY_LNK = 0x80, 0x40, 0x04, 0x02, 0x01

# Socket registers (§4.2), one block per socket: BSB = 4n+1; TX buffer 4n+2, RX buffer 4n+3
SOCKET_REGS = _rows("socket")
SOCKET_SIZE = 0x30

# Sn_MR protocol (P3..P0)
MR_CLOSED, MR_TCP, MR_UDP, MR_MACRAW = 0x0, 0x1, 0x2, 0x4
# Sn_CR commands
CR_OPEN, CR_LISTEN, CR_CONNECT, CR_DISCON, CR_CLOSE = 0x01, 0x02, 0x04, 0x08, 0x10
CR_SEND, CR_SEND_MAC, CR_SEND_KEEP, CR_RECV = 0x20, 0x21, 0x22, 0x40
# Sn_IR bits
SIR_CON, SIR_DISCON, SIR_RECV, SIR_TIMEOUT, SIR_SENDOK = 0x01, 0x02, 0x04, 0x08, 0x10
# Sn_SR states
SOCK_CLOSED, SOCK_INIT, SOCK_LISTEN, SOCK_SYNSENT, SOCK_SYNRECV = 0x00, 0x13, 0x14, 0x15, 0x16
SOCK_ESTABLISHED, SOCK_FIN_WAIT, SOCK_CLOSING, SOCK_TIME_WAIT = 0x17, 0x18, 0x1A, 0x1B
SOCK_CLOSE_WAIT, SOCK_LAST_ACK, SOCK_UDP, SOCK_MACRAW = 0x1C, 0x1D, 0x22, 0x42

SOCKETS = 8
BUFFER_TOTAL = 16 * 1024      # per direction, shared by the 8 sockets
BUFFER_SIZES_KIB = (0, 1, 2, 4, 8, 16)


def reg_offsets(table: tuple) -> dict[str, int]:
    return {name: off for name, off, _w, _r, _a in table}


def reset_bytes(table: tuple, size: int) -> bytearray:
    """A register file with every register at its reset value (big-endian)."""
    mem = bytearray(size)
    for _name, off, width, reset, _acc in table:
        mem[off:off + width] = reset.to_bytes(width, "big")
    return mem


def access_map(table: tuple, size: int) -> list[str | None]:
    """Per byte offset: the access of the register covering it (None = reserved)."""
    acc: list[str | None] = [None] * size
    for _name, off, width, _reset, access in table:
        for i in range(width):
            acc[off + i] = access
    return acc
