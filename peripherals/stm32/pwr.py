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

from metersim.errors import SetupError
from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model

CR, CSR = 0x00, 0x04
PVDE, DBP, CWUF, CSBF = 1 << 4, 1 << 8, 1 << 2, 1 << 3
WUF, SBF, PVDO = 1 << 0, 1 << 1, 1 << 2

# (rising, falling) thresholds in volts, typical, indexed by PLS[2:0].
PVD_F1 = ((2.19, 2.09), (2.28, 2.18), (2.38, 2.28), (2.47, 2.37),
          (2.57, 2.47), (2.66, 2.56), (2.76, 2.66), (2.85, 2.75))
PVD_F4 = ((2.09, 1.98), (2.23, 2.12), (2.39, 2.28), (2.54, 2.44),
          (2.70, 2.59), (2.85, 2.75), (2.96, 2.85), (3.07, 2.96))


@model("Miscellaneous.STM32_PWR", "metersim.STM32_PWR", "metersim.STM32F4_PWR")
class STM32_PWR(Peripheral):
    size = 0x400
    THRESHOLDS = PVD_F4
    CR_RESET = 0x00008000          # F413: VOS = 10 (scale 2)
    CR_WRITABLE = 0x0030EFF3       # all but the CWUF/CSBF action bits and reserved bits
    CSR_WRITABLE = 0x00000F00 | (1 << 9)  # EWUPx, BRE
    CSR_FIXED = 1 << 14            # VOSRDY

    def __init__(self, ctx: Context, supply_V: float = 3.3, **kw):
        super().__init__(ctx)
        self.PVD = GPIO("PVD")
        self.supply_V = float(supply_V)
        self.reset()

    def reset(self) -> None:
        self.cr = self.CR_RESET
        self.csr = self.CSR_FIXED
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
    def read(self, offset: int, size: int) -> int:
        if offset & ~3 == CR:
            value = self.cr
        elif offset & ~3 == CSR:
            value = self.csr
        else:
            return super().read(offset, size)
        return (value >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        shift = 8 * (offset & 3)
        mask = ((1 << (8 * size)) - 1) << shift
        value = (value << shift) & mask
        if offset & ~3 == CR:
            if value & CWUF:
                self.csr &= ~WUF
            if value & CSBF:
                self.csr &= ~SBF
            self.cr = (self.cr & ~(mask & self.CR_WRITABLE)) | (value & self.CR_WRITABLE)
            if self.cr & (1 << 1):
                self.ctx.log_once("pdds", logging.INFO,
                                  "PDDS set: Standby on deep sleep is not modelled")
            self._update_pvd()
        elif offset & ~3 == CSR:
            w = mask & self.CSR_WRITABLE
            self.csr = (self.csr & ~w) | (value & w)
        else:
            super().write(offset, size, value)


@model("metersim.STM32F1_PWR")
class STM32F1_PWR(STM32_PWR):
    THRESHOLDS = PVD_F1
    CR_RESET = 0x00000000
    CR_WRITABLE = 0x000001F3       # LPDS, PDDS, PVDE, PLS, DBP
    CSR_WRITABLE = 1 << 8          # EWUP
    CSR_FIXED = 0
