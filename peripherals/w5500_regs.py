"""W5500 register tables (WIZnet W5500 data sheet v1.0.x, §3 "Register and Memory Organization",
§4.1 "Common Register Block", §4.2 "Socket Register Block"; summary in
shared/reference/protocols-and-chips.md §7).

Multi-byte registers are big-endian on the SPI bus (MSB at the lower address). Each row:
(name, offset, width in bytes, reset value, access) with access "rw", "r" (writes ignored),
"w1c" (write 1 to clear) or "cmd" (the model acts on the write; reads back as the model says).
"""

from __future__ import annotations

# SPI control byte (§2.2.2): BSB[4:0] RWB OM[1:0]
CTRL_RWB = 0x04
BSB_COMMON = 0
OM_LENGTH = {0: None, 1: 1, 2: 2, 3: 4}   # variable length (CS-delimited) or fixed 1/2/4 bytes

# Common registers (§4.1)
COMMON_REGS = (
    ("MR", 0x0000, 1, 0x00, "cmd"),
    ("GAR", 0x0001, 4, 0, "rw"),
    ("SUBR", 0x0005, 4, 0, "rw"),
    ("SHAR", 0x0009, 6, 0, "rw"),
    ("SIPR", 0x000F, 4, 0, "rw"),
    ("INTLEVEL", 0x0013, 2, 0, "rw"),
    ("IR", 0x0015, 1, 0x00, "w1c"),
    ("IMR", 0x0016, 1, 0x00, "rw"),
    ("SIR", 0x0017, 1, 0x00, "r"),
    ("SIMR", 0x0018, 1, 0x00, "rw"),
    ("RTR", 0x0019, 2, 0x07D0, "rw"),      # retry time, 100 us units (200 ms)
    ("RCR", 0x001B, 1, 0x08, "rw"),        # retry count
    ("PTIMER", 0x001C, 1, 0x28, "rw"),
    ("PMAGIC", 0x001D, 1, 0x00, "rw"),
    ("PHAR", 0x001E, 6, 0, "rw"),
    ("PSID", 0x0024, 2, 0, "rw"),
    ("PMRU", 0x0026, 2, 0xFFFF, "rw"),
    ("UIPR", 0x0028, 4, 0, "r"),
    ("UPORTR", 0x002C, 2, 0, "r"),
    ("PHYCFGR", 0x002E, 1, 0xB8, "cmd"),   # RST OPMD OPMDC[2:0] DPX SPD LNK
    ("VERSIONR", 0x0039, 1, 0x04, "r"),
)
COMMON_SIZE = 0x40

MR_RST, MR_WOL, MR_PB, MR_PPPOE, MR_FARP = 0x80, 0x20, 0x10, 0x08, 0x02
IR_CONFLICT, IR_UNREACH, IR_PPPOE, IR_MP = 0x80, 0x40, 0x20, 0x10
PHY_RST, PHY_OPMD, PHY_DPX, PHY_SPD, PHY_LNK = 0x80, 0x40, 0x04, 0x02, 0x01

# Socket registers (§4.2), one block per socket: BSB = 4n+1; TX buffer 4n+2, RX buffer 4n+3
SOCKET_REGS = (
    ("Sn_MR", 0x00, 1, 0x00, "rw"),
    ("Sn_CR", 0x01, 1, 0x00, "cmd"),
    ("Sn_IR", 0x02, 1, 0x00, "w1c"),
    ("Sn_SR", 0x03, 1, 0x00, "r"),
    ("Sn_PORT", 0x04, 2, 0x0000, "rw"),
    ("Sn_DHAR", 0x06, 6, 0xFFFFFFFFFFFF, "rw"),
    ("Sn_DIPR", 0x0C, 4, 0, "rw"),
    ("Sn_DPORT", 0x10, 2, 0, "rw"),
    ("Sn_MSSR", 0x12, 2, 0, "rw"),
    ("Sn_TOS", 0x15, 1, 0, "rw"),
    ("Sn_TTL", 0x16, 1, 0x80, "rw"),
    ("Sn_RXBUF_SIZE", 0x1E, 1, 0x02, "rw"),   # KiB: 0, 1, 2, 4, 8 or 16
    ("Sn_TXBUF_SIZE", 0x1F, 1, 0x02, "rw"),
    ("Sn_TX_FSR", 0x20, 2, 0x0800, "r"),
    ("Sn_TX_RD", 0x22, 2, 0, "r"),
    ("Sn_TX_WR", 0x24, 2, 0, "rw"),
    ("Sn_RX_RSR", 0x26, 2, 0, "r"),
    ("Sn_RX_RD", 0x28, 2, 0, "rw"),
    ("Sn_RX_WR", 0x2A, 2, 0, "r"),
    ("Sn_IMR", 0x2C, 1, 0xFF, "rw"),
    ("Sn_FRAG", 0x2D, 2, 0x4000, "rw"),
    ("Sn_KPALVTR", 0x2F, 1, 0, "rw"),
)
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
