"""A command the query manager cannot carry out is reported failed and dropped, never carried out
later (docs/firmware_query_manager.md, "Commands"): a top-up for a controller that is powered
off or pulled off the RS-485 bus is answered `ERR TOPUP` on the server link (the keypad's
TFT shows `Top-up FAILED`) after the write's three tries, and the room's balance is untouched
when the controller comes back; one the poll thread could not even begin within its 10 s is
withdrawn, answered `ERR`, and never sent when the poll thread is free again; the head end
records a failed top-up as `failed` and a repeat of its request id does not send it again.

One query manager and one 4-room controller (address 1, every balance 0) on the bus; the
test is the PC server's end of the link."""

import datetime as dt
import socket

import pytest

from metersim._cabinet.board import new_bus
from metersim._cabinet.query_manager import build_controllers, build_query_manager
from metersim._engine.emulation import Emulation
from metersim._headend import Headend, domain
from metersim._units import PS_PER_MS, PS_PER_S

from tests.cabinet.link_peer import LinkPeer
from tests.headend.conftest import OPERATOR, PASSWORD, Api, VirtualClock, wait_for

ADDR, ROOMS, ROOM = 1, 4, 1
# docs/firmware_query_manager.md, "Commands": the request under way (three tries of a read to
# a controller that stopped answering, 3 x 109 ms) and the write's own three tries (3 x 114 ms)
FAILED_WITHIN_S = 0.7
COMMAND_START_S = 10.0            # main.c CMD_START_MS: not begun by then, withdrawn
LINK_S = 0.01                     # the ms tick and the link's way to the test


def balance_cents(qm) -> int:
    """The room's balance as the query manager last polled it (signed u32, registers 12..13)."""
    regs = qm.readings(ADDR)[1][ROOM].regs
    v = regs[12] << 16 | regs[13]
    return v - (1 << 32) if v >> 31 else v


def top_up_events(ctrl) -> list[str]:
    return [ln for ln in ctrl.console.line_texts() if ln.startswith("event top-up")]


def answers(peer) -> list[str]:
    return [ln for ln in peer.lines() if ln.endswith(" TOPUP")]


def build(firmware, seed: int, server_port: int):
    emu = Emulation(seed=seed)
    bus = new_bus(emu)
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()              # switched on once the controller has its address
    qm.eth.map_port(5020, server_port)
    ctrl = build_controllers(emu, bus, ((ADDR, ROOMS),),
                             firmware("f103rb", "metering_controller"))[ADDR]
    qm.load_firmware(firmware("f103rc", "query_manager"))
    qm.machine.power_on()
    emu.run_until(lambda: "poll: first round done" in qm.console.line_texts(), "10s",
                  "the query manager's first polling round")
    return emu, qm, ctrl


@pytest.fixture
def cabinet(firmware):
    server = socket.socket()            # the PC server: the firmware connects to 192.168.1.2:5020
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    emu, qm, ctrl = build(firmware, 23, server.getsockname()[1])
    emu.run_for("200ms")                # the link comes up right after the first round
    conn, _ = server.accept()
    peer = LinkPeer(conn)
    yield emu, qm, ctrl, peer
    peer.close()
    qm.eth.close()
    server.close()


def back_online(emu, qm, what: str) -> None:
    """The controller answers again: the query manager's next probe (10 s at most) finds it,
    then a round of its rooms."""
    emu.run_until(lambda: qm.console.line_texts().count(f"poll: controller {ADDR} online, "
                                                        f"{ROOMS} rooms") == 2, "15s", what)
    emu.run_for("1.5s")


def test_a_server_top_up_for_a_powered_off_controller_fails_and_is_not_applied_when_it_is_back(
        cabinet):
    emu, qm, ctrl, peer = cabinet
    assert balance_cents(qm) == 0
    ctrl.machine.power_off()
    sent_ps = emu.now_ps
    peer.send(f"TOPUP {ADDR} {ROOM} 250")
    emu.run_until(lambda: answers(peer), "3s", "the top-up's answer")
    failed_s = (emu.now_ps - sent_ps) / PS_PER_S
    assert answers(peer) == ["ERR TOPUP"]
    assert failed_s <= FAILED_WITHIN_S + LINK_S, failed_s
    qm.console.expect(f"poll: top-up 250 cents controller {ADDR} room {ROOM}: failed",
                      timeout="50ms")          # the console line (115200 baud) ends later
    ctrl.machine.power_on()
    back_online(emu, qm, "the controller back after its power cut")
    assert balance_cents(qm) == 0 and top_up_events(ctrl) == []
    # the next top-up is answered for itself, and only it is applied
    peer.send(f"TOPUP {ADDR} {ROOM} 300")
    emu.run_until(lambda: len(answers(peer)) == 2, "3s", "the second top-up's answer")
    emu.run_for("1.5s")
    assert answers(peer) == ["ERR TOPUP", "OK TOPUP"]
    assert balance_cents(qm) == 300
    assert top_up_events(ctrl) == [f"event top-up room {ROOM} value 300"]


def test_a_keypad_top_up_for_a_controller_off_the_bus_shows_failed_and_is_not_applied_later(
        cabinet):
    emu, qm, ctrl, peer = cabinet
    ctrl.xcvr.detach()
    keys = ["PAY", str(ADDR), "OK", str(ROOM), "OK", "4", "0", "0", "OK", "1", "2", "3", "4", "OK"]
    emu.run_for(f"{qm.keypad.type_keys(keys) // PS_PER_MS}ms")
    emu.run_until(lambda: "Top-up FAILED" in qm.tft.text(), f"{FAILED_WITHIN_S + 0.5}s",
                  "the top-up's failure on the TFT")
    qm.console.expect(f"poll: top-up 400 cents controller {ADDR} room {ROOM}: failed",
                      timeout="50ms")
    ctrl.xcvr.attach(ctrl.bus)
    back_online(emu, qm, "the controller back on the bus")
    assert balance_cents(qm) == 0 and top_up_events(ctrl) == []


def test_a_command_not_begun_in_10_s_is_withdrawn_and_never_sent_later(cabinet):
    """The poll thread is held 11.5 s by a clock broadcast: its offset from the server's
    second (g_rtc_ahead_ms, set by TIME, at most 0.5 s) is forced to 11 s through the debug
    port, and the IWDG is left stopped (its reset state) so the held thread is not reset. A
    top-up sent meanwhile cannot begin: it is answered ERR at 10 s and, when the poll thread
    is free again, not sent; the next commands get their own answers."""
    emu, qm, ctrl, peer = cabinet
    qm.machine["iwdg"].reset()
    qm.machine.write_u32(qm.machine.symbol("g_rtc_ahead_ms"), 11_000)
    peer.send("SYNC 86400")                 # the broadcast now
    emu.run_until(lambda: "OK SYNC" in peer.lines(), "1s", "the SYNC's answer")
    emu.run_for("100ms")                    # the poll thread is in the broadcast's wait
    sent_ps = emu.now_ps
    peer.send(f"TOPUP {ADDR} {ROOM} 250")
    emu.run_until(lambda: answers(peer), "11s", "the top-up's answer")
    waited_s = (emu.now_ps - sent_ps) / PS_PER_S
    assert answers(peer) == ["ERR TOPUP"]
    assert COMMAND_START_S <= waited_s <= COMMAND_START_S + LINK_S, waited_s
    qm.console.expect(f"poll: top-up 250 cents controller {ADDR} room {ROOM}: failed, not sent "
                      "in 10 s", timeout="50ms")
    emu.run_for("4s")                       # the broadcast goes out, polling resumes
    assert balance_cents(qm) == 0 and top_up_events(ctrl) == []
    peer.send(f"TOPUP {ADDR} {ROOM} 300")
    emu.run_until(lambda: len(answers(peer)) == 2, "3s", "the second top-up's answer")
    peer.send(f"TOPUP 5 {ROOM} 100")        # no controller 5 on the bus
    emu.run_until(lambda: len(answers(peer)) == 3, "3s", "the third top-up's answer")
    emu.run_for("1.5s")
    assert answers(peer) == ["ERR TOPUP", "OK TOPUP", "ERR TOPUP"]
    assert balance_cents(qm) == 300
    assert top_up_events(ctrl) == [f"event top-up room {ROOM} value 300"]


def test_the_head_end_marks_the_failed_top_up_failed_and_a_repeat_does_not_send_it(
        firmware, tmp_path):
    """metersim._headend over the link: a web top-up for a room whose controller is off ends
    `failed`; the same request id again is that top-up (not a new one), so nothing is sent and
    nothing applied, not even when the controller is back; a new request id is applied once."""
    start = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    emu, qm, ctrl = build(firmware, 29, 0)      # no server yet: its connects are refused
    hs = Headend(f"sqlite:///{tmp_path / 'headend.db'}", cabinets={"block-A": 0}, api_port=0,
                 clock=VirtualClock(emu, start))
    try:
        with hs.sessions.begin() as s:
            domain.add_user(s, OPERATOR, PASSWORD, "operator", hs.clock())
        hs.start()
        qm.eth.map_port(5020, hs.link_ports["block-A"])
        emu.run_until(lambda: hs.links.reports_from.get("block-A", 0) >= 1, "25s",
                      "a report with readings")
        op = Api(hs.url(), OPERATOR)
        rooms = {r["room"]: r for r in op.get("/api/cabinets").json()[0]["rooms"]}
        room_id = rooms[ROOM]["id"]
        ctrl.machine.power_off()
        first = op.post("/api/topups", json={"request_id": "pay-1", "room_id": room_id,
                                             "cents": 250})
        assert first.status_code == 201
        emu.run_until(lambda: hs.links.answers_in >= 1, "3s", "the query manager's answer")
        state = lambda tid: op.get(f"/api/topups/{tid}").json()["state"]   # noqa: E731
        wait_for(lambda: state(first.json()["id"]) == "failed", what="the top-up failed")
        again = op.post("/api/topups", json={"request_id": "pay-1", "room_id": room_id,
                                             "cents": 250})
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        # how much virtual time passed before the head end read the answer depends on the
        # machine's load: let the query manager see the controller gone before it is back
        emu.run_until(lambda: f"poll: controller {ADDR} offline" in qm.console.line_texts(),
                      "3s", "the controller offline")
        ctrl.machine.power_on()
        back_online(emu, qm, "the controller back after its power cut")
        assert hs.links.answers_in == 1           # the repeat was not sent
        assert state(first.json()["id"]) == "failed"
        assert balance_cents(qm) == 0 and top_up_events(ctrl) == []
        second = op.post("/api/topups", json={"request_id": "pay-2", "room_id": room_id,
                                              "cents": 300})
        emu.run_until(lambda: hs.links.answers_in >= 2, "3s", "the second answer")
        wait_for(lambda: state(second.json()["id"]) == "done", what="the new top-up done")
        emu.run_for("1.5s")
        assert balance_cents(qm) == 300
        assert top_up_events(ctrl) == [f"event top-up room {ROOM} value 300"]
    finally:
        qm.eth.close()
        hs.stop()
