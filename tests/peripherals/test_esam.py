"""ISO 7816 port: the STM32 USART in smartcard mode with the ESAM card on its line."""

from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.esam import Esam
from metersim.peripherals.stm32 import usart as u
from metersim._units import PS_PER_MS

PCLK = 50_000_000
PSC = 5                        # CK = 50 MHz / 10 = 5 MHz
ETU_BRR = 372 * 2 * PSC        # baud = CK / 372


def make(seed=0):
    clock = Clock()
    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": PCLK}))
    usart = u.STM32Usart(Context(clock, name="usart2", machine=machine, address=0x40004400, seed=seed))
    card = Esam(Context(clock, name="esam", machine=machine, seed=seed))
    usart.register_child(card)
    return clock, usart, card


def smartcard_on(usart, nack=True, gt=16):
    usart.write(u.GTPR, 4, (gt << 8) | PSC)
    usart.write(u.BRR, 4, ETU_BRR)
    usart.write(u.CR2, 4, u.CLKEN | (3 << 12))            # CK on, 1.5 stop bits
    usart.write(u.CR3, 4, u.SCEN | (u.NACK if nack else 0))
    usart.write(u.CR1, 4, u.UE | u.TE | u.RE | u.M | u.PCE)


def receive(clock, usart, n, timeout_ms=100):
    got, errors = [], []
    end = clock.now_ps + timeout_ms * PS_PER_MS
    while len(got) < n and clock.now_ps < end:
        clock.run_for(PS_PER_MS // 20)
        sr = usart.read(u.SR, 4)
        if sr & u.RXNE:
            got.append(usart.read(u.DR, 4) & 0xFF)
            errors.append(sr & (u.PE | u.FE))
    return bytes(got), errors


def send(clock, usart, data):
    """Firmware-style: write, wait TC, read back the echo and its FE (NACK)."""
    fe = []
    for b in data:
        usart.read(u.SR, 4)
        usart.write(u.DR, 4, b)
        while not usart.read(u.SR, 4) & u.TC:
            clock.run_for(PS_PER_MS // 50)
        sr = usart.read(u.SR, 4)
        assert sr & u.RXNE, "the echo of our own character"
        assert usart.read(u.DR, 4) & 0xFF == b
        fe.append(bool(sr & u.FE))
    return fe


def test_ck_follows_clken_psc_and_atr_comes_after_reset_release():
    clock, usart, card = make()
    smartcard_on(usart)
    assert usart.ck_hz == 5_000_000
    card.on_gpio(0, True)                                 # RST high
    atr, errors = receive(clock, usart, 12)
    assert atr == bytes.fromhex("3B680000") + b"MSESAM01"
    assert not any(errors)
    assert card.atr_count == 1


def test_no_clock_no_atr():
    clock, usart, card = make()
    usart.write(u.BRR, 4, ETU_BRR)
    usart.write(u.CR3, 4, u.SCEN)
    usart.write(u.CR1, 4, u.UE | u.TE | u.RE | u.M | u.PCE)   # CLKEN not set
    card.on_gpio(0, True)
    got, _ = receive(clock, usart, 1, timeout_ms=20)
    assert got == b"" and card.atr_count == 0


def test_get_challenge_answers_procedure_byte_8_random_bytes_and_9000():
    clock, usart, card = make(seed=7)
    smartcard_on(usart)
    card.on_gpio(0, True)
    receive(clock, usart, 12)
    assert send(clock, usart, bytes.fromhex("0084000008")) == [False] * 5
    answer, errors = receive(clock, usart, 11)
    assert answer[0] == 0x84 and answer[-2:] == b"\x90\x00"
    assert answer[1:9] == card.challenges[0] and len(card.challenges[0]) == 8
    assert not any(errors)
    # a second card with the same seed and name gives the same challenge: deterministic
    clock2, usart2, card2 = make(seed=7)
    smartcard_on(usart2)
    card2.on_gpio(0, True)
    receive(clock2, usart2, 12)
    send(clock2, usart2, bytes.fromhex("0084000008"))
    assert receive(clock2, usart2, 11)[0] == answer


@pytest.mark.parametrize("header, sw", [("8084000008", "6E00"), ("00B0000008", "6D00"),
                                        ("0084010008", "6A86"), ("0084000005", "6700")])
def test_status_words_for_bad_commands(header, sw):
    clock, usart, card = make()
    smartcard_on(usart)
    card.on_gpio(0, True)
    receive(clock, usart, 12)
    send(clock, usart, bytes.fromhex(header))
    assert receive(clock, usart, 2)[0] == bytes.fromhex(sw)


def test_card_nack_gives_fe_on_the_echo_and_a_repeat_goes_through():
    clock, usart, card = make()
    smartcard_on(usart)
    card.on_gpio(0, True)
    receive(clock, usart, 12)
    card.nack_next_rx(1)
    fe = send(clock, usart, bytes.fromhex("00"))
    assert fe == [True] and card.nacks_sent == 1
    fe = send(clock, usart, bytes.fromhex("0084000004"))    # firmware repeats, then the rest
    assert fe == [False] * 5
    answer, _ = receive(clock, usart, 7)
    assert answer[0] == 0x84 and answer[-2:] == b"\x90\x00"


def test_parity_error_from_card_is_nacked_and_repeated():
    clock, usart, card = make()
    smartcard_on(usart, nack=True)
    card.corrupt_next_tx(1)                               # TS goes out with a bad parity bit
    card.on_gpio(0, True)
    got, errors = receive(clock, usart, 13)
    assert got[0] == 0x3B and errors[0] & u.PE            # the bad one, flagged
    assert got[1:] == card.atr and not any(errors[1:])    # repeated after our NACK
    assert card.nacks_received == 1


def test_without_nack_bit_a_parity_error_is_not_repeated():
    clock, usart, card = make()
    smartcard_on(usart, nack=False)
    card.corrupt_next_tx(1)
    card.on_gpio(0, True)
    got, errors = receive(clock, usart, 12)
    assert got == card.atr and errors[0] & u.PE and card.nacks_received == 0


def test_tc_waits_for_the_guard_time():
    clock, usart, card = make()
    smartcard_on(usart, gt=0)
    t0 = clock.now_ps
    send(clock, usart, b"\x00")
    no_gt = clock.now_ps - t0
    clock2, usart2, _ = make()
    smartcard_on(usart2, gt=20)
    t0 = clock2.now_ps
    send(clock2, usart2, b"\x00")
    etu_ps = 372 * 10**12 // 5_000_000
    assert clock2.now_ps - t0 >= no_gt + 19 * etu_ps
