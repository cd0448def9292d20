"""STM32F1/F4 I2C (the "v1" I2C IP: CR1/CR2/OAR1/OAR2/DR/SR1/SR2/CCR/TRISE, FLTR on F4),
master mode, timed from CCR and PCLK1.

Followed: RM0008 §26 (STM32F10x I2C) and RM0430 §27 (STM32F413 I2C):
- §26.3.3 "I2C master mode": START sets SB (cleared by reading SR1 then writing DR with the
  address); the address byte is ACKed -> ADDR (cleared by reading SR1 then SR2; SCL is
  stretched until then), NACKed -> AF. Transmitter: TxE is set with ADDR; a DR write goes to the
  shift register when it is empty; BTF when a byte has been sent and DR is still empty (SCL
  stretched). Receiver: reception starts when ADDR is cleared; RxNE when a byte is in DR; a byte
  finishing while RxNE is still set waits in the shift register with BTF=1 (SCL stretched) until
  DR is read. ACK decides the ACK/NACK of the current byte (POS=0) or of the next byte (POS=1:
  sampled when that byte starts), so the documented 1-, 2- and N-byte read procedures behave as
  on the chip. STOP (or a repeated START) is generated after the current byte, or at once when
  no byte is in progress; a NACKed read byte ends the slave's transmission.
- §26.6.8 "Clock control register": SCL period = 2 x CCR (standard mode), 3 x CCR (fast mode,
  DUTY=0) or 25 x CCR (fast mode, DUTY=1) PCLK1 cycles; a byte plus its ACK takes 9 SCL periods;
  START and STOP each take one SCL period here.
- §26.6.6/7 SR1/SR2 and §26.4 interrupts: event interrupt (ITEVTEN) for SB, ADDR, ADD10, STOPF,
  BTF and, with ITBUFEN, TxE/RxNE; error interrupt (ITERREN) for BERR, ARLO, AF, OVR, PECERR,
  TIMEOUT, SMBALERT (rc_w0 in SR1). TxE/BTF are cleared by START/STOP.
- Outputs keep Renode's names: EventInterrupt, ErrorInterrupt (TxDMARequest/RxDMARequest exist
  but are not driven).

Devices attach with `register_child(device, address)` (7-bit address, `@ i2c1 0x50`); the device
contract is peripherals/at24c.py's: `start(read) -> bool` (optional), `write(bytes) -> bool` with
one call per data byte, `read(n) -> bytes` with one call per byte, `finish_transmission()` at
STOP. An address no device answers is NACKed (AF).

Polled firmware (why no event per byte): with neither interrupt enabled (ITEVTEN, ITERREN) and
both interrupt lines low, nothing outside the peripheral sees a step of the bus (START, address,
data byte, STOP) end at its exact instant except through the I2C registers. Such a step's end is
then a clock event that does not cut the running CPU slice short (`schedule_quiet_at`: a cut
costs the engine tens of microseconds of host time, and an EEPROM write is a step per byte);
any register access at a time after the step's end first finishes it "at" its end time (the
clock reads that time while the device takes or gives its byte, so an EEPROM's write cycle
starts where it did), and the event only runs, in time order before any later event, if nothing
came first. A pin change of a device on the bus (an EEPROM's WP, say) first finishes the steps
that ended before it too, as their events would have come first. Firmware sees the same flags
and data at the same instruction as with an event per step, and each device sees the same calls
at the same instants. The SPI model's polled frames follow the same rules: both keep the end
in a `polled.PolledEnd` and watch the devices' pins with `polled.watch_device_pins`.
Enabling an interrupt while a step is on the bus turns its end back into an ordinary event at
the same instant.
`STM32I2c.polled_fast_path = False` (per class or instance) keeps an ordinary event per step.

Not modelled: slave mode (OAR1/OAR2 stored), 10-bit addressing, multi-master arbitration
(ARLO never set), bus errors (BERR never set), SMBus/PEC, general call, clock stretching by the
device, the SCL rise time that TRISE compensates for, analog/digital filters (FLTR stored),
DMA (DMAEN/LAST stored).
"""

from __future__ import annotations

import logging
from typing import Any

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32.polled import PolledEnd, watch_device_pins
from metersim.peripherals.stm32.usart import ApbClock
from metersim._units import PS_PER_S

CR1, CR2, OAR1, OAR2, DR, SR1, SR2, CCR, TRISE, FLTR = range(0, 0x28, 4)
REGS = RegisterMap([
    Reg("CR1", CR1, 16, 0, "rw", doc="PE SMBUS SMBTYPE ENARP ENPEC ENGC NOSTRETCH START STOP ACK "
                                     "POS PEC ALERT SWRST"),
    Reg("CR2", CR2, 16, 0, "rw", doc="FREQ[5:0] ITERREN ITEVTEN ITBUFEN DMAEN LAST"),
    Reg("OAR1", OAR1, 16, 0, "rw"),
    Reg("OAR2", OAR2, 16, 0, "rw"),
    Reg("DR", DR, 16, 0, "rw"),
    Reg("SR1", SR1, 16, 0, "r", doc="SB ADDR BTF ADD10 STOPF RxNE TxE BERR ARLO AF OVR PECERR "
                                    "TIMEOUT SMBALERT"),
    Reg("SR2", SR2, 16, 0, "r", doc="MSL BUSY TRA GENCALL SMBDEFAULT SMBHOST DUALF PEC[15:8]"),
    Reg("CCR", CCR, 16, 0, "rw", doc="CCR[11:0] DUTY F/S"),
    Reg("TRISE", TRISE, 16, 0x0002, "rw"),
    Reg("FLTR", FLTR, 16, 0, "rw", doc="F4 only: DNF ANOFF"),
])

# CR1
PE, START, STOP, ACK, POS, SWRST = 1, 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 15
# CR2
ITERREN, ITEVTEN, ITBUFEN = 1 << 8, 1 << 9, 1 << 10
# SR1
SB, ADDR, BTF, ADD10, STOPF, RXNE, TXE = 1, 2, 4, 8, 16, 64, 128
BERR, ARLO, AF, OVR, PECERR, TIMEOUT, SMBALERT = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12, 1 << 14, 1 << 15
SR1_W0C = BERR | ARLO | AF | OVR | PECERR | TIMEOUT | SMBALERT
# SR2
MSL, BUSY, TRA = 1, 2, 4

_EVENTS = SB | ADDR | ADD10 | STOPF | BTF


@model("I2C.STM32F1_I2C", "I2C.STM32F4_I2C", "metersim.STM32_I2C")
class STM32I2c(Peripheral):
    size = 0x400
    polled_fast_path = True      # steps of polled firmware end in quiet events (docstring)

    def __init__(self, ctx: Context, frequency: int = 0, clock: str | None = None, **_ignored):
        super().__init__(ctx)
        self.EventInterrupt = GPIO("EventInterrupt")
        self.ErrorInterrupt = GPIO("ErrorInterrupt")
        self.TxDMARequest = GPIO("TxDMARequest")
        self.RxDMARequest = GPIO("RxDMARequest")
        self._clk = ApbClock(ctx, "PCLK", clock or "PCLK1", fallback_hz=int(frequency) or 8_000_000)
        self.children: dict[int, Any] = {}
        self._pins_watched = True  # every device's pin changes finish the ended steps first
        self._ev = None          # the step's end while an interrupt could see it
        self._end = PolledEnd(ctx)   # the quiet step on the bus and its backstop (polled.py)
        self.reset()

    def register_child(self, device: Any, address: int | None = None) -> None:
        """Attach a device at its 7-bit address (`eeprom: T @ i2c1 0x50`)."""
        if address is None:
            address = getattr(device, "address", None)
        if address is None or not 0 <= int(address) < 0x80:
            raise SetupError(f"{self.name}: an I2C device needs a 7-bit address, got {address!r}")
        if int(address) in self.children:
            raise SetupError(f"{self.name}: two devices at I2C address 0x{int(address):02x}")
        self.children[int(address)] = device
        if not watch_device_pins(device, self._before_device_pin):
            self._pins_watched = False
            self.ctx.log(logging.INFO, "cannot watch the pins of %r: an event per I2C step", device)

    def reset(self) -> None:
        end = self._end
        if end.due_ps is not None:
            # A reset comes after every step that ended before it, as those steps' events
            # would have ended the core's slice there: one from a register write (SWRST) is
            # an access like any other; one between slices (SYSRESETREQ) is at the core's time.
            cpu = getattr(self.ctx.machine, "cpu", None)
            if cpu is None or cpu.in_slice:
                end.settle()
            else:
                end.finish_until(cpu.now_ps())
        if self._ev is not None:
            self._ev.cancel()
        self._ev = None
        end.drop()
        self.regs = REGS.resets()
        self._phase = "idle"     # idle, start, sb, addr, addr_done, tx, rx, nack, stop
        self._device = None
        self._read = False
        self._dr_full = False    # transmitter: DR holds a byte not yet shifted
        self._shifting = False
        self._rx_hold = None     # receiver: a byte waiting in the shift register (BTF)
        self._rx_acked = True
        self._rx_ack_at_start = True
        self._sr1_snapshot = 0
        self._update_irq()

    # -- flags ----------------------------------------------------------------------------
    def _sr1(self, bits: int, on: bool = True) -> None:
        regs = self.regs
        regs["SR1"] = (regs["SR1"] | bits) if on else (regs["SR1"] & ~bits)
        self._update_irq()

    def _update_irq(self) -> None:
        sr1, cr2 = self.regs["SR1"], self.regs["CR2"]
        if not cr2 & (ITEVTEN | ITERREN) and not (self.EventInterrupt.level
                                                  or self.ErrorInterrupt.level):
            return                        # interrupts off and both lines low: polled firmware
        events = sr1 & _EVENTS or (cr2 & ITBUFEN and sr1 & (TXE | RXNE))
        self.EventInterrupt.set(bool(cr2 & ITEVTEN and events))
        self.ErrorInterrupt.set(bool(cr2 & ITERREN and sr1 & SR1_W0C))

    # -- timing ---------------------------------------------------------------------------
    def scl_period_ps(self) -> int:
        """SCL period from CCR and the real PCLK1 (RM0008 §26.6.8)."""
        ccr = self.regs["CCR"]
        value = ccr & 0xFFF
        if ccr & 0x8000:
            minimum = 1
            cycles = 25 * max(value, minimum) if ccr & 0x4000 else 3 * max(value, minimum)
        else:
            if value < 4:
                self.ctx.log_once("ccr", logging.WARNING, "CCR = %d in standard mode (minimum 4)", value)
            cycles = 2 * max(value, 4)
        return cycles * PS_PER_S // self._clk.hz

    def _schedule(self, scl_periods: int, fn, *args) -> None:
        """The current step ends in `scl_periods` SCL periods with `fn(*args)`: an ordinary
        event while an interrupt could see it, otherwise a quiet one (module docstring)."""
        clock = self.ctx.clock
        end_ps = clock.now_ps + scl_periods * self.scl_period_ps()
        if self._may_be_quiet():
            self._end.start(end_ps, fn, *args)
        else:
            self._ev = clock.schedule_at(end_ps, fn, *args)

    def _may_be_quiet(self) -> bool:
        return (self.polled_fast_path and self._pins_watched
                and not self.regs["CR2"] & (ITEVTEN | ITERREN)
                and not (self.EventInterrupt.level or self.ErrorInterrupt.level))

    def _before_device_pin(self) -> None:
        if self._end.due_ps is not None:
            self._end.settle()

    # -- register access ------------------------------------------------------------------
    def hot_registers(self) -> list:
        """SR1, which polled firmware spins on, SR2 and CR1 (polled for START/STOP to clear)
        are answered in C by the engine (metersim._engine.hot_regs) while no polled step's
        end has passed (finishing it needs the device) and, for SR2, when the read clears no
        ADDR. It reads _end (due_ps, settling), regs["SR1"/"SR2"/"CR1"] and _sr1_snapshot,
        and stores SR1 there.

        A DR write is made in C too when it starts nothing (`_write_dr` with the byte queued
        behind the one shifting, or only stored) in polled firmware (CR2's interrupts off,
        both lines low, no polled end passed): it reads _phase, _shifting, regs["CR2"/"SR2"],
        the lines' levels, and sets regs["DR"/"SR1"], _sr1_snapshot and _dr_full."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(SR1, "i2c_sr1", self), HotRegister(SR2, "i2c_sr2", self),
                HotRegister(CR1, "i2c_cr1", self), HotRegister(DR, "i2c_dr_write", self)]

    def read(self, offset: int, size: int) -> int:
        if self._end.due_ps is not None:
            self._end.settle()
        if offset == SR1:
            self._sr1_snapshot = self.regs["SR1"]
            return self.regs["SR1"]
        if offset == SR2:
            value = self.regs["SR2"]
            if self._sr1_snapshot & ADDR and self.regs["SR1"] & ADDR:
                self._sr1_snapshot = 0
                self._sr1(ADDR, False)
                self._addr_cleared()
            return value
        if offset == DR:
            return self._read_dr()
        name = REGS.name_at.get(offset)
        if name is None:
            return super().read(offset, size)
        return self.regs[name]

    def write(self, offset: int, size: int, value: int) -> None:
        if self._end.due_ps is not None:
            self._end.settle()
        value &= 0xFFFF
        if offset == CR1:
            self._write_cr1(value)
        elif offset == CR2:
            self.regs["CR2"] = value
            freq = value & 0x3F
            if freq and freq != self._clk.hz // 1_000_000:
                self.ctx.log_once(("freq", freq), logging.WARNING,
                                  "CR2.FREQ = %d MHz but PCLK1 is %d Hz", freq, self._clk.hz)
            self._update_irq()
            if self._end.due_ps is not None and not self._may_be_quiet():
                # an interrupt now watches the step on the bus: its end becomes an ordinary
                # event at the same instant
                end_ps, fn, args = self._end.take()
                self._end.drop()
                self._ev = self.ctx.clock.schedule_at(end_ps, fn, *args)
        elif offset == DR:
            self._write_dr(value & 0xFF)
        elif offset == SR1:
            self._sr1(SR1_W0C & ~value, False)
        elif offset == SR2:
            pass                               # read-only
        elif offset in (OAR1, OAR2, CCR, TRISE, FLTR):
            self.regs[REGS[offset].name] = value
        else:
            super().write(offset, size, value)

    def _write_cr1(self, value: int) -> None:
        old = self.regs["CR1"]
        if value & SWRST:
            self.reset()
            self.regs["CR1"] = SWRST
            return
        # START/STOP set by software stay set until the hardware acts on them.
        self.regs["CR1"] = value
        if old & PE and not value & PE:
            # PE=0 releases the lines and clears the flags and START/STOP; the configuration
            # registers (CR2, CCR, TRISE, OAR) are kept.
            if self._ev is not None:
                self._ev.cancel()
                self._ev = None
            self._end.drop()
            self._finish_device()
            keep = {n: self.regs[n] for n in ("CR2", "OAR1", "OAR2", "CCR", "TRISE", "FLTR")}
            self.reset()
            self.regs.update(keep)
            self.regs["CR1"] = value & ~(START | STOP)
            self._update_irq()
            return
        if not value & PE:
            return
        if value & START and not old & START:
            self._request_start()
        if value & STOP and not old & STOP:
            self._request_stop()

    # -- master state machine -------------------------------------------------------------
    def _request_start(self) -> None:
        if self._phase == "idle":
            self._phase = "start"
            self.regs["SR2"] |= BUSY
            self._schedule(1, self._start_done)
        elif self._phase in ("addr_done", "nack") or (
                self._phase in ("tx", "rx") and not self._shifting):
            self._repeated_start()
        # otherwise: after the byte in progress (checked in _byte_done)

    def _repeated_start(self) -> None:
        self._phase = "start"
        self._sr1(TXE | BTF, False)
        self._schedule(1, self._start_done)

    def _start_done(self) -> None:
        self._ev = None
        self.regs["CR1"] &= ~START
        self.regs["SR2"] |= MSL | BUSY
        self._phase = "sb"
        self._sr1(SB, True)

    def _request_stop(self) -> None:
        if self._phase in ("idle", "stop", "start"):
            if self._phase == "idle":
                self.regs["CR1"] &= ~STOP
            return
        if self._phase == "addr_done" and self._read:
            return       # receiver: STOP after the byte that starts when ADDR is cleared
        if self._phase in ("sb", "addr_done", "nack") or not self._shifting:
            self._generate_stop()
        # otherwise: after the byte in progress

    def _generate_stop(self) -> None:
        self._phase = "stop"
        self._sr1(TXE | BTF, False)
        self._schedule(1, self._stop_done)

    def _stop_done(self) -> None:
        self._ev = None
        self.regs["CR1"] &= ~STOP
        self.regs["SR2"] &= ~(MSL | BUSY | TRA)
        self._phase = "idle"
        self._finish_device()
        if self.regs["CR1"] & START:
            self._request_start()

    def _finish_device(self) -> None:
        dev, self._device = self._device, None
        if dev is not None and hasattr(dev, "finish_transmission"):
            dev.finish_transmission()

    def _write_dr(self, value: int) -> None:
        clear = self._sr1_snapshot & BTF
        self._sr1_snapshot = 0
        self.regs["DR"] = value
        if self._phase == "sb":
            self._sr1(SB, False)
            if value & 1 == 0 and (value >> 3) == 0b11110:
                self.ctx.log_once("10bit", logging.WARNING, "10-bit addressing is not modelled")
            self._phase = "addr"
            self._shifting = True
            self._schedule(9, self._addr_done, value >> 1, bool(value & 1))
            return
        if clear:
            self._sr1(BTF, False)
        if self._phase in ("tx", "addr_done") and self.regs["SR2"] & TRA:
            self._dr_full = True
            self._sr1(TXE, False)
            self._tx_next()

    def _addr_done(self, address: int, read: bool) -> None:
        self._ev = None
        self._shifting = False
        dev = self.children.get(address)
        ack = dev is not None
        if dev is not None and hasattr(dev, "start"):
            ack = bool(dev.start(read))
        if not ack:
            self.ctx.log(logging.DEBUG, "address 0x%02x NACKed", address)
            self._phase = "nack"
            self._sr1(AF, True)
        else:
            self._device = dev
            self._read = read
            self._phase = "addr_done"
            if read:
                self.regs["SR2"] &= ~TRA
                self._sr1(ADDR, True)
            else:
                self.regs["SR2"] |= TRA
                self._sr1(ADDR | TXE, True)
        self._pending_after_byte()

    def _addr_cleared(self) -> None:
        if self._phase != "addr_done":
            return
        if self._read:
            self._phase = "rx"
            self._rx_start_byte()
        else:
            self._phase = "tx"
            self._tx_next()

    # transmitter
    def _tx_next(self) -> None:
        if self._phase != "tx" or self._shifting or not self._dr_full:
            return
        self._dr_full = False
        self._shifting = True
        self._sr1(BTF, False)
        self._sr1(TXE, True)              # DR moved to the shift register
        self._schedule(9, self._tx_done, self.regs["DR"])

    def _tx_done(self, byte: int) -> None:
        self._ev = None
        self._shifting = False
        ok = self._device.write(bytes([byte])) if self._device is not None else False
        if ok is False:
            self._phase = "nack"
            self._sr1(AF, True)
        elif not self._pending_after_byte():
            if self._dr_full:
                self._tx_next()
            else:
                self._sr1(BTF, True)

    # receiver
    def _rx_start_byte(self) -> None:
        self._shifting = True
        self._rx_ack_at_start = bool(self.regs["CR1"] & ACK)
        self._schedule(9, self._rx_done)

    def _rx_done(self) -> None:
        self._ev = None
        self._shifting = False
        data = self._device.read(1) if self._device is not None else b""
        byte = data[0] if data else 0xFF
        cr1 = self.regs["CR1"]
        self._rx_acked = self._rx_ack_at_start if cr1 & POS else bool(cr1 & ACK)
        if self.regs["SR1"] & RXNE:
            self._rx_hold = byte
            self._sr1(BTF, True)          # DR and shift register full: SCL stretched
        else:
            self.regs["DR"] = byte
            self._sr1(RXNE, True)
        if self._pending_after_byte():
            return
        if not self._rx_acked:
            self._phase = "nack"          # the slave stops sending after a NACK
        elif self._rx_hold is None:
            self._rx_start_byte()

    def _read_dr(self) -> int:
        value = self.regs["DR"]
        clear = self._sr1_snapshot & BTF
        self._sr1_snapshot = 0
        if self._rx_hold is not None:
            self.regs["DR"] = self._rx_hold
            self._rx_hold = None
            self._sr1(BTF, False)
            if self._phase == "rx" and self._rx_acked and not self._shifting:
                self._rx_start_byte()
        else:
            self._sr1(RXNE | (BTF if clear else 0), False)
        return value

    def _pending_after_byte(self) -> bool:
        """Act on a STOP/START written while a byte was on the bus. True if one was generated."""
        cr1 = self.regs["CR1"]
        if self._shifting or self._phase in ("addr_done", "sb"):
            return False
        if cr1 & STOP:
            self._generate_stop()
            return True
        if cr1 & START and self._phase != "start":
            self._repeated_start()
            return True
        return False
