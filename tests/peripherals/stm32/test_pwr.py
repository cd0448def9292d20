"""PWR: PVD threshold crossing drives EXTI line 16 with hysteresis; DBP gates the backup domain."""

import pytest

from metersim._errors import MetersimError
from metersim.peripherals.base import Context
from metersim.peripherals.stm32.exti import STM32_EXTI
from metersim.peripherals.stm32.pwr import STM32_PWR, STM32F1_PWR

CR, CSR = 0, 4
IMR, RTSR, FTSR, PR = 0, 8, 0xC, 0x14


def setup(cls=STM32F1_PWR):
    pwr = cls(Context.standalone("pwr"))
    exti = STM32_EXTI(Context.standalone("exti"), number_of_output_lines=19)
    pwr.PVD.connect(exti, 16)
    exti.write(IMR, 4, 1 << 16)
    exti.write(RTSR, 4, 1 << 16)
    exti.write(FTSR, 4, 1 << 16)
    return pwr, exti


def test_supply_dip_below_pvd_level_raises_exti16():
    pwr, exti = setup()
    pwr.write(CR, 4, 1 << 4 | 7 << 5)          # PVDE, PLS = 2.9 V level (F1: 2.85/2.75)
    assert not pwr.read(CSR, 4) & 4
    pwr.set_supply_V(2.80)                     # above the falling threshold: nothing
    assert exti.read(PR, 4) == 0
    pwr.set_supply_V(2.70)
    assert pwr.read(CSR, 4) & 4                # PVDO
    assert exti.read(PR, 4) == 1 << 16
    exti.write(PR, 4, 1 << 16)
    pwr.set_supply_V(2.80)                     # inside the hysteresis band: still low
    assert pwr.read(CSR, 4) & 4 and exti.read(PR, 4) == 0
    pwr.set_supply_V(3.3)                      # recovered: falling edge on the line
    assert not pwr.read(CSR, 4) & 4
    assert exti.read(PR, 4) == 1 << 16


def test_pvd_disabled_reads_zero():
    pwr, exti = setup(STM32_PWR)
    pwr.set_supply_V(1.9)
    assert not pwr.read(CSR, 4) & 4 and exti.read(PR, 4) == 0
    pwr.write(CR, 4, 1 << 4)                   # enabling with VDD already low
    assert pwr.read(CSR, 4) & 4 and exti.read(PR, 4) == 1 << 16


def test_dbp_and_bad_voltage():
    pwr = STM32_PWR(Context.standalone("pwr"))
    assert not pwr.backup_writable
    pwr.write(CR, 4, pwr.read(CR, 4) | 1 << 8)
    assert pwr.backup_writable
    with pytest.raises(MetersimError, match="out of the 0..4 V range"):
        pwr.set_supply_V(5.0)
