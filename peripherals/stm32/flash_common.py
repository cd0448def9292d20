"""Shared parts of the F1 and F4 flash interfaces: key unlocking, a busy queue in virtual time,
flash content access through the machine's sysbus, wait-state checks, image save/load."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.regmap import Field, Reg
from metersim.peripherals.stm32 import clock_tree, sysbus

KEY1, KEY2 = 0x45670123, 0xCDEF89AB


def key_registers(keyr: int, optkeyr: int) -> list[Reg]:
    """KEYR and OPTKEYR: write-only key registers, the same on F1 and F4."""
    return [Reg("KEYR", keyr, 32, fields=(Field("KEY", 0, 32, "w", doc="0x45670123 then "
                                                "0xCDEF89AB unlocks FLASH_CR"),),
                on_write="_keyr_written"),
            Reg("OPTKEYR", optkeyr, 32, fields=(Field("OPTKEY", 0, 32, "w",
                                                      doc="option-byte unlock keys"),),
                on_write="_optkeyr_written")]


class KeyLock:
    """Two-key unlock sequence; a wrong key locks until reset (RM0008 §3.3.3 / RM0430 §3.5.1)."""

    def __init__(self, key1: int, key2: int):
        self.keys = (key1, key2)
        self.locked = True
        self.step = 0
        self.jammed = False

    def write(self, value: int) -> bool:
        """Feed a key; returns False when the sequence was wrong (bus error on the chip)."""
        if self.jammed or not self.locked:
            self.jammed = True
            self.locked = True
            return False
        if value == self.keys[self.step]:
            self.step += 1
            if self.step == 2:
                self.locked, self.step = False, 0
            return True
        self.jammed, self.step = True, 0
        return False

    def lock(self) -> None:
        self.locked, self.step = True, 0

    def reset(self) -> None:
        self.locked, self.step, self.jammed = True, 0, False


class FlashBase(Peripheral):
    size = 0x400
    # (max HCLK in Hz for 0, 1, 2 ... wait states), per family.
    WAIT_STATE_LIMITS: tuple[int, ...] = ()
    LOCK = 0                       # FLASH_CR.LOCK, per family

    def __init__(self, ctx: Context, flash_base: int, flash_size: int):
        super().__init__(ctx)
        if flash_size <= 0:
            raise SetupError(f"{ctx.name}: flash size must be positive, got {flash_size}")
        self.flash_base = int(flash_base)
        self.flash_size = int(flash_size)
        self.IRQ = GPIO("IRQ")
        self._queue_end_ps = 0
        self._ops = 0
        self._events: list = []
        clock_tree(ctx).subscribe("HCLK", lambda hz: self.check_latency())

    # -- registers -----------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        value = super().read(offset, size)
        # BSY ends in a scheduled event: a wait loop on SR may skip ahead to it.
        return self.poll_hint(value) if offset in self._slots else value

    def _busy_value(self) -> int:
        return int(self.busy)

    def _keyr_written(self, _old: int, value: int) -> None:
        if not self.keys.write(value):
            self.ctx.log(logging.WARNING, "wrong FLASH_KEYR sequence: FLASH_CR locked until reset")
        self.cr = (self.cr & ~self.LOCK) if not self.keys.locked else (self.cr | self.LOCK)

    def _acr_written(self, _old: int, _value: int) -> None:
        self.check_latency()

    # -- flash content ------------------------------------------------------------------------
    def to_offset(self, address: int) -> int | None:
        """Offset into the flash array for an address in the main range or the boot alias."""
        for base in (self.flash_base, 0):
            if base <= address < base + self.flash_size:
                return address - base
        return None

    def read_flash(self, offset: int, n: int) -> bytes:
        return bytes(sysbus(self.ctx).read_memory(self.flash_base + offset, n))

    def write_flash(self, offset: int, data: bytes) -> None:
        sysbus(self.ctx).write_memory(self.flash_base + offset, bytes(data))

    def save_image(self, path: str | os.PathLike) -> None:
        """Write the whole flash array to a raw image file."""
        Path(path).write_bytes(self.read_flash(0, self.flash_size))

    def load_image(self, path: str | os.PathLike) -> None:
        """Load a raw image (at most the flash size; the rest is left erased as 0xFF)."""
        data = Path(path).read_bytes()
        if len(data) > self.flash_size:
            raise SetupError(f"{self.name}: image {path} has {len(data)} bytes, more than the "
                             f"{self.flash_size}-byte flash")
        self.write_flash(0, data + b"\xff" * (self.flash_size - len(data)))

    # -- busy queue ------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._ops > 0

    def start(self, duration_ps: int, done: Callable[[], None]) -> None:
        """Run `done` after `duration_ps`, behind any operation already in progress (the bus
        stalls a second access until the first finishes)."""
        now = self.ctx.clock.now_ps
        t = max(now, self._queue_end_ps) + int(duration_ps)
        self._queue_end_ps = t
        self._ops += 1
        self._events.append(self.ctx.clock.schedule_at(t, self._finish, done))

    def _finish(self, done: Callable[[], None]) -> None:
        self._ops -= 1
        done()
        self.update_irq()

    def cancel_all(self) -> None:
        for ev in self._events:
            ev.cancel()
        self._events.clear()
        self._ops = 0
        self._queue_end_ps = 0

    def update_irq(self) -> None:
        raise NotImplementedError

    # -- wait states ----------------------------------------------------------------------------
    def latency(self) -> int:
        raise NotImplementedError

    def check_latency(self) -> None:
        hclk = clock_tree(self.ctx).rate_hz("HCLK")
        ws = self.latency()
        if self.WAIT_STATE_LIMITS and ws < len(self.WAIT_STATE_LIMITS) \
                and hclk > self.WAIT_STATE_LIMITS[ws]:
            self.ctx.log_once(("latency", ws, hclk), logging.WARNING,
                              "HCLK %d Hz needs more than %d flash wait states "
                              "(FLASH_ACR.LATENCY): the chip would read corrupt instructions",
                              hclk, ws)
