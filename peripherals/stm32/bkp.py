"""STM32F1 backup registers (BKP): data registers, RTC calibration register, tamper pin.

Followed: RM0008 §6 (backup registers):
- §6.4 register map: DR1-DR10 at 0x04-0x28 (all F1 parts), RTCCR 0x2C, CR 0x30, CSR 0x34,
  DR11-DR42 at 0x40-0xBC (high-density parts such as the F103RC: `data_registers=42`; medium
  density such as the F103RB has 10). Data registers are 16 bits in 32-bit slots.
- §6.3.3 tamper detection: with TPE=1, the TAMPER pin (GPIO input 0) going to its active level
  (high when TPAL=0, low when TPAL=1) - or already being there when TPE is set - sets TEF and
  clears all data registers; TIF and the TAMPER interrupt follow when TPIE=1. CTE clears TEF,
  CTI clears TIF; while TEF is set the data registers stay cleared.
- Backup domain: the registers survive a system reset (`reset()` keeps them);
  `backup_domain_reset()` (RCC BDRST / power-on) clears them.

Not modelled: PWR_CR.DBP write protection, the RTC clock calibration (RTCCR stored: CAL, CCO,
ASOE, ASOS), the RTC alarm/second output on the TAMPER pin.
"""

from __future__ import annotations

from functools import lru_cache

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap

RTCCR, CR, CSR = 0x2C, 0x30, 0x34
TPE, TPAL = 1, 2
CTE, CTI, TPIE, TEF, TIF = 1, 2, 4, 1 << 8, 1 << 9


def _dr_offset(n: int) -> int:
    """Offset of data register DRn (1-based)."""
    return 0x04 + 4 * (n - 1) if n <= 10 else 0x40 + 4 * (n - 11)


@lru_cache(maxsize=None)
def bkp_registers(data_registers: int) -> RegisterMap:
    """The BKP's registers with DR1..DR`data_registers`."""
    drs = [Reg(f"DR{n}", _dr_offset(n), 32, fields=(Field("D", 0, 16, doc="backup data"),),
               on_write="_dr_written") for n in range(1, data_registers + 1)]
    return RegisterMap(drs + [
        Reg("RTCCR", RTCCR, 32, doc="RTC clock calibration (stored)",
            fields=(Field("CAL", 0, 7), Field("CCO", 7), Field("ASOE", 8), Field("ASOS", 9))),
        Reg("CR", CR, 32, on_write="_cr_written",
            fields=(Field("TPE", 0, doc="tamper pin enable"),
                    Field("TPAL", 1, doc="tamper pin active low"))),
        Reg("CSR", CSR, 32, on_write="_csr_written",
            fields=(Field("CTE", 0, access="w", doc="1 clears TEF"),
                    Field("CTI", 1, access="w", doc="1 clears TIF"),
                    Field("TPIE", 2, doc="tamper interrupt enable"),
                    Field("TEF", 8, access="r", doc="tamper event: data registers held at 0"),
                    Field("TIF", 9, access="r", doc="tamper interrupt"))),
    ], title=f"STM32F1 backup registers, {data_registers} data registers (RM0008 §6.4)")


@model("metersim.STM32F1_BKP")
class STM32F1Bkp(Peripheral):
    size = 0x400
    registers = bkp_registers(10)        # data_registers decides, per instance

    def __init__(self, ctx: Context, data_registers: int = 10, **_ignored):
        if int(data_registers) not in (10, 42):
            raise SetupError(f"{ctx.name}: F1 parts have 10 or 42 backup data registers, "
                             f"got {data_registers}")
        self.n = int(data_registers)
        self.registers = bkp_registers(self.n)
        super().__init__(ctx)
        self.IRQ = GPIO("IRQ")                 # TAMPER interrupt
        self.tamper_pin = False
        self.backup_domain_reset()

    def backup_domain_reset(self) -> None:
        self.reset_registers()
        self._update_irq()

    def reset(self) -> None:
        """System reset: the backup domain keeps everything."""

    def _tamper_active(self) -> bool:
        return self.tamper_pin != bool(self.cr & TPAL)

    def _clear_data(self) -> None:
        for n in range(1, self.n + 1):
            setattr(self, f"dr{n}", 0)

    def _tamper_event(self) -> None:
        self._clear_data()
        self.csr |= TEF | (TIF if self.csr & TPIE else 0)
        self._update_irq()

    def _update_irq(self) -> None:
        self.IRQ.set(bool(self.csr & TIF and self.csr & TPIE))

    def on_gpio(self, pin: int, level: bool) -> None:
        """Input 0: the TAMPER pin."""
        if pin != 0:
            return
        was = self._tamper_active()
        self.tamper_pin = bool(level)
        if self.cr & TPE and self._tamper_active() and not was:
            self._tamper_event()

    # -- bus -----------------------------------------------------------------------------------------
    def _dr_written(self, _old: int, _value: int) -> None:
        if self.csr & TEF:                     # held in reset while the tamper event flag is set
            self._clear_data()

    def _cr_written(self, old: int, _value: int) -> None:
        if self.cr & TPE and not old & TPE and self._tamper_active():
            self._tamper_event()               # pin already active when TPE is set

    def _csr_written(self, _old: int, value: int) -> None:
        if value & CTE:
            self.csr &= ~TEF
        if value & CTI:
            self.csr &= ~TIF
        self._update_irq()
