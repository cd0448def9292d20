"""W5500 model driven over its SPI interface (as WIZnet's ioLibrary does) against real TCP/UDP
peers on 127.0.0.1."""

import socket
import time

import pytest

from metersim.peripherals.base import Context
from metersim.peripherals.registry import lookup
from metersim.peripherals.w5500 import W5500, W5500Error
from metersim._units import PS_PER_MS, PS_PER_S

COMMON = 0
SR_CLOSED, SR_INIT, SR_LISTEN, SR_SYNSENT, SR_ESTABLISHED = 0x00, 0x13, 0x14, 0x15, 0x17
SR_FIN_WAIT, SR_CLOSE_WAIT, SR_UDP = 0x18, 0x1C, 0x22
OPEN, LISTEN, CONNECT, DISCON, CLOSE, SEND, RECV = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40
IR_CON, IR_DISCON, IR_RECV, IR_TIMEOUT, IR_SENDOK = 0x01, 0x02, 0x04, 0x08, 0x10


class Spi:
    """The firmware side: CS-framed W5500 transactions, variable-length mode."""

    def __init__(self, dev):
        self.dev = dev

    def xfer(self, addr, ctrl, data):
        self.dev.on_gpio(0, False)
        out = [self.dev.transmit(b) for b in (addr >> 8, addr & 0xFF, ctrl, *data)]
        self.dev.on_gpio(0, True)
        return bytes(out[3:])

    def write(self, bsb, addr, data):
        self.xfer(addr, (bsb << 3) | 0x04, bytes(data))

    def read(self, bsb, addr, n):
        return self.xfer(addr, bsb << 3, bytes(n))

    # socket helpers
    def sw(self, s, off, value, width=1):
        self.write(4 * s + 1, off, value.to_bytes(width, "big"))

    def sr(self, s, off, width=1):
        return int.from_bytes(self.read(4 * s + 1, off, width), "big")

    def cmd(self, s, c):
        self.sw(s, 0x01, c)
        assert self.sr(s, 0x01) == 0      # Sn_CR clears once the command is taken

    def status(self, s):
        return self.sr(s, 0x03)

    def irq(self, s):
        return self.sr(s, 0x02)

    def clear_irq(self, s, bits):
        self.sw(s, 0x02, bits)

    def send(self, s, data):
        """ioLibrary send(): write at Sn_TX_WR, advance it, SEND."""
        assert self.sr(s, 0x20, 2) >= len(data)
        wr = self.sr(s, 0x24, 2)
        self.write(4 * s + 2, wr, data)
        self.sw(s, 0x24, (wr + len(data)) & 0xFFFF, 2)
        self.cmd(s, SEND)

    def recv(self, s):
        """ioLibrary recv(): read Sn_RX_RSR bytes at Sn_RX_RD, advance it, RECV."""
        n = self.sr(s, 0x26, 2)
        rd = self.sr(s, 0x28, 2)
        data = self.read(4 * s + 3, rd, n)
        self.sw(s, 0x28, (rd + n) & 0xFFFF, 2)
        self.cmd(s, RECV)
        return data


@pytest.fixture
def chip():
    ctx = Context.standalone("eth")
    dev = W5500(ctx)
    yield ctx, dev, Spi(dev)
    dev.close()


@pytest.fixture
def server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(2)
    yield srv
    srv.close()


def run_ms(ctx, ms):
    ctx.clock.run_for(int(ms * PS_PER_MS))


def wait_until(ctx, cond, max_ms=200):
    """Advance virtual time 1 ms at a time until cond() (the host peer acts in wall time)."""
    for _ in range(max_ms):
        if cond():
            return
        run_ms(ctx, 1)
        time.sleep(0.001)
    raise AssertionError("condition not reached")


def tcp_connect(ctx, spi, port, s=0, sport=40000):
    spi.sw(s, 0x00, 0x01)                         # Sn_MR = TCP
    spi.sw(s, 0x04, sport, 2)
    spi.cmd(s, OPEN)
    assert spi.status(s) == SR_INIT
    spi.write(4 * s + 1, 0x0C, bytes([127, 0, 0, 1]))
    spi.sw(s, 0x10, port, 2)
    spi.cmd(s, CONNECT)
    assert spi.status(s) == SR_SYNSENT
    wait_until(ctx, lambda: spi.status(s) == SR_ESTABLISHED)


def test_registered_and_bad_arguments():
    assert lookup("metersim.W5500") is W5500
    ctx = Context.standalone()
    with pytest.raises(W5500Error, match="poll_interval_ps"):
        W5500(ctx, poll_interval_ps=0)
    with pytest.raises(W5500Error, match="peer_ip"):
        W5500(ctx, peer_ip="not-an-ip")
    with pytest.raises(W5500Error, match="guest_port"):
        W5500(ctx).map_port(70000, 1)


def test_common_registers_reset_values_and_identity(chip):
    _, dev, spi = chip
    assert spi.read(COMMON, 0x0039, 1) == b"\x04"          # VERSIONR
    assert spi.read(COMMON, 0x0019, 3) == b"\x07\xd0\x08"  # RTR 200 ms, RCR 8
    assert spi.read(COMMON, 0x002E, 1)[0] & 0x07 == 0x07   # link up, 100M, full duplex
    net = bytes([192, 168, 1, 1, 255, 255, 255, 0, 0, 8, 0xDC, 1, 2, 3, 192, 168, 1, 50])
    spi.write(COMMON, 0x0001, net)                         # GAR SUBR SHAR SIPR in one burst
    assert spi.read(COMMON, 0x0001, len(net)) == net
    spi.write(COMMON, 0x0039, b"\x99")                     # read-only
    assert dev.creg("VERSIONR") == 4
    # socket defaults: 2 KiB buffers, TX_FSR 2048, Sn_TTL 0x80, Sn_IMR 0xFF
    assert spi.sr(3, 0x1E) == 2 and spi.sr(3, 0x1F) == 2
    assert spi.sr(3, 0x20, 2) == 2048
    assert spi.sr(3, 0x16) == 0x80 and spi.sr(3, 0x2C) == 0xFF


def test_fixed_length_frames_follow_each_other_with_cs_low(chip):
    _, dev, _ = chip
    dev.on_gpio(0, False)
    # OM=10 (2 bytes) write of GAR[0..1], then OM=01 read of GAR[1], then OM=11 read of SUBR
    for b in (0x00, 0x01, 0x06, 10, 20):
        dev.transmit(b)
    for b in (0x00, 0x05, 0x07, 255, 255, 254, 0):
        dev.transmit(b)
    out = [dev.transmit(b) for b in (0x00, 0x02, 0x01, 0)]
    out4 = [dev.transmit(b) for b in (0x00, 0x05, 0x03, 0, 0, 0, 0)]
    dev.on_gpio(0, True)
    assert out[3] == 20
    assert out4[3:] == [255, 255, 254, 0]


def test_software_reset_restores_registers(chip):
    _, dev, spi = chip
    spi.write(COMMON, 0x000F, bytes([10, 0, 0, 2]))
    spi.sw(0, 0x1F, 8)
    spi.write(COMMON, 0x0000, b"\x80")                     # MR.RST
    assert spi.read(COMMON, 0x0000, 1) == b"\x00"
    assert spi.read(COMMON, 0x000F, 4) == bytes(4)
    assert spi.sr(0, 0x1F) == 2
    dev.on_gpio(1, False)                                  # RSTn pin low: no SPI answers
    assert dev.transmit(0) == 0
    dev.on_gpio(1, True)
    assert dev.creg("VERSIONR") == 4


def test_timeouts_follow_rtr_and_rcr(chip):
    _, dev, spi = chip
    assert dev.tcp_timeout_ps() == 31_800 * PS_PER_MS       # data sheet example: 31.8 s
    assert dev.arp_timeout_ps() == 1_800 * PS_PER_MS
    spi.write(COMMON, 0x0019, (1000).to_bytes(2, "big") + b"\x03")   # 100 ms, 3 retries
    assert dev.tcp_timeout_ps() == (1000 + 2000 + 4000 + 8000) * PS_PER_MS // 10


def test_tcp_client_exchanges_data_with_a_host_server(chip, server):
    ctx, dev, spi = chip
    spi.write(COMMON, 0x0018, b"\x01")                     # SIMR: socket 0
    spi.sw(0, 0x2C, IR_CON | IR_RECV)                      # Sn_IMR
    tcp_connect(ctx, spi, server.getsockname()[1])
    assert spi.irq(0) & IR_CON
    assert dev.INT.level is False                          # INTn asserted (low)
    assert spi.read(COMMON, 0x0017, 1) == b"\x01"          # SIR
    spi.clear_irq(0, IR_CON)
    assert dev.INT.level is True
    conn, _ = server.accept()
    spi.send(0, b"GET /readings\r\n")
    run_ms(ctx, 1)
    assert spi.irq(0) & IR_SENDOK
    assert spi.sr(0, 0x22, 2) == 15                        # Sn_TX_RD caught up with Sn_TX_WR
    assert conn.recv(100) == b"GET /readings\r\n"
    conn.sendall(b"room 3: 12.34 kWh")
    wait_until(ctx, lambda: spi.sr(0, 0x26, 2) == 17)
    assert spi.irq(0) & IR_RECV and dev.INT.level is False
    assert spi.recv(0) == b"room 3: 12.34 kWh"
    assert spi.sr(0, 0x26, 2) == 0
    # the peer closes: CLOSE_WAIT with DISCON, then the firmware's DISCON closes the socket
    conn.close()
    wait_until(ctx, lambda: spi.status(0) == SR_CLOSE_WAIT)
    assert spi.irq(0) & IR_DISCON
    spi.cmd(0, DISCON)
    assert spi.status(0) == SR_CLOSED


def test_a_port_mapped_to_another_host_connects_there(chip):
    """map_port(..., host=): the firmware's connection to the guest port reaches a server on
    that host (127.0.0.2 stands for another machine), not one on 127.0.0.1 at the same port."""
    ctx, dev, spi = chip
    far = socket.socket()
    far.bind(("127.0.0.2", 0))
    far.listen(1)
    far.settimeout(2)
    port = far.getsockname()[1]
    near = socket.socket()          # same port on 127.0.0.1: must not get the connection
    near.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    near.bind(("127.0.0.1", port))
    near.listen(1)
    near.setblocking(False)
    try:
        dev.map_port(5020, port, host="127.0.0.2")
        tcp_connect(ctx, spi, 5020)
        conn, _ = far.accept()
        spi.send(0, b"HELLO")
        run_ms(ctx, 1)
        assert conn.recv(100) == b"HELLO"
        with pytest.raises(BlockingIOError):
            near.accept()
        conn.close()
    finally:
        far.close()
        near.close()
    with pytest.raises(W5500Error, match="no IPv4 address"):   # a label over 63 characters:
        dev.map_port(5021, 1, host="x" * 64 + ".example")       # refused without a DNS query
    assert 5021 not in dev._port_map          # a refused mapping changes nothing


def test_active_close_goes_through_fin_wait(chip, server):
    ctx, dev, spi = chip
    tcp_connect(ctx, spi, server.getsockname()[1])
    conn, _ = server.accept()
    spi.cmd(0, DISCON)
    assert spi.status(0) == SR_FIN_WAIT
    assert conn.recv(10) == b""                            # the host peer sees our FIN
    conn.close()
    wait_until(ctx, lambda: spi.status(0) == SR_CLOSED)
    assert spi.irq(0) & IR_DISCON


def test_connection_refused_ends_in_timeout_and_closed(chip):
    ctx, dev, spi = chip
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                                          # nobody listens there now
    spi.sw(0, 0x00, 0x01)
    spi.cmd(0, OPEN)
    spi.write(1, 0x0C, bytes([192, 168, 1, 2]))        # any address routes to the host
    spi.sw(0, 0x10, port, 2)
    spi.cmd(0, CONNECT)
    wait_until(ctx, lambda: spi.status(0) == SR_CLOSED)
    assert spi.irq(0) & IR_TIMEOUT


def test_a_refused_connect_leaves_no_timer_to_end_the_next_connection(chip, server):
    """A refusal closes the socket at once; the retransmission time the CONNECT armed must
    not run out later and close a connection the firmware made since (RTR 200 ms x RCR 8:
    31.8 s)."""
    ctx, dev, spi = chip
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead = probe.getsockname()[1]
    probe.close()
    spi.sw(0, 0x00, 0x01)
    spi.cmd(0, OPEN)
    spi.write(1, 0x0C, bytes([127, 0, 0, 1]))
    spi.sw(0, 0x10, dead, 2)
    spi.cmd(0, CONNECT)
    wait_until(ctx, lambda: spi.status(0) == SR_CLOSED)
    spi.clear_irq(0, 0xFF)
    tcp_connect(ctx, spi, server.getsockname()[1])
    conn, _ = server.accept()
    run_ms(ctx, dev.tcp_timeout_ps() // PS_PER_MS + 100)
    assert spi.status(0) == SR_ESTABLISHED and not spi.irq(0) & IR_TIMEOUT
    conn.close()


def test_connect_to_a_dead_port_that_the_host_connects_to_itself_is_refused(chip):
    """On loopback, a connect whose source port is the destination port with nobody listening
    joins the socket to itself (TCP simultaneous open); the chip must see a refusal, not a
    server that echoes whatever the firmware sends."""
    ctx, dev, spi = chip
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                                          # nobody listens there now
    dev.map_port(40001, port)                              # source and destination: one port
    dev.map_port(5020, port)
    spi.sw(0, 0x00, 0x01)
    spi.sw(0, 0x04, 40001, 2)
    spi.cmd(0, OPEN)
    spi.write(1, 0x0C, bytes([192, 168, 1, 2]))
    spi.sw(0, 0x10, 5020, 2)
    spi.cmd(0, CONNECT)
    wait_until(ctx, lambda: spi.status(0) != SR_SYNSENT)
    assert spi.status(0) == SR_CLOSED
    assert spi.irq(0) & IR_TIMEOUT and not spi.irq(0) & IR_CON


def test_link_down_connect_times_out_after_the_arp_time(chip, server):
    ctx, dev, spi = chip
    dev.set_link(False)
    assert spi.read(COMMON, 0x002E, 1)[0] & 0x01 == 0
    spi.sw(0, 0x00, 0x01)
    spi.cmd(0, OPEN)
    spi.write(1, 0x0C, bytes([127, 0, 0, 1]))
    spi.sw(0, 0x10, server.getsockname()[1], 2)
    spi.cmd(0, CONNECT)
    run_ms(ctx, 1799)
    assert spi.status(0) == SR_SYNSENT
    run_ms(ctx, 2)
    assert spi.status(0) == SR_CLOSED and spi.irq(0) & IR_TIMEOUT


def test_tcp_server_accepts_a_host_client(chip):
    ctx, dev, spi = chip
    dev.map_port(502, 0)                                   # guest port 502 -> any free host port
    spi.sw(2, 0x00, 0x01)
    spi.sw(2, 0x04, 502, 2)
    spi.cmd(2, OPEN)
    spi.cmd(2, LISTEN)
    assert spi.status(2) == SR_LISTEN
    port = dev.host_port(2)
    assert port and port != 502
    cli = socket.create_connection(("127.0.0.1", port), timeout=2)
    wait_until(ctx, lambda: spi.status(2) == SR_ESTABLISHED)
    assert spi.irq(2) & IR_CON
    assert spi.read(4 * 2 + 1, 0x0C, 4) == bytes([127, 0, 0, 1])          # Sn_DIPR
    assert spi.sr(2, 0x10, 2) == cli.getsockname()[1]                     # Sn_DPORT
    cli.sendall(b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02")
    wait_until(ctx, lambda: spi.sr(2, 0x26, 2) == 12)
    request = spi.recv(2)
    spi.send(2, request[:5] + b"\x07\x01\x03\x04\x00\x2a\x00\x2b")
    assert cli.recv(100) == b"\x00\x01\x00\x00\x00\x07\x01\x03\x04\x00\x2a\x00\x2b"
    cli.close()
    wait_until(ctx, lambda: spi.status(2) == SR_CLOSE_WAIT)
    spi.cmd(2, CLOSE)
    assert spi.status(2) == SR_CLOSED


def test_udp_datagrams_both_ways_with_the_receive_header(chip):
    ctx, dev, spi = chip
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(2)
    dev.map_port(123, 0)
    spi.sw(1, 0x00, 0x02)                                  # UDP
    spi.sw(1, 0x04, 123, 2)
    spi.cmd(1, OPEN)
    assert spi.status(1) == SR_UDP
    spi.write(4 + 1, 0x0C, bytes([127, 0, 0, 1]))
    spi.sw(1, 0x10, peer.getsockname()[1], 2)
    spi.send(1, b"time?")
    data, src = peer.recvfrom(100)
    assert data == b"time?" and src[1] == dev.host_port(1)
    run_ms(ctx, 1)
    assert spi.irq(1) & IR_SENDOK
    peer.sendto(b"12:00:00", src)
    peer.sendto(b"12:00:01", src)
    wait_until(ctx, lambda: spi.sr(1, 0x26, 2) == 2 * (8 + 8))
    raw = spi.recv(1)
    pport = peer.getsockname()[1].to_bytes(2, "big")
    assert raw == (bytes([127, 0, 0, 1]) + pport + b"\x00\x08" + b"12:00:00" +
                   bytes([127, 0, 0, 1]) + pport + b"\x00\x08" + b"12:00:01")
    peer.close()


def test_rx_buffer_full_holds_data_back_until_recv_and_pointers_wrap(chip, server):
    ctx, dev, spi = chip
    spi.sw(0, 0x1E, 1)                                     # 1 KiB RX buffer
    tcp_connect(ctx, spi, server.getsockname()[1])
    conn, _ = server.accept()
    # start the pointers just below the 16-bit wrap (as after 64 KiB of traffic)
    spi.sw(0, 0x24, 0xFFF0, 2)
    dev._put(0, "Sn_TX_RD", 0xFFF0)
    dev._put(0, "Sn_RX_RD", 0xFFF0)
    dev._put(0, "Sn_RX_WR", 0xFFF0)
    dev.sockets[0].rx_rd = 0xFFF0
    payload = bytes(range(256)) * 12                       # 3072 bytes
    spi.send(0, payload[:40])                              # crosses 0xFFFF
    assert conn.recv(100) == payload[:40]
    conn.sendall(payload)
    got = b""
    for _ in range(200):
        run_ms(ctx, 1)
        time.sleep(0.001)
        assert spi.sr(0, 0x26, 2) <= 1024                  # never more than the buffer
        if spi.sr(0, 0x26, 2):
            got += spi.recv(0)
        if len(got) == len(payload):
            break
    assert got == payload


def test_buffer_sizes_are_shared_out_of_16_kib(chip):
    _, dev, spi = chip
    spi.sw(0, 0x1F, 16)                                    # socket 0 takes all TX memory
    assert spi.sr(0, 0x20, 2) == 16384
    assert spi.sr(1, 0x20, 2) == 0                         # socket 1 has none left
    spi.sw(0, 0x1F, 8)
    spi.sw(1, 0x1F, 8)
    assert spi.sr(1, 0x20, 2) == 8192 and spi.sr(2, 0x20, 2) == 0
    # socket 1's TX buffer starts 8 KiB into the memory: writes do not overlap socket 0's
    spi.write(4 * 0 + 2, 0, b"A" * 4)
    spi.write(4 * 1 + 2, 0, b"B" * 4)
    assert spi.read(2, 0, 4) == b"AAAA" and spi.read(6, 0, 4) == b"BBBB"
    assert dev._tx_mem[8192:8196] == b"BBBB"


def test_poll_events_only_while_a_socket_uses_the_host(chip, server):
    ctx, dev, spi = chip
    run_ms(ctx, 5)
    assert ctx.clock.pending() == 0                        # idle chip: no events at all
    tcp_connect(ctx, spi, server.getsockname()[1])
    assert ctx.clock.pending() == 1
    spi.cmd(0, CLOSE)
    run_ms(ctx, 2)
    assert ctx.clock.pending() == 0


def test_virtual_seconds_pass_without_host_traffic(chip, server):
    ctx, dev, spi = chip
    tcp_connect(ctx, spi, server.getsockname()[1])
    ctx.clock.run_for(2 * PS_PER_S)                        # an established idle link stays up
    assert spi.status(0) == SR_ESTABLISHED


class _IntProbe:
    """Records the virtual time of every INTn change."""

    def __init__(self, ctx):
        self.ctx, self.changes = ctx, []

    def on_gpio(self, _pin, level):
        self.changes.append((self.ctx.clock.now_ps, level))


def test_host_data_raises_int_at_the_first_poll_after_it(chip, server):
    # the poll looks at every host socket with one select: data that arrived in wall time
    # still lands at the poll instant (a multiple of the poll interval), not before or after
    ctx, dev, spi = chip
    spi.write(COMMON, 0x0018, b"\x01")                     # SIMR: socket 0
    spi.sw(0, 0x2C, IR_RECV)                               # Sn_IMR
    tcp_connect(ctx, spi, server.getsockname()[1])
    conn, _ = server.accept()
    probe = _IntProbe(ctx)
    dev.INT.connect(probe)
    run_ms(ctx, 3.5)                                       # idle polls: nothing to read
    assert probe.changes == [] and spi.sr(0, 0x26, 2) == 0
    conn.sendall(b"reading 42")
    time.sleep(0.05)                                       # on the host's socket by now
    t0 = ctx.clock.now_ps
    run_ms(ctx, 2)
    first_poll = (t0 // PS_PER_MS + 1) * PS_PER_MS
    assert probe.changes == [(first_poll, False)]          # INTn asserted at that poll
    assert spi.recv(0) == b"reading 42"
    conn.close()


def test_a_client_that_sends_as_it_connects_is_read_at_the_accepting_poll(chip):
    # a connection accepted by a poll is read by the same poll (it was not in that poll's
    # select), so a request sent with the connection lands with CON
    ctx, dev, spi = chip
    dev.map_port(502, 0)
    spi.sw(1, 0x00, 0x01)
    spi.sw(1, 0x04, 502, 2)
    spi.cmd(1, OPEN)
    spi.cmd(1, LISTEN)
    cli = socket.create_connection(("127.0.0.1", dev.host_port(1)), timeout=2)
    cli.sendall(b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02")
    time.sleep(0.05)
    run_ms(ctx, 1)                                         # one poll
    assert spi.status(1) == SR_ESTABLISHED
    assert spi.irq(1) & (IR_CON | IR_RECV) == IR_CON | IR_RECV
    assert spi.sr(1, 0x26, 2) == 12
    cli.close()


def test_a_host_peer_that_resets_while_a_send_waits_for_it_closes_the_socket(chip, server):
    """The host peer stops reading, so part of a SEND waits for it, then resets the
    connection: the socket closes with DISCON, as a real chip's would after the RST, and the
    emulation goes on."""
    import struct

    ctx, dev, spi = chip
    tcp_connect(ctx, spi, server.getsockname()[1])
    conn, _ = server.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    dev.sockets[0].host.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    chunk = bytes(range(256)) * 8
    for _ in range(400):                                  # until the host holds some back
        spi.send(0, chunk)
        run_ms(ctx, 1)
        if dev.sockets[0].pending:
            break
    assert dev.sockets[0].pending, "the host took every byte: no SEND left waiting"
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()                                          # an RST, not a FIN
    wait_until(ctx, lambda: spi.status(0) == SR_CLOSED)
    assert spi.irq(0) & IR_DISCON
    run_ms(ctx, 5)                                        # the polls after it find nothing
    assert spi.status(0) == SR_CLOSED
