"""BSP I2C, SPI, internal flash, PVD, timer and EXTI drivers through the bsp_test firmware on
the test boards (AT24C256 at I2C1 0x50, W25Q64 on SPI1 with /CS on PB12)."""

import re

import pytest

from metersim._units import PS_PER_MS

from tests.firmware.msh_session import TEST_BOARD, Msh

TARGETS = ["f413rg", "f103rb"]
# A flash area the firmware does not occupy: the F103RB's last 1 KiB page, the F413's
# 16 KiB sector 3.
FLASH_AREA = {"f413rg": 0x0800C000, "f103rb": 0x0801FC00}


@pytest.fixture(params=TARGETS)
def msh(request, firmware):
    s = Msh(TEST_BOARD[request.param], firmware(request.param, "bsp_test"), request.param)
    s.target = request.param
    return s


def test_i2c_eeprom_write_then_1_2_and_n_byte_reads(msh):
    assert msh.run("i2c w 50 01 00 11 22 33 44 55 66") == ["ok"]
    eeprom = msh.m["eeprom"]
    # During the EEPROM's internal write cycle the address is NACKed: -EIO, not a hang.
    assert msh.run("i2c wr 50 1 01 00") == ["err -5"]
    msh.emu.run_for("10ms")
    assert bytes(eeprom.mem[0x100:0x106]) == bytes.fromhex("112233445566")
    assert msh.run("i2c wr 50 1 01 00") == ["ok 11"]
    assert msh.run("i2c wr 50 2 01 01") == ["ok 22 33"]
    assert msh.run("i2c wr 50 6 01 00") == ["ok 11 22 33 44 55 66"]
    # current address read continues after the last byte read (0x0106)
    assert msh.run("i2c wr 50 1 01 03") == ["ok 44"]
    assert msh.run("i2c r 50 2") == ["ok 55 66"]


def test_i2c_nack_from_an_absent_device_is_eio(msh):
    assert msh.run("i2c r 51 1") == ["err -5"]
    assert msh.run("i2c w 51 00 00 aa") == ["err -5"]
    assert msh.run("i2c r 51 4") == ["err -5"]
    assert msh.run("i2c wr 50 1 00 00")[0].startswith("ok ")   # the bus recovered


def test_spi_reads_the_nor_jedec_id(msh):
    assert msh.run("spi 9f 00 00 00") == ["ok ff ef 40 17"]     # Winbond, W25Q64
    assert not msh.m["nor"].cs_active                           # /CS released after the call


def test_flash_program_erase_and_error_reporting(msh):
    base = FLASH_AREA[msh.target]
    addr = f"{base:x}"
    assert msh.run(f"flash r {addr} 4") == ["ok ff ff ff ff"]
    assert msh.run(f"flash p {addr} de c0 ad 0b 5a") == ["ok"]
    assert msh.run(f"flash r {addr} 6") == ["ok de c0 ad 0b 5a ff"]
    assert msh.m.sysbus.read_memory(base, 5) == bytes.fromhex("dec0ad0b5a")
    # Programming over programmed cells is refused / does not read back: an error, no silence.
    assert msh.run(f"flash p {addr} 01 02 03 04") == ["err -5"]
    t0 = msh.now_ps
    (erased,) = msh.run(f"flash e {addr}")
    assert erased.startswith("ok erased")
    # erase times: F103 page 20..40 ms, F413 16 KiB sector 250..400 ms (x32)
    low_ms, high_ms = (20, 45) if msh.target == "f103rb" else (250, 420)
    assert low_ms * PS_PER_MS <= msh.now_ps - t0 <= high_ms * PS_PER_MS
    assert msh.run(f"flash r {addr} 6") == ["ok ff ff ff ff ff ff"]
    assert msh.run("flash e 7000000") == ["err -22"]


def test_pvd_interrupt_when_the_supply_sags(msh):
    assert msh.run("pvd 7") == ["ok"]
    msh.emu.run_for("5ms")
    assert "pvd: power failing" not in msh.cap.text
    # The supply changes from inside the simulation (as a board model would change it).
    msh.m.clock.schedule(PS_PER_MS, msh.m["pwr"].set_supply_V, 2.5)
    msh.emu.run_for("5ms")
    assert msh.cap.text.count("pvd: power failing") == 1


def test_timer_callbacks_every_millisecond(msh):
    t0 = msh.now_ps
    assert msh.run("tim 50") == ["tim 50 callbacks"]
    assert 50 * PS_PER_MS <= msh.now_ps - t0 <= 53 * PS_PER_MS


def test_pin_edge_interrupts_through_exti(msh):
    assert msh.run("pin 0 0") == ["ok"]
    port = msh.m["gpioPortA"]
    msh.m.clock.schedule(PS_PER_MS, port.drive, 0, True)
    msh.m.clock.schedule(2 * PS_PER_MS, port.drive, 0, False)
    msh.emu.run_for("3ms")
    # printed from the interrupt handler, so the first one follows the idle prompt
    assert re.findall(r"edge [01]", msh.cap.text) == ["edge 1", "edge 0"]
