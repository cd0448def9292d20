"""The MPU register model and its permission rules (ARMv7-M B3.5), without firmware."""

import pytest

from metersim.peripherals.cortexm.mpu import MPU, R, RWX, W, X, default_rights

RBAR, RASR, CTRL, RNR, TYPE = 0x0C, 0x10, 0x04, 0x08, 0x00
ENABLE, HFNMIENA, PRIVDEFENA = 1, 2, 4


def rasr(size_log2, ap, xn=False, srd=0):
    return (xn << 28) | (ap << 24) | (srd << 8) | ((size_log2 - 1) << 1) | 1


def region(mpu, n, base, value):
    mpu.write(RBAR, base | 0x10 | n)
    mpu.write(RASR, value)


def test_type_and_registers_read_back():
    mpu = MPU(8)
    assert mpu.read(TYPE) == 0x800
    region(mpu, 3, 0x20001000, rasr(12, 0b011))
    assert mpu.read(RNR) == 3                              # RBAR.VALID selected region 3
    assert mpu.read(RBAR) == 0x20001000 | 3
    assert mpu.read(RASR) == rasr(12, 0b011)
    mpu.write(RNR, 0)
    assert mpu.read(RASR) == 0
    mpu.write(0x14, 0x20002000 | 0x10 | 5)                 # RBAR_A1 / RASR_A1
    mpu.write(0x18, rasr(10, 0b110))
    assert mpu.read(RNR) == 5 and mpu.read(0x20) == rasr(10, 0b110)
    mpu.write(0x24, 0x20003000 | 0x10 | 7)                 # RBAR_A3 / RASR_A3 (0xEDB4/0xEDB8)
    mpu.write(0x28, rasr(12, 0b011))
    assert mpu.read(RNR) == 7 and mpu.read(RASR) == rasr(12, 0b011)


def test_a_core_without_mpu_reads_zero_and_ignores_writes():
    mpu = MPU(0)
    mpu.write(CTRL, ENABLE)
    assert mpu.read(TYPE) == 0 and mpu.read(CTRL) == 0
    assert mpu.rights(0x20000000, privileged=False) == RWX


def test_disabled_mpu_is_the_default_map():
    mpu = MPU(8)
    region(mpu, 0, 0x20000000, rasr(12, 0b000))
    assert mpu.rights(0x20000000, privileged=False) == RWX   # CTRL.ENABLE clear
    assert default_rights(0x40000000) == R | W               # peripherals: execute never
    assert default_rights(0xE000E000) == R | W


@pytest.mark.parametrize("ap, priv, user", [
    (0b000, 0, 0), (0b001, R | W | X, 0), (0b010, R | W | X, R | X), (0b011, RWX, RWX),
    (0b101, R | X, 0), (0b110, R | X, R | X), (0b111, R | X, R | X), (0b100, 0, 0)])
def test_access_permissions(ap, priv, user):
    mpu = MPU(8)
    region(mpu, 0, 0x20000000, rasr(12, ap))
    mpu.write(CTRL, ENABLE)
    assert mpu.rights(0x20000010, privileged=True) == priv
    assert mpu.rights(0x20000010, privileged=False) == user


def test_execute_never_sizes_and_base_alignment():
    mpu = MPU(8)
    region(mpu, 0, 0x20000040, rasr(5, 0b011, xn=True))            # 32 B
    region(mpu, 2, 0x20001120, rasr(10, 0b110))                     # 1 KiB: base aligned down
    mpu.write(CTRL, ENABLE)
    assert mpu.rights(0x2000003F, False) == 0
    assert mpu.rights(0x20000040, False) == R | W
    assert mpu.rights(0x2000005F, False) == R | W
    assert mpu.rights(0x20000060, False) == 0                      # just past 32 bytes
    assert mpu.rights(0x20001000, False) == R | X
    region(mpu, 1, 0, rasr(32, 0b011))                              # 4 GiB
    assert mpu.rights(0xDFFFFFFC, False) == RWX


def test_subregions_and_overlap_priority():
    mpu = MPU(8)
    region(mpu, 1, 0x20000000, rasr(13, 0b011, srd=0b10000001))    # 8 KiB, 1 KiB sub-regions
    region(mpu, 2, 0x20000400, rasr(10, 0b110))                     # inside sub-region 1: RO
    mpu.write(CTRL, ENABLE)
    assert mpu.rights(0x20000000, False) == 0          # sub-region 0 disabled, no background
    assert mpu.rights(0x20000800, False) == RWX
    assert mpu.rights(0x20000400, False) == R | X      # region 2 beats region 1
    assert mpu.rights(0x20001C00, False) == 0          # sub-region 7 disabled
    region(mpu, 0, 0x20000000, rasr(16, 0b001))        # a lower number never wins
    assert mpu.rights(0x20000800, False) == RWX
    assert mpu.rights(0x20000000, True) == RWX and mpu.rights(0x20000000, False) == 0


def test_privileged_default_map_and_negative_priority():
    mpu = MPU(8)
    region(mpu, 0, 0x20000000, rasr(10, 0b011))
    mpu.write(CTRL, ENABLE)
    assert mpu.rights(0x40020000, True) == 0                       # no region, no PRIVDEFENA
    mpu.write(CTRL, ENABLE | PRIVDEFENA)
    assert mpu.rights(0x40020000, True) == R | W
    assert mpu.rights(0x40020000, False) == 0
    assert mpu.rights(0xE000ED00, False) == R | W                  # the PPB: default map always
    region(mpu, 1, 0x20000400, rasr(10, 0b000))
    assert mpu.rights(0x20000400, True, negative_priority=True) == RWX   # HardFault, no HFNMIENA
    mpu.write(CTRL, ENABLE | PRIVDEFENA | HFNMIENA)
    assert mpu.rights(0x20000400, True, negative_priority=True) == 0


def test_page_rights_tell_uniform_pages_from_mixed_ones():
    mpu = MPU(8)
    region(mpu, 0, 0x20000000, rasr(16, 0b011))
    region(mpu, 1, 0x20000800, rasr(8, 0b000))                     # 256 B inside one page
    mpu.write(CTRL, ENABLE)
    assert mpu.page_rights(0x20000000, False) == (RWX, RWX)
    assert mpu.page_rights(0x20000400, False) == (RWX, RWX)
    assert mpu.page_rights(0x20000800, False) == (0, RWX)          # mixed: checked per access
    assert mpu.page_rights(0x30000000, False) == (0, 0)


def test_writes_report_changes_and_bad_regions_are_refused():
    changes = []
    mpu = MPU(8, on_change=lambda spans: changes.append(spans))
    changes.clear()                       # (the reset at construction counts too)
    mpu.write(CTRL, ENABLE)
    mpu.write(RNR, 2)                     # selecting a region changes no permission
    region(mpu, 1, 0x20000000, rasr(10, 0b011))   # RBAR of a region still off: no change
    assert changes == [None, [(0x20000000, 0x20000400)]]       # CTRL: anywhere; RASR: its span
    region(mpu, 1, 0x20000000, rasr(10, 0b011))   # an RTOS rewriting the same region
    mpu.write(CTRL, ENABLE)
    assert len(changes) == 2
    mpu.write(RBAR, 0x20000000 | 0x10 | 9)   # region 9 of 8: ignored
    assert mpu.read(RNR) == 1
    with pytest.raises(ValueError):
        MPU(7)
