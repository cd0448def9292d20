"""The shell_demo firmware (firmware/targets/shell_demo) on the STM32F413 and STM32F103RB
platforms: boots through the BSP clock set-up (100 / 72 MHz) to the msh prompt on USART1,
and the shell's commands do what a user at the console expects."""

import re

import pytest

from metersim._units import PS_PER_S

from tests.firmware.msh_session import CPU_REPL, HCLK_HZ, Msh

TARGETS = ["f413rg", "f103rb"]
PART = {"f413rg": "STM32F413RG (Cortex-M4F)", "f103rb": "STM32F103RB (Cortex-M3)"}


@pytest.fixture(params=TARGETS)
def msh(request, firmware):
    target = request.param
    s = Msh(CPU_REPL[target], firmware(target, "shell_demo"), target)
    s.target = target
    return s


def test_boots_to_the_prompt_at_full_clock_with_a_banner(msh):
    text = msh.cap.line_texts()
    hz = HCLK_HZ[msh.target]
    assert f"metersim shell_demo on {PART[msh.target]}" in text
    assert f"clock: HCLK {hz} Hz, PCLK1 {hz // 2} Hz, PCLK2 {hz} Hz" in text
    assert msh.m.cpu.freq_hz == hz                      # the engine runs at what RCC set up
    assert any(t.startswith("reset cause: power-on") for t in text)
    assert msh.cap.text.endswith("msh> ")


def test_ps_lists_the_shell_and_heartbeat_threads(msh):
    rows = msh.run("ps")
    assert rows[0].split()[:4] == ["NAME", "PROCESS", "PRIO", "STATE"]
    threads = {r.split()[0]: r.split() for r in rows[1:]}
    assert {"shell", "heartbeat", "idle"} <= set(threads)
    assert threads["shell"][2:4] == ["10", "running"]
    assert threads["heartbeat"][2:4] == ["20", "sleeping"]
    for name in ("shell", "heartbeat"):
        used, size = map(int, threads[name][4].split("/"))
        assert 0 < used < size


def test_free_reports_heap_numbers_that_add_up(msh):
    rows = msh.run("free")
    assert rows[0].split() == ["total", "used", "free", "min-free", "largest"]
    for row, name in zip(rows[1:], ("kernel", "pool")):
        cols = row.split()
        assert cols[0] == name
        total, used, free, min_free, largest = map(int, cols[1:])
        assert total == used + free and used > 0
        assert min_free <= free and largest <= free


def test_date_set_then_the_clock_advances_with_virtual_time(msh):
    assert msh.run("date set 2024-02-29 23:59:58") == ["2024-02-29 23:59:58"]
    msh.emu.run_for("3s")
    (now,) = msh.run("date")
    assert now in ("2024-03-01 00:00:01", "2024-03-01 00:00:02")   # leap day rolled over
    assert msh.run("date set 2023-02-29 10:00:00") == ["date: invalid date or time"]


def test_uptime_follows_virtual_time(msh):
    # The tick starts with the scheduler, some milliseconds after power-on (clock set-up, boot
    # banner), so compare how far both advance: 2 s of virtual time are 2000 ticks.
    def uptime_ticks() -> int:
        (line,) = msh.run("uptime")
        return int(re.match(r"up (\d+) ticks \((\d+)\.(\d{3}) s\)", line).group(1))

    t0, ticks0 = msh.now_ps, uptime_ticks()
    msh.emu.run_for("2s")
    t1, ticks1 = msh.now_ps, uptime_ticks()
    assert abs((ticks1 - ticks0) - (t1 - t0) * 1000 // PS_PER_S) <= 2


def test_reboot_restarts_with_a_software_reset_cause(msh):
    msh.type("reboot\r")
    msh.emu.run_until(lambda: msh.cap.text.count("metersim shell_demo on") == 2
                      and msh.cap.text.endswith("msh> "), timeout="3s", what="the second boot")
    causes = [t for t in msh.cap.line_texts() if t.startswith("reset cause:")]
    assert causes[0].startswith("reset cause: power-on")
    assert causes[1].startswith("reset cause: software")
    assert msh.m.last_reset_cause == "software"
    assert msh.run("echo still here") == ["still here"]


def test_unknown_command_backspace_ls_and_cat(msh):
    assert msh.run("frobnicate now") == ["msh: unknown command: frobnicate (try help)"]
    # "ecko" corrected with two backspaces: the shell runs "echo"
    start = msh.type("ecko\b\bho fixed\r")
    out = msh.wait_prompt(start)
    assert "\r\nfixed\r\n" in out and "\b \b\b \b" in out
    assert msh.run("ls") == ["/dev/ttyS1"]
    assert msh.run("ls /dev/ttyS9") == ["ls: /dev/ttyS9: no such file or device"]
    (err,) = msh.run("cat /nor/missing")
    assert err.startswith("cat: /nor/missing: ")
    names = [r.split()[0] for r in msh.run("help")]
    assert names == ["help", "ps", "free", "events", "ls", "cat", "echo", "date", "uptime", "reboot"]


@pytest.mark.parametrize("target,hsi_hz", [("f413rg", 16_000_000), ("f103rb", 8_000_000)])
def test_without_a_crystal_the_clock_setup_times_out_and_stays_on_hsi(tmp_path, firmware,
                                                                      target, hsi_hz):
    from tests.conftest import REPO
    board = tmp_path / "no_hse.repl"
    board.write_text(f'using "{REPO / CPU_REPL[target]}"\n\nrcc:\n    hseHz: 0\n')
    s = Msh(str(board), firmware(target, "shell_demo"), target)
    assert (f"clock: HCLK {hsi_hz} Hz, PCLK1 {hsi_hz} Hz, PCLK2 {hsi_hz} Hz "
            "(HSE/PLL failed: running on HSI)") in s.cap.line_texts()
    assert s.m.cpu.freq_hz == hsi_hz
    assert s.run("echo console still at 115200") == ["console still at 115200"]
