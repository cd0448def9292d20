"""A top-up is credited once however often its write is retried (docs/modbus_map.md, "Top-up
tokens"): the write carries a token, the metering controller keeps each room's last applied
token with the room's credit, and a write with that token again is answered like the first
time and changes nothing.

- The query manager's top-up whose reply is lost on the RS-485 bus (a noise burst over the
  controller's answer): the retry gets the "done" answer, the room is credited once and the
  server (or the keypad's TFT) is told the top-up succeeded; with every reply lost, the token
  read back from the controller tells the query manager it was applied.
- A test master writing the same token twice credits once; a new token credits again.
- Power cuts at instants across the controller's handling of a top-up (the record write
  included): afterwards the room has the new credit with the new token or the old credit with
  the old token, never one without the other, and the master's retry credits exactly once."""

import pytest

from metersim._cabinet.board import new_bus
from metersim._cabinet.checks import power_cut, read_records
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.query_manager import build_controllers, build_query_manager
from metersim._engine.emulation import Emulation
from metersim._protocols.modbus import pdu as codec
from metersim._protocols.modbus.errors import ModbusException
from metersim._protocols.modbus.framer import encode_adu
from metersim._protocols.modbus.registers import ROOM_SETTINGS
from metersim._units import PS_PER_MS

# `cabinet`: that module's fixture (a query manager and a 4-room controller, the test as the
# server's end of the link), used here as it is
from tests.cabinet.test_query_manager_command_failure import (  # noqa: F401
    ADDR, ROOM, answers, balance_cents, cabinet, top_up_events)

CHAR_PS = 10 * 10**12 // 9600           # one RS-485 character at 9600 8N1


class ReplyLoser:
    """Noise over the controller's answers to the first `lose` top-up writes for the room:
    the controller took each write, the query manager never gets a valid reply. Records every
    top-up write the query manager put on the line (its bytes, token included)."""

    def __init__(self, bus, lose: int):
        self.bus, self.left = bus, lose
        self.prefix = bytes([ADDR, 0x10]) + ROOM_SETTINGS.address(ROOM, "top_up_cents").to_bytes(2, "big")
        self.frame, self.last_end_ps = bytearray(), 0
        self.writes: list[bytes] = []
        self.armed = False
        bus.on_tap(self._char)

    def _char(self, rec) -> None:
        if rec.driver.startswith("controller"):     # the controller answering
            if self.armed:
                self.armed = False
                self.left -= 1
                # the rest of the 8-byte reply (7 characters) garbled: a CRC error
                self.bus.noise_burst(7 * CHAR_PS + CHAR_PS // 2)
            return
        if rec.start_ps - self.last_end_ps > 2 * CHAR_PS:
            self.frame.clear()          # a silence: a new request
        self.last_end_ps = rec.end_ps
        self.frame.append(rec.sent)
        if len(self.frame) == 15 and self.frame.startswith(self.prefix):   # 3 registers
            self.writes.append(bytes(self.frame))
            self.armed = self.left > 0


def credit_and_token(ctrl, room: int = ROOM) -> tuple[int, int]:
    """The room's credit and last top-up token as the controller's EEPROM keeps them."""
    rec = read_records(ctrl).room_records[room]
    return rec["credit_cents"], rec["top_up_token"]


@pytest.mark.parametrize("lose", [1, 3])
def test_a_server_top_up_whose_reply_is_lost_is_credited_once_and_answered_ok(cabinet, lose):
    """lose 1: the second try is answered as already applied; lose 3: no try is answered, the
    token read back afterwards shows the top-up applied."""
    emu, qm, ctrl, peer = cabinet
    loser = ReplyLoser(ctrl.bus, lose)
    peer.send(f"TOPUP {ADDR} {ROOM} 250")
    emu.run_until(lambda: answers(peer), "3s", "the top-up's answer")
    assert answers(peer) == ["OK TOPUP"]
    qm.console.expect(f"poll: top-up 250 cents controller {ADDR} room {ROOM}: ok", timeout="50ms")
    assert loser.left == 0
    assert len(loser.writes) == min(lose + 1, 3)            # the query manager's tries
    assert len(set(loser.writes)) == 1                      # all with the same token
    token = int.from_bytes(loser.writes[0][11:13], "big")
    emu.run_for("1.5s")                                     # the room polled again
    assert balance_cents(qm) == 250
    assert top_up_events(ctrl) == [f"event top-up room {ROOM} value 250"]
    assert credit_and_token(ctrl) == (250, token)
    # the next top-up gets the next token and is credited
    peer.send(f"TOPUP {ADDR} {ROOM} 100")
    emu.run_until(lambda: len(answers(peer)) == 2, "3s", "the second top-up's answer")
    emu.run_for("1.5s")
    assert answers(peer) == ["OK TOPUP", "OK TOPUP"]
    assert balance_cents(qm) == 350
    assert credit_and_token(ctrl) == (350, token % 0xFFFF + 1)


def test_a_keypad_top_up_whose_reply_is_lost_shows_done_and_is_credited_once(cabinet):
    emu, qm, ctrl, peer = cabinet
    loser = ReplyLoser(ctrl.bus, 1)
    keys = ["PAY", str(ADDR), "OK", str(ROOM), "OK", "4", "0", "0", "OK", "1", "2", "3", "4", "OK"]
    emu.run_for(f"{qm.keypad.type_keys(keys) // PS_PER_MS}ms")
    emu.run_until(lambda: "Top-up done" in qm.tft.text(), "2s", "the top-up's confirmation")
    assert loser.left == 0 and len(loser.writes) == 2 and loser.writes[0] == loser.writes[1]
    emu.run_for("1.5s")
    assert balance_cents(qm) == 400
    assert top_up_events(ctrl) == [f"event top-up room {ROOM} value 400"]


def test_the_same_token_twice_credits_once_and_a_new_token_again(controller):
    board, master = controller()
    board.emu.run_for("1.5s")
    assert master.top_up_token(2) == 0                      # never topped up
    assert master.top_up(2, 700, token=4242) == 4242
    master.top_up(2, 700, token=4242)                       # a master's retry: answered ok
    assert master.room_balance_cents(2) == 700
    assert master.top_up_token(2) == 4242
    assert master.top_up(2, 300) == 4243                    # a new top-up: the next token
    assert master.room_balance_cents(2) == 1000
    master.top_up(3, 50, token=4242)                        # each room has its own token
    assert master.room_balance_cents(3) == 50
    assert [(e.room, e.value) for e in read_records(board).events if e.type == "top-up"] == [
        (2, 700), (2, 300), (3, 50)]
    assert credit_and_token(board, 2) == (1000, 4243)
    # the top-up without a token is gone: refused as an illegal address, nothing credited
    with pytest.raises(ModbusException) as e:
        master.write_multiple(0x2001 + 0x20 * 2, [0, 500])
    assert e.value.code == 2 and master.room_balance_cents(2) == 1000


def test_a_power_cut_while_a_top_up_is_applied_keeps_credit_and_token_together(controller):
    """The top-up's request is sent, then the mains fail 0..45 ms after its last byte (the
    controller waits t3.5, applies it, writes its event and the room record, and answers
    about 42 ms after the request) and the supply dies 1 ms later. After the restart the room has both the new credit and
    its token or neither; the master's retry with the same token then leaves exactly one
    credit, as a query manager retrying after the lost reply would."""
    board, master = controller()
    emu = board.emu
    emu.run_for("1.5s")
    credit, token, applied_before_retry = 0, 0, []
    for i, delay_ms in enumerate(x * 3.0 for x in range(16)):
        token += 1
        amount = 100 + i
        regs = ROOM_SETTINGS.field("top_up_cents").encode(amount) + [token]
        master.emu.run_for("10ms")
        end_ps = master.link.send(encode_adu(1, codec.write_multiple_request(0x2012 + 0x20 * ROOM, regs)))
        power_cut(board, at_ps=end_ps + round(delay_ms * PS_PER_MS), holdup_ms=1.0, off_ms=200.0)
        emu.run_for("1.5s")                                 # the controller boots
        now = credit_and_token(board)
        assert now in ((credit, token - 1), (credit + amount, token)), (delay_ms, now)
        assert master.top_up_token(ROOM) == now[1]
        assert master.room_balance_cents(ROOM) == now[0]
        applied_before_retry.append(now[1] == token)
        master.top_up(ROOM, amount, token=token)            # the retry
        credit += amount
        assert credit_and_token(board) == (credit, token)
        assert master.room_balance_cents(ROOM) == credit
    # the sweep saw both sides of the record write: cut before it and after it
    assert any(applied_before_retry), "no cut fell after the record write"
    assert not all(applied_before_retry), "no cut fell before the record write"
