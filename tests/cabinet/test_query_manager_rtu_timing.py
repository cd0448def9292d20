"""The query manager's Modbus RTU receiver keeps to Modbus over serial line §2.5.1.1 like the
metering controller's: a reply with a silence of more than t1.5 inside is broken (not taken),
one with a shorter pause is a reply. A Python slave at address 1 answers the firmware's polls
with a pause inside each reply; the query manager alone on the bus, 9600 8N1."""

import pytest

from metersim._cabinet.query_manager import build_query_manager
from metersim._engine.emulation import Emulation
from metersim._protocols.modbus.framer import encode_adu
from metersim._units import PS_PER_MS, PS_PER_US

CHAR_US = 10 * 1_000_000 / 9600             # 8N1: 1041.7 us
ROOMS = 2


class PausingSlave:
    """Address 1 with ROOMS rooms: answers function 04 with registers 0x0100 + i, the reply sent
    as two parts with `pause_us` of idle line after its third byte, 1 ms after the request."""

    def __init__(self, bus, clock, pause_us):
        self.ep, self.clock, self.pause_ps = bus.attach_host("slave"), clock, round(pause_us * PS_PER_US)
        self.buf, self.t, self.replies = bytearray(), None, 0
        self.ep.on_receive(self.byte)

    def byte(self, v, frame):
        self.buf.append(v)
        if self.t:
            self.t.cancel()
        self.t = self.clock.schedule(4 * PS_PER_MS, self.request)

    def request(self):
        req, self.buf = bytes(self.buf), bytearray()
        if len(req) != 8 or req[0] != 1 or req[1] != 4:
            return
        start, n = int.from_bytes(req[2:4], "big"), int.from_bytes(req[4:6], "big")
        regs = [ROOMS] if start == 0x0001 else [0x0100 + i for i in range(n)]
        adu = encode_adu(1, bytes([4, 2 * n]) + b"".join(r.to_bytes(2, "big") for r in regs[:n]))
        end = self.ep.send(adu[:3], at_ps=self.clock.now_ps + PS_PER_MS)
        self.ep.send(adu[3:], at_ps=end + self.pause_ps)
        self.replies += 1


@pytest.mark.parametrize("pause_chars, taken", [(1.4, True), (1.6, False), (1.9, False)])
def test_a_pause_beyond_t15_inside_a_reply_breaks_it(firmware, pause_chars, taken):
    """t1.5 at 9600 bps is 1.56 ms: a controller pausing 1.4 characters inside its reply is
    online with its rooms' registers in the table; 1.6 or 1.9 characters break every reply
    (1.9 was taken by builds that allowed half a character more), so it stays absent."""
    emu = Emulation(seed=1)
    qm = build_query_manager(emu, elf=firmware("f103rc", "query_manager"))
    slave = PausingSlave(qm.bus, emu.clock, pause_chars * CHAR_US)
    emu.run_until(lambda: "poll: first round done" in qm.console.line_texts(), "10s",
                  "the query manager's first polling round")
    assert slave.replies >= 1
    state, rooms = qm.readings(1)
    if taken:
        assert state == "online"
        assert sorted(rooms) == list(range(ROOMS))
        assert rooms[1].regs == tuple(0x0100 + i for i in range(16))
    else:
        assert (state, rooms) == ("absent", {})
