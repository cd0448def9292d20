"""What a UART receiver makes of a frame on the line: the waveform, sampled at its own bit centres.

A `UartFrame` carries the sender's format and real baud. A receiver (the STM32 USART model, a
host endpoint on an RS-485 bus) calls `sample_frame` with its *own* settings; the frame's
waveform is rebuilt and sampled where the receiver's bit clock puts its samples, so a mismatched
baud or format yields the same wrong bytes, framing and parity errors as on hardware.

Followed (RM0008 §27.3.3 / RM0430 "Receiver", oversampling by 16): the receiver synchronises on
the falling edge of the start bit and takes three samples per bit, the 8th, 9th and 10th of 16,
i.e. at 7/16, 8/16 and 9/16 of the bit; the majority gives the bit value and a disagreement sets
the noise flag (NF). The first stop bit is sampled the same way; a 0 there is a framing error
(FE). Parity is checked over the received data bits.

Not modelled: the start-bit validation of the 3rd/5th/7th samples (a rejected start bit is
reported as noise and the bits are still sampled), OVER8 (oversampling by 8) and ONEBIT, the
second stop bit (STM32 checks only the first), LIN break detection beyond "FE with data 0",
the level of the line after the frame (taken as idle 1; overlapping frames are separate calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from metersim._errors import SetupError
from metersim._units import PS_PER_S
from metersim.peripherals.base import UartFrame

# Sample points inside a bit, in sixteenths of a bit time: the 8th, 9th and 10th of 16 samples.
_SAMPLE_SIXTEENTHS = (7, 8, 9)


@dataclass(frozen=True)
class LineFrame(UartFrame):
    """A frame whose line levels are given explicitly (one per sender bit time, start bit first,
    whole stop bits included). Buses use it for frames garbled by collisions or noise, so that a
    receiver still decodes them through `sample_frame` (and sees e.g. a framing error).
    `value` holds what a receiver with the sender's own settings reads."""

    line_bits: tuple[int, ...] = ()


def _check_format(data_bits: int, parity: str, stop_half_bits: int) -> None:
    if data_bits not in (5, 6, 7, 8, 9):
        raise SetupError(f"UART data bits must be 5..9, got {data_bits}")
    if parity not in ("N", "E", "O"):
        raise SetupError(f"UART parity must be 'N', 'E' or 'O', got {parity!r}")
    if stop_half_bits not in (1, 2, 3, 4):
        raise SetupError(f"UART stop bits are given in half bits (1..4), got {stop_half_bits}")


def parity_bit(value: int, data_bits: int, parity: str) -> int:
    """The parity bit a sender appends (E: total number of ones even, O: odd)."""
    ones = bin(value & ((1 << data_bits) - 1)).count("1")
    if parity == "E":
        return ones & 1
    if parity == "O":
        return (ones & 1) ^ 1
    raise SetupError(f"no parity bit for parity {parity!r}")


def encode_frame_bits(frame: UartFrame) -> list[int]:
    """Line level for each bit time of `frame`: start 0, data LSB first, parity, stop 1s.

    Fractional stop bits count as a whole bit (the line is idle-high after them anyway).
    A break frame is low for the whole frame, stop bits included.
    """
    line_bits = getattr(frame, "line_bits", ())
    if line_bits:
        return list(line_bits)
    return list(_plain_bits(frame.value, frame.data_bits, frame.parity, frame.stop_half_bits,
                            frame.is_break))


@lru_cache(maxsize=4096)
def _plain_bits(value: int, data_bits: int, parity: str, stop_half_bits: int,
                is_break: bool) -> tuple[int, ...]:
    """encode_frame_bits of a frame sent as is. Pure, so cached: a line carries the same few
    characters at the same settings over and over."""
    _check_format(data_bits, parity, stop_half_bits)
    n_stop = (stop_half_bits + 1) // 2
    n_par = parity != "N"
    if is_break:
        return (0,) * (1 + data_bits + n_par + n_stop)
    bits = [0]
    bits += [(value >> i) & 1 for i in range(data_bits)]
    if n_par:
        bits.append(parity_bit(value, data_bits, parity))
    bits += [1] * n_stop
    return tuple(bits)


@lru_cache(maxsize=256)
def _as_fraction(baud: float) -> Fraction:
    if baud <= 0:
        raise SetupError(f"baud rate must be positive, got {baud}")
    return Fraction(baud).limit_denominator(1_000_000)


@lru_cache(maxsize=1024)
def _ratio(tx_baud: float, rx_baud: float) -> tuple[int, int]:
    """One receiver bit time in sender bit times, as an exact fraction (numerator,
    denominator)."""
    r = _as_fraction(tx_baud) / _as_fraction(rx_baud)
    return r.numerator, r.denominator


@lru_cache(maxsize=8192)
def _decode(bits: tuple[int, ...], num: int, den: int, rx_data_bits: int,
            rx_parity: str) -> tuple[int, bool, bool, bool]:
    """Sample `bits` (one level per sender bit time) where a receiver whose bit time is num/den
    sender bit times puts its samples. Integer arithmetic: sample s (in sixteenths) of
    receiver bit k lies (16 k + s) num / (16 den) sender bit times after the start edge, in
    sender bit floor(...); outside the frame the line is idle high. Pure, so cached: a link
    carries the same few characters at the same settings over and over."""
    n_bits = len(bits)
    den16 = 16 * den
    noise = False

    def sample(k: int) -> int:
        nonlocal noise
        ones = 0
        for s in _SAMPLE_SIXTEENTHS:
            i = (16 * k + s) * num // den16
            ones += bits[i] if i < n_bits else 1
        if ones % 3:
            noise = True         # the three samples disagree
        return 1 if ones >= 2 else 0

    if sample(0) != 0:
        noise = True  # start bit not confirmed: hardware would drop it; report it as noise
    value = 0
    for i in range(rx_data_bits):
        value |= sample(1 + i) << i
    k = 1 + rx_data_bits
    parity_error = False
    if rx_parity != "N":
        parity_error = sample(k) != parity_bit(value, rx_data_bits, rx_parity)
        k += 1
    framing_error = sample(k) == 0
    return value, framing_error, parity_error, noise


def sample_frame(frame: UartFrame, rx_baud: float, rx_data_bits: int = 8, rx_parity: str = "N",
                 rx_stop_half_bits: int = 2) -> tuple[int, bool, bool, bool]:
    """Decode `frame` as a receiver with the given settings would.

    Returns (value, framing_error, parity_error, noise). `rx_data_bits` excludes the parity bit
    (an STM32 with M=1 and PCE=1 receives 8 data bits + parity: pass 8 and "E"/"O").
    """
    line_bits = getattr(frame, "line_bits", ())
    if not line_bits:
        return _sample_plain(frame.value, frame.data_bits, frame.parity, frame.stop_half_bits,
                             frame.is_break, frame.baud, rx_baud, rx_data_bits, rx_parity,
                             rx_stop_half_bits)
    _check_format(rx_data_bits, rx_parity, rx_stop_half_bits)
    num, den = _ratio(frame.baud, rx_baud)
    return _decode(tuple(line_bits), num, den, rx_data_bits, rx_parity)


@lru_cache(maxsize=8192)
def _sample_plain(value: int, data_bits: int, parity: str, stop_half_bits: int, is_break: bool,
                  tx_baud: float, rx_baud: float, rx_data_bits: int, rx_parity: str,
                  rx_stop_half_bits: int) -> tuple[int, bool, bool, bool]:
    """sample_frame of a frame sent as is: one cached look-up per character received (a line
    carries the same few characters between the same few settings over and over). Settings
    that are refused raise every time (an exception is not cached)."""
    _check_format(rx_data_bits, rx_parity, rx_stop_half_bits)
    num, den = _ratio(tx_baud, rx_baud)
    return _decode(_plain_bits(value, data_bits, parity, stop_half_bits, is_break), num, den,
                   rx_data_bits, rx_parity)


@lru_cache(maxsize=1024)
def frame_duration_ps(baud: float, data_bits: int = 8, parity: str = "N",
                      stop_half_bits: int = 2) -> int:
    """Length of one character at these settings, start bit to end of stop bits."""
    _check_format(data_bits, parity, stop_half_bits)
    bits = Fraction(2 + 2 * data_bits + 2 * (parity != "N") + stop_half_bits, 2)
    return round(bits * PS_PER_S / _as_fraction(baud))


@lru_cache(maxsize=1024)
def rx_complete_ps(rx_baud: float, rx_data_bits: int = 8, rx_parity: str = "N") -> int:
    """Time from the start edge to the middle of the first stop bit, where an STM32 receiver
    moves the character to DR and sets RXNE (and FE/PE/NF)."""
    bits = Fraction(1 + rx_data_bits + (rx_parity != "N")) + Fraction(1, 2)
    return round(bits * PS_PER_S / _as_fraction(rx_baud))


def take_bytes(buf: bytearray, n: int | None = None) -> bytes:
    """Remove and return up to `n` (default all) bytes from the front of a receive buffer."""
    n = len(buf) if n is None else min(n, len(buf))
    out = bytes(buf[:n])
    del buf[:n]
    return out


def receive_byte(frame: UartFrame, baud: float, data_bits: int, parity: str, stop_half_bits: int,
                 errors: list) -> int:
    """What a host-side receiver gets from `frame`: the byte, with its framing / parity / noise
    errors appended to `errors` as (end_ps, kind)."""
    value, fe, pe, nf = sample_frame(frame, baud, data_bits, parity, stop_half_bits)
    if fe or pe or nf:
        for flag, what in ((fe, "framing"), (pe, "parity"), (nf, "noise")):
            if flag:
                errors.append((frame.end_ps, what))
    return value & 0xFF
