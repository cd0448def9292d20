"""WIZnet W5500 hardwired TCP/IP Ethernet controller on SPI, whose sockets are host sockets.

Followed (W5500 data sheet v1.0.x; table in shared/reference/protocols-and-chips.md §7, register
tables in `w5500_regs.py`):
- SPI frame (§2.2): 16-bit offset MSB first, control byte (BSB[4:0] RWB OM[1:0]), data. OM = 00
  variable length, ended by CS high; OM = 01/10/11 fixed 1/2/4 data bytes, after which the next
  byte starts a new frame with CS still low. The offset auto-increments per data byte (16-bit
  wrap). BSB 0 = common registers, 4n+1 / 4n+2 / 4n+3 = socket n registers / TX / RX buffer.
- Common registers (§4.1): MR (RST self-clears after a software reset), GAR, SUBR, SHAR, SIPR,
  INTLEVEL, IR (write 1 to clear) / IMR, SIR (bit n = Sn_IR & Sn_IMR of socket n) / SIMR, RTR
  (reset 0x07D0 = 200 ms), RCR (8), PHYCFGR (LNK / SPD / DPX read-only, reset 0xB8 + link
  state; RST = 0 restarts the PHY), VERSIONR = 0x04. The INTn pin (`INT`, active low) is low
  while (IR & IMR) or (SIR & SIMR) is non-zero.
- Sockets (§4.2): Sn_CR commands OPEN / LISTEN / CONNECT / DISCON / CLOSE / SEND / RECV, read back
  as 0 once taken; Sn_IR CON / DISCON / RECV / TIMEOUT / SEND_OK (write 1 to clear); Sn_SR
  CLOSED / INIT / LISTEN / SYNSENT / ESTABLISHED / FIN_WAIT / CLOSE_WAIT / UDP.
- Buffers (§5): 16 KiB TX and 16 KiB RX memory, split among the sockets in socket order by
  Sn_TXBUF_SIZE / Sn_RXBUF_SIZE (0, 1, 2, 4, 8, 16 KiB; 2 KiB each after reset); a socket whose
  share would pass the 16 KiB has no buffer (logged). A buffer address is the 16-bit pointer
  masked to the buffer size, so Sn_TX_WR / Sn_RX_RD / ... wrap at 0xFFFF, not at the buffer size.
  Sn_TX_FSR = size - (Sn_TX_WR - Sn_TX_RD); Sn_RX_RSR = Sn_RX_WR - Sn_RX_RD as of the last RECV
  (a new Sn_RX_RD takes effect with RECV); after RECV with data left, RECV is raised again.
- UDP receive (§5, "UDP"): each datagram is stored behind an 8-byte header: peer IP (4), peer
  port (2), data length (2), big-endian; a datagram that does not fit waits in the host socket.
- Timeouts (§4.1 RTR/RCR): a CONNECT or SEND that cannot complete (link down) ends with TIMEOUT
  and CLOSED after the TCP retransmission time, sum of RTR * 2^k for k = 0..M plus (RCR - M) *
  RTR * 2^M with M the last doubling that stays below 0x10000 (31.8 s with the reset values);
  a UDP SEND with the link down after the ARP time RTR * (RCR + 1) (1.8 s).

The network: every destination address is routed to the host's loopback (127.0.0.1); guest
ports are host ports unless `map_port(guest, host_port)` says otherwise (host port 0 = any free
port, see `host_port(n)` for the one bound), and `map_port(guest, host_port, host=...)` sends
the connections and datagrams the firmware addresses to that guest port to another host (a
server on another machine). A LISTEN socket binds 127.0.0.1:port; the host listener
stays open per guest port until CLOSE of every socket using it or a reset, so the port stays the
same across the re-LISTEN a W5500 server does after each connection (a real W5500 would refuse a
SYN between two LISTENs; here the kernel keeps it in the backlog). Peers appear to the firmware
with the address `peer_ip` (default 127.0.0.1) in Sn_DIPR and UDP headers.

Determinism: host sockets are non-blocking and only touched from virtual-time events: a poll
every `poll_interval_ps` (1 ms) of virtual time while any socket needs the host, aligned to
multiples of the interval, and from Sn_CR commands. What a poll finds depends on what the host
peer did in wall time, so a run is deterministic as long as every peer has answered by the poll
that looks for it: with `reply_wait_s` > 0, after the firmware sends on a socket the next poll
waits up to that much wall time (select) for the socket to become readable, which makes a
request / answer exchange with a peer process that answers within that time land at the same
virtual instant run after run. It is 0 by default: a peer driven from the test's own thread
(sockets used between two `run_for` calls) is deterministic without it, and a stream the peer
never answers would cost the wait at every send. Data a peer sends on its own lands at
whichever poll follows it in wall time.

Not modelled: MACRAW and PPPoE (OPEN logs and leaves the socket CLOSED), IP conflicts and
UNREACH, multicast, keep-alive packets, TCP segmentation by Sn_MSSR, the no-delayed-ACK option,
Wake-on-LAN, the INTLEVEL re-assertion delay, SPI timing, the PHY's auto-negotiation time.
"""

from __future__ import annotations

import errno
import logging
import select
import socket as _socket
from typing import Any

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context, History, SPIDevice
from metersim.peripherals.registry import model
from metersim.peripherals.reset_pin import ActiveLowReset
from metersim.peripherals.w5500_regs import (
    BSB_COMMON, BUFFER_SIZES_KIB, BUFFER_TOTAL, COMMON_REGS, COMMON_SIZE, CR_CLOSE, CR_CONNECT,
    CR_DISCON, CR_LISTEN, CR_OPEN, CR_RECV, CR_SEND, CR_SEND_KEEP, CR_SEND_MAC, CTRL_RWB, IR_MP,
    MR_MACRAW, MR_RST, MR_TCP, MR_UDP, OM_LENGTH, PHY_DPX, PHY_LNK, PHY_RST, PHY_SPD, SIR_CON,
    SIR_DISCON, SIR_RECV, SIR_SENDOK, SIR_TIMEOUT, SOCK_CLOSE_WAIT, SOCK_CLOSED, SOCK_ESTABLISHED,
    SOCK_FIN_WAIT, SOCK_INIT, SOCK_LISTEN, SOCK_MACRAW, SOCK_SYNSENT, SOCK_UDP, SOCKET_REGS,
    SOCKET_SIZE, SOCKETS, access_map, reg_offsets, reset_bytes,
)
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US

LOOPBACK = "127.0.0.1"
_C = reg_offsets(COMMON_REGS)
_S = reg_offsets(SOCKET_REGS)
_C_ACCESS = access_map(COMMON_REGS, COMMON_SIZE)
_S_ACCESS = access_map(SOCKET_REGS, SOCKET_SIZE)
_ETH_IP_TCP_BYTES = 14 + 20 + 20 + 4 + 8 + 12   # headers, FCS, preamble, inter-frame gap
_ETH_IP_UDP_BYTES = 14 + 20 + 8 + 4 + 8 + 12
_PTR = 0xFFFF


class W5500Error(SetupError):
    """Bad configuration of the W5500 model."""


class _Socket:
    """Host-side state of one W5500 socket."""

    __slots__ = ("n", "host", "listen_port", "pending", "rx_rd", "timer", "awaiting",
                 "send_busy")

    def __init__(self, n: int):
        self.n = n
        self.host: _socket.socket | None = None   # connected TCP or bound UDP host socket
        self.listen_port: int | None = None       # guest port of the shared listener used
        self.pending = b""                        # TCP bytes of a SEND not yet taken by the host
        self.rx_rd = 0                            # Sn_RX_RD as of the last RECV
        self.timer: Any = None                    # a TIMEOUT or SEND_OK event
        self.awaiting = False                     # sent since the last receive: wait for a reply
        self.send_busy = False


@model("metersim.W5500", "Network.W5500")
class W5500(ActiveLowReset, SPIDevice):
    """GPIO inputs: 0 = SCSn (active low), 1 = RSTn (active low). Output: `INT` (INTn, low =
    interrupt)."""

    def __init__(self, ctx: Context, poll_interval_ps: int = PS_PER_MS, reply_wait_s: float = 0.0,
                 peer_ip: str = LOOPBACK, link_up: bool = True):
        if int(poll_interval_ps) <= 0:
            raise W5500Error(f"poll_interval_ps must be positive, got {poll_interval_ps!r}")
        if not 0 <= float(reply_wait_s) <= 10:
            raise W5500Error(f"reply_wait_s must be within 0..10 s, got {reply_wait_s!r}")
        try:
            self._peer_ip = _socket.inet_aton(peer_ip)
        except OSError:
            raise W5500Error(f"peer_ip must be an IPv4 address, got {peer_ip!r}") from None
        self.ctx = ctx
        self.poll_interval_ps = int(poll_interval_ps)
        self.reply_wait_s = float(reply_wait_s)
        self.INT = GPIO("INT", True)
        self.connections = {0: self.INT}
        self._port_map: dict[int, int] = {}
        self._port_host: dict[int, str] = {}      # guest port -> IPv4 address its peers are at
        self._listeners: dict[int, _socket.socket] = {}   # guest port -> host listening socket
        self._link = bool(link_up)
        self._poll_event: Any = None
        self.sockets = [_Socket(n) for n in range(SOCKETS)]
        self.commands: History = History()     # (time_ps, socket, command) log
        self.reset()

    # -- host-side configuration -------------------------------------------------------------
    def map_port(self, guest_port: int, host_port: int, host: str = LOOPBACK) -> None:
        """Connections to / listeners on `guest_port` use `host_port` on 127.0.0.1 (0 = any).
        With `host` (a name or IPv4 address), the connections and datagrams the firmware sends
        to `guest_port` go to `host`:`host_port` instead; listeners stay on 127.0.0.1."""
        for p, what in ((guest_port, "guest_port"), (host_port, "host_port")):
            if not isinstance(p, int) or not 0 <= p <= 0xFFFF:
                raise W5500Error(f"{what} must be 0..65535, got {p!r}")
        try:   # resolved once, here: the firmware's connects never wait on a name lookup
            address = _socket.gethostbyname(host)
        except (OSError, UnicodeError, TypeError) as exc:
            raise W5500Error(f"host {host!r} has no IPv4 address: {exc}") from None
        self._port_map[guest_port] = host_port
        self._port_host[guest_port] = address

    def host_port(self, n: int) -> int | None:
        """The 127.0.0.1 port socket `n` is bound to or listens on (None when none)."""
        s = self.sockets[n]
        sock = self._listeners.get(s.listen_port) if s.listen_port is not None else None
        sock = sock or s.host
        return sock.getsockname()[1] if sock is not None else None

    def set_link(self, up: bool) -> None:
        """Plug or unplug the Ethernet cable (PHYCFGR.LNK)."""
        self._link = bool(up)
        self._set_phy_status()
        if self._link:
            self._ensure_poll()

    @property
    def link_up(self) -> bool:
        return self._link

    def close(self) -> None:
        """Release every host socket (end of a run)."""
        for s in self.sockets:
            self._release(s)
        for lst in self._listeners.values():
            lst.close()
        self._listeners.clear()

    # -- reset -------------------------------------------------------------------------------
    def reset(self) -> None:
        if hasattr(self, "_common"):
            self.close()
        self._common = reset_bytes(COMMON_REGS, COMMON_SIZE)
        self._sregs = [reset_bytes(SOCKET_REGS, SOCKET_SIZE) for _ in range(SOCKETS)]
        self._tx_mem = bytearray(BUFFER_TOTAL)
        self._rx_mem = bytearray(BUFFER_TOTAL)
        for s in self.sockets:
            s.rx_rd = 0
            s.awaiting = False
            s.send_busy = False
        if self._poll_event is not None:
            self._poll_event.cancel()
            self._poll_event = None
        self._phase = 0
        self._addr = 0
        self._ctrl = 0
        self._left: int | None = None
        self._set_phy_status()
        self._update_int()

    def on_gpio(self, pin: int, level: bool) -> None:
        if pin == 0:
            self.set_chip_select(not level)
            if not level:
                self._phase = 0
        elif pin == 1:
            self.reset_pin(level)

    # -- SPI frame ---------------------------------------------------------------------------
    def transmit(self, byte: int) -> int:
        if self.in_reset:
            return 0
        phase = self._phase
        if phase == 0:
            self._addr = (byte & 0xFF) << 8
            self._phase = 1
            return 0
        if phase == 1:
            self._addr |= byte & 0xFF
            self._phase = 2
            return 0
        if phase == 2:
            self._ctrl = byte & 0xFF
            self._left = OM_LENGTH[byte & 0x03]
            self._phase = 3
            return 0
        bsb, addr = self._ctrl >> 3, self._addr
        self._addr = (addr + 1) & 0xFFFF
        if self._ctrl & CTRL_RWB:
            self._write_byte(bsb, addr, byte & 0xFF)
            out = 0
        else:
            out = self._read_byte(bsb, addr)
        if self._left is not None:
            self._left -= 1
            if self._left == 0:      # fixed length: the next byte starts a new frame
                self._phase = 0
        return out

    def finish_transmission(self) -> None:
        self._phase = 0

    # -- register and buffer access ----------------------------------------------------------
    def _read_byte(self, bsb: int, addr: int) -> int:
        if bsb == BSB_COMMON:
            if addr >= COMMON_SIZE:
                return 0
            if addr == _C["SIR"]:
                return self._sir()
            return self._common[addr]
        n, kind = (bsb - 1) >> 2, (bsb - 1) & 3
        if bsb == 0 or n >= SOCKETS or kind == 3:
            self.ctx.log_once(("bsb", bsb), logging.WARNING, "read from reserved block 0x%02x", bsb)
            return 0
        if kind == 0:
            if addr >= SOCKET_SIZE:
                return 0
            if addr in (_S["Sn_TX_FSR"], _S["Sn_TX_FSR"] + 1):
                return self._byte_of(self._tx_free(n), addr - _S["Sn_TX_FSR"])
            if addr in (_S["Sn_RX_RSR"], _S["Sn_RX_RSR"] + 1):
                return self._byte_of(self._rx_received(n), addr - _S["Sn_RX_RSR"])
            return self._sregs[n][addr]
        mem, base, size = self._buffer(n, tx=(kind == 1))
        return mem[base + (addr & (size - 1))] if size else 0

    @staticmethod
    def _byte_of(value: int, i: int) -> int:
        return (value >> (8 if i == 0 else 0)) & 0xFF

    def _write_byte(self, bsb: int, addr: int, value: int) -> None:
        if bsb == BSB_COMMON:
            acc = _C_ACCESS[addr] if addr < COMMON_SIZE else None
            if acc == "rw":
                self._common[addr] = value
                if addr in (_C["IMR"], _C["SIMR"]):
                    self._update_int()
            elif acc == "w1c":
                self._common[addr] &= ~value & 0xFF
                self._update_int()
            elif acc == "cmd":
                self._common_command(addr, value)
            elif acc is None:
                self.ctx.log_once(("cw", addr), logging.WARNING,
                                  "write of 0x%02x to reserved common offset 0x%04x", value, addr)
            return
        n, kind = (bsb - 1) >> 2, (bsb - 1) & 3
        if n >= SOCKETS or kind == 3:
            self.ctx.log_once(("bsb", bsb), logging.WARNING, "write to reserved block 0x%02x", bsb)
            return
        if kind == 0:
            acc = _S_ACCESS[addr] if addr < SOCKET_SIZE else None
            regs = self._sregs[n]
            if acc == "rw":
                regs[addr] = value
                if addr in (_S["Sn_TXBUF_SIZE"], _S["Sn_RXBUF_SIZE"]) and \
                        value not in BUFFER_SIZES_KIB:
                    self.ctx.log(logging.WARNING, "socket %d: buffer size %d KiB is not one of "
                                 "%s: the socket gets no buffer", n, value, BUFFER_SIZES_KIB)
                if addr == _S["Sn_IMR"]:
                    self._update_int()
            elif acc == "w1c":
                regs[addr] &= ~value & 0xFF
                self._update_int()
            elif acc == "cmd":
                self._socket_command(n, value)
            elif acc is None:
                self.ctx.log_once(("sw", addr), logging.WARNING,
                                  "write of 0x%02x to reserved socket offset 0x%02x", value, addr)
            return
        mem, base, size = self._buffer(n, tx=(kind == 1))
        if size:
            mem[base + (addr & (size - 1))] = value

    def _common_command(self, addr: int, value: int) -> None:
        if addr == _C["MR"]:
            if value & MR_RST:
                self.reset()          # RST self-clears: MR reads 0 afterwards
            else:
                self._common[addr] = value
        elif addr == _C["PHYCFGR"]:
            keep = self._common[addr] & (PHY_LNK | PHY_SPD | PHY_DPX)
            self._common[addr] = (value & 0xF8) | keep
            if not value & PHY_RST:   # RST low resets the PHY; it reads back high afterwards
                self._common[addr] |= PHY_RST
            self._set_phy_status()

    def _set_phy_status(self) -> None:
        reg = _C["PHYCFGR"]
        cfg = self._common[reg] & 0xF8
        if self._link:
            cfg |= PHY_LNK | PHY_SPD | PHY_DPX   # auto-negotiated 100 Mbit/s full duplex
        self._common[reg] = cfg

    # -- socket register helpers -------------------------------------------------------------
    def sreg(self, n: int, name: str) -> int:
        """The value of socket `n`'s register `name` (e.g. "Sn_SR"), as the firmware reads it."""
        width = next(w for nm, _o, w, _r, _a in SOCKET_REGS if nm == name)
        off = _S[name]
        return int.from_bytes(bytes(self._read_byte(4 * n + 1, off + i) for i in range(width)),
                              "big")

    def creg(self, name: str) -> int:
        """The value of common register `name` (e.g. "VERSIONR")."""
        width = next(w for nm, _o, w, _r, _a in COMMON_REGS if nm == name)
        off = _C[name]
        return int.from_bytes(bytes(self._read_byte(0, off + i) for i in range(width)), "big")

    def _get(self, n: int, name: str, width: int = 2) -> int:
        off = _S[name]
        return int.from_bytes(self._sregs[n][off:off + width], "big")

    def _put(self, n: int, name: str, value: int, width: int = 2) -> None:
        off = _S[name]
        self._sregs[n][off:off + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "big")

    def _state(self, n: int) -> int:
        return self._sregs[n][_S["Sn_SR"]]

    def _set_state(self, n: int, state: int) -> None:
        self._sregs[n][_S["Sn_SR"]] = state

    def _raise(self, n: int, bits: int) -> None:
        self._sregs[n][_S["Sn_IR"]] |= bits
        self._update_int()

    def _buffer(self, n: int, tx: bool) -> tuple[bytearray, int, int]:
        """(memory, base, size) of socket n's TX or RX buffer; size 0 when it has none."""
        reg = _S["Sn_TXBUF_SIZE"] if tx else _S["Sn_RXBUF_SIZE"]
        base = 0
        for k in range(n):
            kib = self._sregs[k][reg]
            base += kib * 1024 if kib in BUFFER_SIZES_KIB else 0
        kib = self._sregs[n][reg]
        size = kib * 1024 if kib in BUFFER_SIZES_KIB else 0
        if base + size > BUFFER_TOTAL:
            self.ctx.log_once(("overbook", n, tx), logging.WARNING,
                              "socket %d: %s buffers of sockets 0..%d add up to more than 16 KiB: "
                              "socket %d has none", n, "TX" if tx else "RX", n, n)
            size = 0
        return (self._tx_mem if tx else self._rx_mem), base, size

    def _tx_free(self, n: int) -> int:
        size = self._buffer(n, True)[2]
        used = (self._get(n, "Sn_TX_WR") - self._get(n, "Sn_TX_RD")) & _PTR
        return max(0, size - used)

    def _rx_received(self, n: int) -> int:
        return (self._get(n, "Sn_RX_WR") - self.sockets[n].rx_rd) & _PTR

    def _rx_store(self, n: int, data: bytes) -> None:
        mem, base, size = self._buffer(n, tx=False)
        wr = self._get(n, "Sn_RX_WR")
        for i, b in enumerate(data):
            mem[base + ((wr + i) & (size - 1))] = b
        self._put(n, "Sn_RX_WR", wr + len(data))
        self.sockets[n].awaiting = False
        self._raise(n, SIR_RECV)

    def _rx_space(self, n: int) -> int:
        return self._buffer(n, tx=False)[2] - self._rx_received(n)

    # -- interrupts --------------------------------------------------------------------------
    def _sir(self) -> int:
        sir = 0
        for n in range(SOCKETS):
            if self._sregs[n][_S["Sn_IR"]] & self._sregs[n][_S["Sn_IMR"]] & 0x1F:
                sir |= 1 << n
        return sir

    def _update_int(self) -> None:
        c = self._common
        asserted = bool((c[_C["IR"]] & c[_C["IMR"]] & 0xF0) or (self._sir() & c[_C["SIMR"]]))
        self.INT.set(not asserted)

    # -- timing ------------------------------------------------------------------------------
    def tcp_timeout_ps(self) -> int:
        """TCP retransmission timeout from RTR and RCR (data sheet §4.1, RTR)."""
        rtr = int.from_bytes(self._common[_C["RTR"]:_C["RTR"] + 2], "big")
        rcr = self._common[_C["RCR"]]
        total, m = 0, 0
        while m <= rcr:
            total += rtr << m
            if (rtr << (m + 1)) > 0xFFFF:
                break
            m += 1
        m = min(m, rcr)
        total += (rcr - m) * (rtr << m)
        return total * 100 * PS_PER_US

    def arp_timeout_ps(self) -> int:
        rtr = int.from_bytes(self._common[_C["RTR"]:_C["RTR"] + 2], "big")
        return rtr * (self._common[_C["RCR"]] + 1) * 100 * PS_PER_US

    def _wire_ps(self, nbytes: int, overhead: int) -> int:
        bps = 100_000_000 if self._common[_C["PHYCFGR"]] & PHY_SPD else 10_000_000
        return (nbytes + overhead) * 8 * PS_PER_S // bps

    def _start_timer(self, s: _Socket, delay_ps: int, fn: Any) -> None:
        if s.timer is not None:
            s.timer.cancel()
        s.timer = self.ctx.clock.schedule(delay_ps, fn, s.n)

    def _timeout(self, n: int) -> None:
        # Called as the socket's timer event, and directly for a refusal, while the timer the
        # CONNECT armed is still pending: _release cancels it (a no-op on the running event),
        # or it would close whatever connection the firmware has made when it ran out.
        s = self.sockets[n]
        s.send_busy = False
        self._release(s)
        self._set_state(n, SOCK_CLOSED)
        self._raise(n, SIR_TIMEOUT)

    # -- commands ----------------------------------------------------------------------------
    def _socket_command(self, n: int, cmd: int) -> None:
        self.commands.append((self.ctx.clock.now_ps, n, cmd))
        s = self.sockets[n]
        state = self._state(n)
        proto = self._sregs[n][_S["Sn_MR"]] & 0x0F
        if cmd == CR_OPEN:
            self._release(s)
            for name in ("Sn_TX_RD", "Sn_TX_WR", "Sn_RX_RD", "Sn_RX_WR"):
                self._put(n, name, 0)
            s.rx_rd = 0
            if proto == MR_TCP:
                self._set_state(n, SOCK_INIT)
            elif proto == MR_UDP:
                self._open_udp(s)
            elif proto == MR_MACRAW:
                self.ctx.log_once("macraw", logging.WARNING,
                                  "socket %d: MACRAW is not modelled: the socket stays CLOSED", n)
                self._set_state(n, SOCK_CLOSED)
            else:
                self.ctx.log(logging.WARNING, "socket %d: OPEN with Sn_MR protocol %d: "
                             "stays CLOSED", n, proto)
                self._set_state(n, SOCK_CLOSED)
        elif cmd == CR_LISTEN and state == SOCK_INIT:
            self._listen(s)
        elif cmd == CR_CONNECT and state == SOCK_INIT:
            self._connect(s)
        elif cmd == CR_DISCON:
            self._discon(s, state)
        elif cmd == CR_CLOSE:
            self._release(s)
            self._set_state(n, SOCK_CLOSED)
        elif cmd in (CR_SEND, CR_SEND_MAC) and state in (SOCK_ESTABLISHED, SOCK_CLOSE_WAIT,
                                                         SOCK_UDP):
            self._send(s, state)
        elif cmd == CR_SEND_KEEP:
            pass                      # keep-alive probe: the host's TCP does its own
        elif cmd == CR_RECV:
            s.rx_rd = self._get(n, "Sn_RX_RD")
            if self._rx_received(n):
                self._raise(n, SIR_RECV)
            self._ensure_poll()
        else:
            self.ctx.log(logging.DEBUG, "socket %d: command 0x%02x ignored in state 0x%02x",
                         n, cmd, state)
        self._sregs[n][_S["Sn_CR"]] = 0

    def _guest_to_host(self, port: int) -> int:
        return self._port_map.get(port, port)

    def _open_udp(self, s: _Socket) -> None:
        port = self._get(s.n, "Sn_PORT")
        h = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        h.setblocking(False)
        try:
            h.bind((LOOPBACK, self._guest_to_host(port)))
        except OSError as exc:
            h.close()
            self.ctx.log(logging.ERROR, "socket %d: cannot bind UDP %s:%d on the host (%s): "
                         "stays CLOSED", s.n, LOOPBACK, self._guest_to_host(port), exc)
            self._set_state(s.n, SOCK_CLOSED)
            return
        s.host = h
        self._set_state(s.n, SOCK_UDP)
        self._ensure_poll()

    def _listen(self, s: _Socket) -> None:
        port = self._get(s.n, "Sn_PORT")
        lst = self._listeners.get(port)
        if lst is None:
            lst = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
            lst.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            lst.setblocking(False)
            try:
                lst.bind((LOOPBACK, self._guest_to_host(port)))
                lst.listen(8)
            except OSError as exc:
                lst.close()
                self.ctx.log(logging.ERROR, "socket %d: cannot listen on %s:%d on the host (%s): "
                             "stays CLOSED", s.n, LOOPBACK, self._guest_to_host(port), exc)
                self._set_state(s.n, SOCK_CLOSED)
                return
            self._listeners[port] = lst
        s.listen_port = port
        self._set_state(s.n, SOCK_LISTEN)
        self._ensure_poll()

    def _connect(self, s: _Socket) -> None:
        n = s.n
        dport = self._get(n, "Sn_DPORT")
        dip = self._get(n, "Sn_DIPR", 4)
        if not self._link or dport == 0 or dip == 0:
            self._set_state(n, SOCK_SYNSENT)
            self._start_timer(s, self.arp_timeout_ps() if dip == 0 or not self._link
                              else self.tcp_timeout_ps(), self._timeout)
            return
        h = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        h.setblocking(False)
        sport = self._get(n, "Sn_PORT")
        if sport:
            h.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            try:   # the guest source port, when the host lets us have it
                h.bind((LOOPBACK, self._guest_to_host(sport) if sport in self._port_map else 0))
            except OSError:
                pass
        rc = h.connect_ex((self._port_host.get(dport, LOOPBACK), self._guest_to_host(dport)))
        s.host = h
        self._set_state(n, SOCK_SYNSENT)
        if rc not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self._refused(s)
            return
        self._start_timer(s, self.tcp_timeout_ps(), self._timeout)
        self._ensure_poll()

    def _refused(self, s: _Socket) -> None:
        """A RST answered the SYN: the W5500 closes the socket and raises TIMEOUT."""
        self._timeout(s.n)

    def _discon(self, s: _Socket, state: int) -> None:
        n = s.n
        if state == SOCK_ESTABLISHED and s.host is not None:
            self._flush(s)
            try:
                s.host.shutdown(_socket.SHUT_WR)
            except OSError:
                pass
            self._set_state(n, SOCK_FIN_WAIT)
            self._start_timer(s, self.tcp_timeout_ps(), self._timeout)
            self._ensure_poll()
        elif state == SOCK_CLOSE_WAIT:
            self._release(s)
            self._set_state(n, SOCK_CLOSED)
            self._raise(n, SIR_DISCON)
        elif state in (SOCK_LISTEN, SOCK_SYNSENT, SOCK_INIT):
            self._release(s)
            self._set_state(n, SOCK_CLOSED)

    def _send(self, s: _Socket, state: int) -> None:
        n = s.n
        mem, base, size = self._buffer(n, tx=True)
        rd, wr = self._get(n, "Sn_TX_RD"), self._get(n, "Sn_TX_WR")
        length = min((wr - rd) & _PTR, size)
        data = bytes(mem[base + ((rd + i) & (size - 1))] for i in range(length)) if size else b""
        s.send_busy = True
        if not self._link:
            self._start_timer(s, self.arp_timeout_ps() if state == SOCK_UDP
                              else self.tcp_timeout_ps(), self._timeout)
            return
        if state == SOCK_UDP:
            dip = _socket.inet_ntoa(self._get(n, "Sn_DIPR", 4).to_bytes(4, "big"))
            dport = self._get(n, "Sn_DPORT")
            if dport == 0 or dip == "0.0.0.0":
                self._start_timer(s, self.arp_timeout_ps(), self._timeout)
                return
            try:
                s.host.sendto(data, (self._port_host.get(dport, LOOPBACK),
                                     self._guest_to_host(dport)))
            except OSError as exc:
                self.ctx.log(logging.WARNING, "socket %d: UDP datagram to %s:%d lost on the host "
                             "(%s)", n, dip, dport, exc)
            overhead = _ETH_IP_UDP_BYTES
        else:
            s.pending += data
            self._flush(s)
            overhead = _ETH_IP_TCP_BYTES
        s.awaiting = True
        self._start_timer(s, self._wire_ps(length, overhead), self._send_done)

    def _send_done(self, n: int) -> None:
        s = self.sockets[n]
        s.timer = None
        if s.pending:                 # the host has not taken everything yet: try at the polls
            self._flush(s)
            if s.pending:
                self._start_timer(s, self.poll_interval_ps, self._send_done)
                return
        s.send_busy = False
        self._put(n, "Sn_TX_RD", self._get(n, "Sn_TX_WR"))
        self._raise(n, SIR_SENDOK)
        self._ensure_poll()

    def _flush(self, s: _Socket) -> None:
        if not s.pending or s.host is None:
            return
        try:
            sent = s.host.send(s.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            s.pending = b""
            self._peer_gone(s, reset=True)
            return
        s.pending = s.pending[sent:]

    def _release(self, s: _Socket) -> None:
        if s.timer is not None:
            s.timer.cancel()
            s.timer = None
        if s.host is not None:
            s.host.close()
            s.host = None
        s.pending = b""
        s.awaiting = False
        s.send_busy = False
        port, s.listen_port = s.listen_port, None
        if port is not None and not any(o.listen_port == port for o in self.sockets):
            lst = self._listeners.pop(port, None)
            if lst is not None:
                lst.close()

    def _peer_gone(self, s: _Socket, reset: bool) -> None:
        """The host peer closed (FIN) or reset the connection."""
        n = s.n
        state = self._state(n)
        if state == SOCK_FIN_WAIT or reset:
            self._release(s)
            self._set_state(n, SOCK_CLOSED)
        else:
            self._set_state(n, SOCK_CLOSE_WAIT)
        self._raise(n, SIR_DISCON)

    # -- polling the host sockets -------------------------------------------------------------
    def _needs_host(self, s: _Socket) -> bool:
        return s.host is not None or s.listen_port is not None

    def _ensure_poll(self) -> None:
        if self._poll_event is not None or not any(self._needs_host(s) for s in self.sockets):
            return
        now = self.ctx.clock.now_ps
        at = (now // self.poll_interval_ps + 1) * self.poll_interval_ps
        self._poll_event = self.ctx.clock.schedule_at(at, self._poll)

    def _poll(self) -> None:
        self._poll_event = None
        if self._link:
            waiting = [s.host for s in self.sockets if s.awaiting and s.host is not None
                       and not s.send_busy]
            if waiting and self.reply_wait_s > 0:
                select.select(waiting, [], [], self.reply_wait_s)
                for s in self.sockets:
                    s.awaiting = False
            quiet = self._quiet_host_sockets()
            for s in self.sockets:
                if s.host is not None or s.listen_port is not None:    # (else nothing to do)
                    self._poll_socket(s, quiet)
        self._ensure_poll()

    def _quiet_host_sockets(self) -> set:
        """The host sockets a poll would read from (listeners of LISTEN sockets, connections
        and UDP sockets) that have nothing to read now: one select over them all instead of
        an accept or recv per socket that would find nothing (a poll runs every millisecond
        of virtual time while the link is open; a host socket with data, EOF or an error is
        read as before, at the same poll)."""
        watched = []
        for s in self.sockets:
            state = self._state(s.n)
            if state == SOCK_LISTEN:
                lst = self._listeners.get(s.listen_port)
                if lst is not None:
                    watched.append(lst)
            elif s.host is not None and state in (SOCK_ESTABLISHED, SOCK_FIN_WAIT, SOCK_UDP):
                watched.append(s.host)
        if not watched:
            return set()
        try:
            readable = select.select(watched, [], [], 0)[0]
        except (OSError, ValueError):     # (a descriptor select cannot take: read them all)
            return set()
        return set(watched).difference(readable)

    def _poll_socket(self, s: _Socket, quiet: set | frozenset = frozenset()) -> None:
        """Take what the host has for socket `s`; `quiet`: host sockets known to have nothing
        to read (a connection accepted here is read at once, as its data may be there)."""
        n = s.n
        state = self._state(n)
        if state == SOCK_LISTEN:
            lst = self._listeners.get(s.listen_port)
            if lst in quiet:
                return
            try:
                conn, peer = lst.accept()
            except (BlockingIOError, InterruptedError, AttributeError):
                return
            conn.setblocking(False)
            s.host = conn
            self._sregs[n][_S["Sn_DIPR"]:_S["Sn_DIPR"] + 4] = self._peer_ip
            self._put(n, "Sn_DPORT", peer[1])
            self._set_state(n, SOCK_ESTABLISHED)
            self._raise(n, SIR_CON)
            state = SOCK_ESTABLISHED
        if s.host is None:
            return
        if state == SOCK_SYNSENT:
            err = s.host.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
            if err:
                self._refused(s)
                return
            try:
                peer = s.host.getpeername()
            except OSError:
                return                # still connecting
            if peer == s.host.getsockname():
                # Loopback TCP connects a socket to itself when the kernel hands it the
                # destination port as its own and nothing listens there: on a real network
                # the SYN would meet a RST, so that is what the firmware sees.
                self._refused(s)
                return
            if s.timer is not None:
                s.timer.cancel()
                s.timer = None
            self._set_state(n, SOCK_ESTABLISHED)
            self._raise(n, SIR_CON)
        elif state in (SOCK_ESTABLISHED, SOCK_FIN_WAIT):
            self._flush(s)
            if s.host is None:
                return                # the flush found the peer gone (reset): closed
            if s.host in quiet:
                return                # nothing to read (BlockingIOError below)
            space = self._rx_space(n)
            if space <= 0:
                return
            try:
                data = s.host.recv(space)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._peer_gone(s, reset=True)
                return
            if data:
                self._rx_store(n, data)
            else:
                self._peer_gone(s, reset=False)
        elif state == SOCK_UDP:
            if s.host in quiet:
                return
            while True:
                try:
                    data, peer = s.host.recvfrom(65536, _socket.MSG_PEEK)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:       # ICMP port unreachable of an earlier datagram
                    continue
                if len(data) + 8 > self._rx_space(n):
                    return            # waits in the host socket until the firmware reads
                s.host.recvfrom(65536)
                header = self._peer_ip + peer[1].to_bytes(2, "big") + len(data).to_bytes(2, "big")
                self._rx_store(n, header + data)

    def __repr__(self) -> str:
        states = " ".join(f"{self._state(n):02x}" for n in range(SOCKETS))
        return f"<W5500 {self.ctx.name} link={'up' if self._link else 'down'} SR={states}>"
