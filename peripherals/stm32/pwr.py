"""STM32 power control (PWR) at 0x40007000: PVD, backup-domain write protection, flags.

F4 (Renode's `Miscellaneous.STM32_PWR`, `metersim.STM32F4_PWR`), RM0430 §5.4: CR (LPDS, PDDS,
CWUF, CSBF, PVDE, PLS[2:0], DBP, FPDS, LPLVDS, MRLVDS, ADCDC1, VOS, ...), CSR (WUF, SBF, PVDO,
BRR, EWUP1-3, BRE, VOSRDY). F1 (`metersim.STM32F1_PWR`), RM0008 §5.4: CR (LPDS, PDDS, CWUF,
CSBF, PVDE, PLS, DBP), CSR (WUF, SBF, PVDO, EWUP).

The supply voltage is set from Python with `set_supply_V(v)` (default 3.3 V). With PVDE set,
PVDO = 1 while VDD is below the selected threshold, with the datasheet hysteresis: the
falling threshold applies while VDD is above, the rising one while below (typical values,
DS5319 Table 12 for F1, DS11581 Table 'PVD characteristics' for F4). PVDO is also the `PVD`
output, wired to EXTI line 16 (`PVD -> exti@16`), so crossing the threshold downwards is a
rising edge on the line and upwards a falling edge, as RM0008 §5.2.2 describes.

`backup_writable` is CR.DBP: RCC_BDCR, RTC and backup registers refuse writes without it.
CWUF/CSBF clear WUF/SBF. VOSRDY reads 1 (the regulator is always ready here).

Not modelled: Sleep/Stop/Standby entry (the engine handles WFI), wake-up pins, the backup
regulator, brown-out reset levels, and power-on/power-down reset from the supply voltage.
"""

from __future__ import annotations

import logging

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap

CR, CSR = 0x00, 0x04
PVDE, DBP, CWUF, CSBF = 1 << 4, 1 << 8, 1 << 2, 1 << 3
WUF, SBF, PVDO = 1 << 0, 1 << 1, 1 << 2

_CR_COMMON = (
    Field("LPDS", 0, doc="low-power deep sleep (stored)"),
    Field("PDDS", 1, doc="Standby on deep sleep (logged: not modelled)"),
    Field("CWUF", 2, access="w", doc="1 clears CSR.WUF"),
    Field("CSBF", 3, access="w", doc="1 clears CSR.SBF"),
    Field("PVDE", 4, doc="PVD enable"),
    Field("PLS", 5, 3, doc="PVD level"),
    Field("DBP", 8, doc="backup domain writable"),
)
_CSR_COMMON = (
    Field("WUF", 0, access="r", doc="wake-up flag"),
    Field("SBF", 1, access="r", doc="standby flag"),
    Field("PVDO", 2, access="r", doc="VDD below the PVD threshold"),
)


def _registers(cr: tuple, csr: tuple, title: str) -> RegisterMap:
    return RegisterMap([Reg("CR", CR, 32, fields=_CR_COMMON + cr, on_write="_cr_written"),
                        Reg("CSR", CSR, 32, fields=_CSR_COMMON + csr)], title=title)


F4_REGISTERS = _registers(
    (Field("FPDS", 9, doc="flash power-down in Stop (stored)"),
     Field("LPLVDS", 10, doc="stored"), Field("MRLVDS", 11, doc="stored"),
     Field("ADCDC1", 13, doc="stored"), Field("VOS", 14, 2, reset=2, doc="regulator scale"),
     Field("FMSSR", 20, doc="stored"), Field("FISSR", 21, doc="stored")),
    (Field("BRR", 3, access="r", doc="backup regulator ready (reads 0)"),
     Field("EWUP_BRE", 8, 4, doc="wake-up pin enables and backup regulator enable (stored)"),
     Field("VOSRDY", 14, access="r", reset=1, doc="regulator ready: always")),
    "STM32F4 power control (RM0430 §5.4)")
F1_REGISTERS = _registers((), (Field("EWUP", 8, doc="wake-up pin enable (stored)"),),
                          "STM32F1 power control (RM0008 §5.4)")

# (rising, falling) thresholds in volts, typical, indexed by PLS[2:0].
PVD_F1 = ((2.19, 2.09), (2.28, 2.18), (2.38, 2.28), (2.47, 2.37),
          (2.57, 2.47), (2.66, 2.56), (2.76, 2.66), (2.85, 2.75))
PVD_F4 = ((2.09, 1.98), (2.23, 2.12), (2.39, 2.28), (2.54, 2.44),
          (2.70, 2.59), (2.85, 2.75), (2.96, 2.85), (3.07, 2.96))


@model("Miscellaneous.STM32_PWR", "metersim.STM32_PWR", "metersim.STM32F4_PWR")
class STM32_PWR(Peripheral):
    size = 0x400
    THRESHOLDS = PVD_F4
    registers = F4_REGISTERS

    def __init__(self, ctx: Context, supply_V: float = 3.3, **kw):
        super().__init__(ctx)
        self.PVD = GPIO("PVD")
        self.supply_V = float(supply_V)
        self.reset()

    def reset(self) -> None:
        self.reset_registers()
        self._update_pvd()

    # -- Python side ------------------------------------------------------------------------------
    def set_supply_V(self, volts: float) -> None:
        """Set VDD (volts); PVDO and the EXTI16 line follow at once."""
        if not 0.0 <= volts <= 4.0:
            raise SetupError(f"{self.name}: supply {volts} V out of the 0..4 V range "
                             "(absolute maximum VDD is 4.0 V)")
        self.supply_V = float(volts)
        self._update_pvd()

    @property
    def backup_writable(self) -> bool:
        return bool(self.cr & DBP)

    def pvd_thresholds_V(self) -> tuple[float, float]:
        """(rising, falling) thresholds of the current PLS setting."""
        return self.THRESHOLDS[(self.cr >> 5) & 7]

    def _update_pvd(self) -> None:
        below = False
        if self.cr & PVDE:
            rising, falling = self.pvd_thresholds_V()
            was_below = bool(self.csr & PVDO)
            below = self.supply_V < (rising if was_below else falling)
        self.csr = (self.csr | PVDO) if below else (self.csr & ~PVDO)
        self.PVD.set(below)

    # -- bus -----------------------------------------------------------------------------------------
    def _cr_written(self, _old: int, value: int) -> None:
        if value & CWUF:
            self.csr &= ~WUF
        if value & CSBF:
            self.csr &= ~SBF
        if self.cr & (1 << 1):
            self.ctx.log_once("pdds", logging.INFO,
                              "PDDS set: Standby on deep sleep is not modelled")
        self._update_pvd()


@model("metersim.STM32F1_PWR")
class STM32F1_PWR(STM32_PWR):
    THRESHOLDS = PVD_F1
    registers = F1_REGISTERS
