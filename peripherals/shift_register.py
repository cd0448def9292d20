"""74HC595 / 74HC165 shift-register chains on an SPI bus without chip select (relay drivers
and relay feedback of the prepaid cabinet), and the shared SCK/MOSI/MISO net they sit on.

74HC595 (serial in, latched parallel out), followed: NXP/TI 74HC595 data sheets, function table
and logic diagram. Every SCK (SHCP) rising edge shifts DS into Q0 and Q0..Q6 one stage on; Q7S
(serial out) feeds the DS of the next chip in the chain. A rising edge on RCLK (STCP) copies the
shift register into the storage register that drives Q0..Q7. /MR low clears the shift register
(not the storage register). /OE high puts Q0..Q7 in high impedance; the board's pull-downs then
read low (relay driver inputs), which is what the outputs show.
Model: `chips` chips in a chain; the byte the SPI master sends goes MSB first, so after one
byte the MSB sits on Q7 and the LSB on Q0 of the first chip, and earlier bytes move down the
chain: the FIRST byte of an n-byte transfer ends in the LAST chip. Output k (= connections[k])
is Q(k % 8) of chip k // 8 (chip 0 is the one the MCU's MOSI reaches). GPIO inputs: 0 = RCLK,
1 = /OE (low = enabled, the default), 2 = /MR (high = run, the default).

74HC165 (parallel in, serial out), followed: NXP/TI 74HC165 data sheets, function table. While
/PL is low the parallel inputs D0..D7 load the register asynchronously (and keep following them);
with /PL high and /CE low each SCK rising edge shifts D7 out on Q7 and DS (the next chip's Q7) in.
Q7 of the first chip drives MISO (the part has no three-state output: it always drives). A
byte read after a load therefore returns chip 0's D7..D0 as bits 7..0, the next byte chip 1's,
and bytes past the end of the chain carry the level DS of the last chip is tied to
(`serial_in_level`, low by default). GPIO inputs: 0 = /PL, 1 = /CE (default low = clocking).
Parallel inputs are local receivers, one per chip: `-> relayIn#c@d` (chip c, input Dd).

`SpiSharedLines`: the SCK/MOSI/MISO net of chip-select-less devices, registered on the SPI
controller as one child (`@ spi2`) with the chains as its children. Every byte clocked by the
controller goes to every member; MISO is driven only by members with `drives_miso` (the 165:
yes, the 595: no, its Q7S is not wired to MISO), so there is no false contention.

Not modelled: SPI clock polarity/phase (whole bytes are exchanged; a mode that samples MISO after
the first shifting edge would lose D7 on real hardware), propagation delays (~20 ns), /PL pulse
width and set-up times, output drive strength.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context, History, SPIDevice
from metersim.peripherals.registry import model


class ShiftRegisterError(SetupError):
    """Bad configuration of a shift-register chain."""


def _check_chips(chips: Any) -> int:
    try:
        n = int(chips)
    except (TypeError, ValueError):
        raise ShiftRegisterError(f"chips must be a whole number, got {chips!r}") from None
    if not 1 <= n <= 64:
        raise ShiftRegisterError(f"chips must be 1..64, got {chips!r}")
    return n


@model("metersim.HC595", "metersim.ShiftRegister74HC595")
class HC595Chain(SPIDevice):
    """A chain of 74HC595 on SCK/MOSI. Outputs: connections[0 .. 8*chips-1]."""

    RCLK, OE_N, MR_N = 0, 1, 2
    drives_miso = False

    def __init__(self, ctx: Context, chips: int = 1):
        self.ctx = ctx
        self.chips = _check_chips(chips)
        self.nbits = 8 * self.chips
        self._mask = (1 << self.nbits) - 1
        self.cs_active = True          # no chip select: every SCK edge shifts
        self.shift = 0                 # shift-register stages, bit k = stage feeding output k
        self.storage = 0               # storage register (what the outputs show when enabled)
        self._pins = {self.RCLK: False, self.OE_N: False, self.MR_N: True}
        self.connections = {k: GPIO(f"Q{k}") for k in range(self.nbits)}
        self.latches: History = History()   # (time_ps, storage) of every RCLK edge
        self._fns: list[Callable[[int], None]] = []

    def outputs(self) -> dict[str, GPIO]:
        return {f"Q{k}": g for k, g in self.connections.items()}

    def on_latch(self, fn: Callable[[int], None]) -> None:
        """`fn(storage)` after every RCLK rising edge."""
        self._fns.append(fn)

    def output(self, k: int) -> bool:
        return self.connections[k].level

    # -- SPI ----------------------------------------------------------------------------------
    def set_chip_select(self, active: bool) -> None:
        pass                           # no chip select on the part

    def transmit(self, byte: int) -> int:
        out = (self.shift >> (self.nbits - 8)) & 0xFF    # what leaves Q7S of the last chip
        if self._pins[self.MR_N]:
            self.shift = ((self.shift << 8) | (byte & 0xFF)) & self._mask
        return out

    # -- pins ---------------------------------------------------------------------------------
    def on_gpio(self, pin: int, level: bool) -> None:
        if pin not in self._pins:
            self.ctx.log_once(("pin", pin), logging.WARNING,
                              "no GPIO input %d (0 = RCLK, 1 = /OE, 2 = /MR)", pin)
            return
        level = bool(level)
        was = self._pins[pin]
        self._pins[pin] = level
        if pin == self.MR_N and not level:
            self.shift = 0
        elif pin == self.RCLK and level and not was:
            self.storage = self.shift
            self.latches.append((self.ctx.clock.now_ps, self.storage))
            self._drive()
            for fn in list(self._fns):
                fn(self.storage)
        elif pin == self.OE_N and level != was:
            self._drive()

    def _drive(self) -> None:
        value = 0 if self._pins[self.OE_N] else self.storage
        for k, out in self.connections.items():
            out.set(bool(value >> k & 1))

    def reset(self) -> None:
        """The chain is not reset with the MCU: its registers hold until power goes."""

    def power_off(self) -> None:
        self.shift = self.storage = 0
        self._drive()


class _ChipInputs:
    """Local receiver `relayIn#c`: input d is D<d> of chip c."""

    def __init__(self, chain: "HC165Chain", chip: int):
        self.chain, self.chip = chain, chip

    def on_gpio(self, pin: int, level: bool) -> None:
        self.chain.set_input(self.chip * 8 + pin, level) if 0 <= pin < 8 else \
            self.chain.ctx.log_once(("d", pin), logging.WARNING, "a 74HC165 has inputs D0..D7, got D%d", pin)


@model("metersim.HC165", "metersim.ShiftRegister74HC165")
class HC165Chain(SPIDevice):
    """A chain of 74HC165 on SCK/MISO. Inputs: 0 = /PL, 1 = /CE; `#c@d` = chip c, input Dd."""

    PL_N, CE_N = 0, 1
    drives_miso = True

    def __init__(self, ctx: Context, chips: int = 1, serial_in_level: bool = False):
        self.ctx = ctx
        self.chips = _check_chips(chips)
        self.nbits = 8 * self.chips
        self._mask = (1 << self.nbits) - 1
        self.serial_in_level = bool(serial_in_level)
        self.cs_active = True
        self.inputs = [False] * self.nbits        # parallel inputs, index chip*8 + d
        self._pl_n = True
        self._ce_n = False
        self.reg = 0                               # top byte = chip 0, bit 7 = its D7 stage
        self.loads = 0

    def get_local_receiver(self, chip: int) -> _ChipInputs:
        if not 0 <= chip < self.chips:
            raise ShiftRegisterError(f"{self.ctx.name}: no chip {chip} in a chain of {self.chips}")
        return _ChipInputs(self, chip)

    def set_input(self, k: int, level: bool) -> None:
        """Parallel input k (chip k // 8, D(k % 8)); follows into the register while /PL is low."""
        if not 0 <= k < self.nbits:
            raise ShiftRegisterError(f"{self.ctx.name}: no parallel input {k} (0..{self.nbits - 1})")
        self.inputs[k] = bool(level)
        if not self._pl_n:
            self._load()

    def _parallel(self) -> int:
        value = 0
        for c in range(self.chips):
            byte = sum(1 << d for d in range(8) if self.inputs[c * 8 + d])
            value |= byte << (8 * (self.chips - 1 - c))
        return value

    def _load(self) -> None:
        self.reg = self._parallel()

    def on_gpio(self, pin: int, level: bool) -> None:
        level = bool(level)
        if pin == self.PL_N:
            if not level and self._pl_n:
                self.loads += 1
            self._pl_n = level
            if not level:
                self._load()
        elif pin == self.CE_N:
            self._ce_n = level
        else:
            self.ctx.log_once(("pin", pin), logging.WARNING,
                              "no GPIO input %d (0 = /PL, 1 = /CE; parallel inputs are #chip@D)", pin)

    # -- SPI ----------------------------------------------------------------------------------
    def set_chip_select(self, active: bool) -> None:
        pass

    def transmit(self, byte: int) -> int:
        top = self.nbits - 8
        if not self._pl_n or self._ce_n:
            # No shifting: Q7 holds D7 of chip 0 (loaded / inhibited) for all eight clocks.
            return 0xFF if self.reg >> (self.nbits - 1) & 1 else 0x00
        out = (self.reg >> top) & 0xFF
        fill = 0xFF if self.serial_in_level else 0x00
        self.reg = ((self.reg << 8) | fill) & self._mask
        return out

    def reset(self) -> None:
        """Not reset with the MCU."""


@model("metersim.SpiSharedLines")
class SpiSharedLines:
    """SCK/MOSI/MISO shared by devices without chip select; one child of the SPI controller."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.cs_active = True
        self.members: list[Any] = []

    def register_child(self, device: Any, address: Any = None) -> None:
        if not hasattr(device, "transmit"):
            raise TypeError(f"{device!r} has no transmit(byte): it cannot sit on SPI lines")
        self.members.append(device)

    def transmit(self, byte: int) -> int:
        miso = 0xFF                              # pulled up when nobody drives
        for dev in self.members:
            got = int(dev.transmit(byte)) & 0xFF
            if getattr(dev, "drives_miso", True):
                miso &= got
        return miso

    def finish_transmission(self) -> None:
        pass

    def reset(self) -> None:
        pass
