"""Device signature (unique ID, flash size) and DBGMCU IDCODE as firmware reads them."""

import pytest

from metersim._engine.clock import Clock
from metersim._errors import MetersimError
from metersim.peripherals.base import Context
from metersim.peripherals.stm32.ids import STM32_DBGMCU, STM32_DeviceSignature


def sig(name="sig", seed=0, **kw):
    return STM32_DeviceSignature(Context(Clock(), name=name, machine_name="m", seed=seed), **kw)


def test_f1_layout_flash_size_and_uid():
    s = sig(series="F1", flash_size_kib=128, uid=0x0102030405060708090A0B0C)
    assert s.read(0x00, 2) == 128                           # F_SIZE at 0x1FFFF7E0
    assert s.read(0x08, 4) == 0x090A0B0C                    # U_ID[31:0] at 0x1FFFF7E8
    assert s.read(0x10, 4) == 0x01020304


def test_f4_layout():
    s = sig(series="STM32Series.F4", flash_size_kib=1024, uid=bytes(range(1, 13)))
    assert s.read(0x12, 2) == 1024                          # F_SIZE at 0x1FFF7A22
    assert s.read(0x00, 4) == 0x04030201                    # U_ID at 0x1FFF7A10


def test_generated_uid_is_deterministic_and_distinct():
    a1, a2, b = sig(seed=1), sig(seed=1), sig(name="other", seed=1)
    assert a1.uid == a2.uid
    assert a1.uid != b.uid
    assert a1.uid[5:].decode("ascii").isalnum()             # lot number characters


def test_idcode_values_and_errata_option():
    ctx = Context.standalone("dbg")
    assert STM32_DBGMCU(ctx, part="F103MD").read(0, 4) == 0x20030410
    assert STM32_DBGMCU(ctx, part="F103HD").read(0, 4) & 0xFFF == 0x414
    assert STM32_DBGMCU(ctx, part="F413").read(0, 4) == 0x10000463
    d = STM32_DBGMCU(ctx, part="F103MD", idcode_needs_debugger=True)
    assert d.read(0, 4) == 0
    d.debugger_attached = True
    assert d.read(0, 4) == 0x20030410


def test_bad_arguments():
    with pytest.raises(MetersimError):
        sig(series="F7")
    with pytest.raises(MetersimError):
        STM32_DBGMCU(Context.standalone("d"), part="F999")
