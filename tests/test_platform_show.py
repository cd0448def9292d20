"""`metersim platform show`: the per-peripheral report of a .repl."""

import re
from pathlib import Path

from metersim._platform_show import main, show_platform

UPSTREAM = Path("/work/shared/renode-upstream")
F4 = UPSTREAM / "platforms/cpus/stm32f4.repl"


class FakeNvic:
    size = 0x1000


def fake_lookup(type_name):
    return {"IRQControllers.NVIC": FakeNvic, "UART.STM32_UART": object}.get(type_name)


def row(report: str, name: str) -> list[str]:
    line = next(ln for ln in report.splitlines() if ln.startswith(name + " "))
    return re.split(r"\s{2,}", line.strip())


def test_f4_report_lists_usart1_with_address_irq_and_status():
    report = show_platform(str(F4), [UPSTREAM], lookup=fake_lookup)
    assert row(report, "usart1") == ["usart1", "UART.STM32_UART", "0x40011000-0x400110FF", "0x100",
                                     "modelled", "-> nvic@37"]
    assert row(report, "spi1") == ["spi1", "SPI.STM32SPI", "0x40013000-0x400133FF", "0x400*", "tagged",
                                   "IRQ -> nvic@35"]
    # size from the model class when the .repl gives none
    assert row(report, "nvic")[2:5] == ["0xE000E000-0xE000EFFF", "0x1000*", "modelled"]
    # memory size from its constructor argument
    assert row(report, "flash")[2:4] == ["0x08000000-0x081FFFFF", "0x200000"]
    assert row(report, "exti")[5] == \
        "[0-4,16-18,22] -> nvic@[6-10,1,41-42,3], [5-9] -> nvicInput23@[0-4], [10-15] -> nvicInput40@[0-5]"
    assert row(report, "cpu")[2:5] == ["sysbus", "-", "core"]
    assert row(report, "nvicInput23")[2:] == ["(not on a bus)", "-", "no model", "-> nvic@23"]


def test_rows_are_sorted_by_address_and_columns_aligned():
    report = show_platform(str(F4), [UPSTREAM], lookup=fake_lookup)
    lines = report.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("NAME"))
    addrs = []
    for ln in lines[header + 1:]:
        m = re.match(r"\S+\s+\S+\s+0x([0-9A-F]{8})-", ln)
        if m:
            addrs.append(int(m.group(1), 16))
    assert len(addrs) > 50 and addrs == sorted(addrs)
    col = lines[header].index("STATUS")
    assert lines[header + 1][col:].split()[0] in ("modelled", "tagged", "memory")


def test_tags_and_summary():
    report = show_platform(str(F4), [UPSTREAM], lookup=fake_lookup)
    assert re.search(r"0x40021000-0x40021003\s+GPIOE_MODER\s+0xFFFFFFFF\s+in gpioPortE", report)
    assert re.search(r"0x50000010-0x5000003F\s+USB:RESET\s+0x80000000", report)
    # 60 typed entries (sysbus is not one): nvic + 5 UARTs modelled by the fake registry, plus
    # the two bit-band aliases the engine provides; 5 memory regions; the core; the two
    # CombinedInputs have neither a model nor a bus address
    assert report.rstrip().endswith("60 peripherals: 8 modelled, 44 tagged, 5 memory regions, "
                                    "1 core, 2 without a model or bus address; 3 tags")


def test_bus_attached_devices_show_their_bus_and_warnings(tmp_path):
    f = tmp_path / "board.repl"
    f.write_text("""i2c1: I2C.STM32F1_I2C @ sysbus 0x40005400
eeprom: Memory.AT24C @ i2c1 0x50
spi1: SPI.STM32SPI @ sysbus 0x40013000
    IRQ -> nvic@35
nor: MTD.W25Q @ spi1
big: Memory.MappedMemory @ sysbus 0x40005000
    size: 0x1000
""")
    report = show_platform(str(f), [], lookup=fake_lookup)
    assert row(report, "eeprom")[2:4] == ["@ i2c1 0x50", "-"]
    assert row(report, "nor")[2] == "@ spi1"
    names = [ln.split()[0] for ln in report.splitlines() if re.match(r"(i2c1|eeprom|spi1|nor|big) ", ln)]
    assert names == ["big", "i2c1", "eeprom", "spi1", "nor"]  # bus devices right after their bus
    assert "big (0x40005000-0x40005FFF) overlaps i2c1 (0x40005400-0x400057FF)" in report
    assert "spi1: 'IRQ -> nvic@35' goes to 'nvic', which no entry declares" in report


def test_real_registry_report_runs_for_every_upstream_file():
    for rel in ["platforms/cpus/stm32f412.repl", "platforms/cpus/stm32f103.repl",
                "platforms/boards/stm32f4_discovery.repl"]:
        report = show_platform(str(UPSTREAM / rel), [UPSTREAM])
        r = row(report, "usart1")
        assert r[1] == "UART.STM32_UART" and r[4] in ("modelled", "tagged") and r[5].startswith("-> nvic@37")


def test_main_prints_report_and_reports_errors(tmp_path, capsys):
    assert main([str(F4), "-I", str(UPSTREAM)]) == 0
    out = capsys.readouterr().out
    assert "usart1" in out and "gpioPortA#8@1" not in out
    assert main([str(F4), "-I", str(UPSTREAM), "--all"]) == 0  # every wire, also GPIO alternate functions
    assert "0 -> gpioPortA#8@1 | gpioPortE#9@1" in capsys.readouterr().out
    bad = tmp_path / "bad.repl"
    bad.write_text("x: T\n   a: 1\n")
    assert main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:4: indentation of 3 spaces is not a multiple of 4" in err
