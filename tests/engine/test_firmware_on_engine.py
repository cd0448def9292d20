"""The engine runs the firmware test programs of firmware/tests on both cores and the results
match the ARMv7-M architecture: SysTick rate, NVIC priorities, SVC/PendSV context switches,
FP context across interrupts, VTOR relocation, unprivileged traps, fault reports, WFI idle."""

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import FirmwareFault
from metersim._orchestration.testers import capture_uart
from metersim._units import PS_PER_MS, PS_PER_S

CORES = {"f413rg": ("cortex-m4f", 16_000_000), "f103rb": ("cortex-m3", 8_000_000)}


def boot(firmware, target, program, emu=None, name=None):
    emu = emu or Emulation()
    core, hz = CORES[target]
    if target == "f103rb":
        m = Machine.bare(emu, name or target, core, hz, flash=(0x08000000, 0x20000),
                         sram=(0x20000000, 0x5000), console_address=0x40013800)
    else:
        m = Machine.bare(emu, name or target, core, hz)
    m.load_elf(firmware(target, program))
    return emu, m, capture_uart(m)


def run_to_pass(firmware, target, program, timeout="5s"):
    emu, m, cap = boot(firmware, target, program)
    emu.run_until(lambda: "PASS" in cap.text or "FAIL" in cap.text, timeout=timeout,
                  what=f"{program} to finish")
    assert "FAIL" not in cap.text, cap.text
    return emu, m, cap


@pytest.mark.parametrize("target", CORES)
def test_systick_interrupts_at_the_programmed_rate(firmware, target):
    emu, m, cap = run_to_pass(firmware, target, "systick_rate")
    ticks = [ln for ln in cap.lines if ln.text.startswith("tick ")]
    assert [ln.text for ln in ticks] == [f"tick {n}" for n in range(100, 1001, 100)]
    t0 = ticks[0].start_ps
    for k, ln in enumerate(ticks):
        # one line every 100 ms; printing takes far less than a millisecond
        assert abs(ln.start_ps - t0 - k * 100 * PS_PER_MS) < PS_PER_MS // 2
    ext = [ln for ln in cap.lines if ln.text.startswith("ext tick ")]
    assert len(ext) == 5
    assert abs(ext[1].start_ps - ext[0].start_ps - 100 * PS_PER_MS) < PS_PER_MS // 2


@pytest.mark.parametrize("target", CORES)
def test_nvic_preemption_tail_chaining_grouping_and_basepri(firmware, target):
    _, _, cap = run_to_pass(firmware, target, "nvic_priority")
    lines = cap.line_texts()
    assert "order A: L+ H L-" in lines          # higher priority preempts inside the lower
    assert "order A2: H+ H- L" in lines         # lower priority waits, then tail-chains
    assert "order B: M 2 0 3 1 E" in lines      # priority order, then IRQ number
    assert "order C: 1+ 2 1- 0" in lines        # sub-priority never preempts
    assert "order D: 2 M 0 1 E" in lines        # BASEPRI masks at and below its level


@pytest.mark.parametrize("target", CORES)
def test_svc_and_pendsv_switch_two_psp_threads(firmware, target):
    _, m, cap = run_to_pass(firmware, target, "context_switch")
    seq = [ln.text for ln in cap.lines if ln.text[:2] in ("A ", "B ")]
    expected = [f"{t} {n}" for n in range(1, 21) for t in "AB"]
    assert seq == expected
    assert m.cpu.exceptions_taken > 40


def test_fp_registers_survive_preempting_isrs_on_m4f(firmware):
    _, m, cap = run_to_pass(firmware, "f413rg", "fpu_preserve", timeout="10s")
    assert any("10000 interrupts, s0-s31 and fpscr intact" in t for t in cap.line_texts())
    assert m.cpu.exceptions_taken >= 12000


@pytest.mark.parametrize("target", CORES)
def test_vtor_relocation_to_sram(firmware, target):
    _, m, cap = run_to_pass(firmware, target, "vtor_reloc")
    assert "vtor 0x20000200" in cap.line_texts()
    assert m["nvic"].vtor == 0x20000200


@pytest.mark.parametrize("target", CORES)
def test_unprivileged_scs_access_is_a_precise_busfault(firmware, target):
    _, _, cap = run_to_pass(firmware, target, "unpriv_trap")
    assert "busfault cfsr=0x00008200 bfar=0xe000e100" in cap.line_texts()


@pytest.mark.parametrize("target", CORES)
def test_bad_access_ends_the_run_with_a_fault_report(firmware, target):
    emu, m, cap = boot(firmware, target, "bad_access")
    with pytest.raises(FirmwareFault) as err:
        emu.run_for("1s")
    report = err.value.report
    assert "about to fault" in cap.text
    assert "PRECISERR" in report and "FORCED" in report
    assert "BFAR   : 0x60000000 (nothing mapped there)" in report
    assert "PC     : 0x" in report and "main+0x" in report     # symbolised
    assert "backtrace:" in report and "Reset_Handler" in report
    assert emu.now_ps < PS_PER_MS                             # stopped at once, no hang


@pytest.mark.parametrize("target", CORES)
def test_undefined_instruction_report(firmware, target):
    emu, _, _ = boot(firmware, target, "bad_instr")
    with pytest.raises(FirmwareFault, match="unhandled HardFault") as err:
        emu.run_for("1s")
    assert "UNDEFINSTR" in err.value.report


@pytest.mark.parametrize("target", CORES)
def test_wfi_idle_skips_to_the_next_timer_event(firmware, target):
    emu, m, cap = run_to_pass(firmware, target, "wfi_idle")
    assert "woke 100" in cap.line_texts() and "ticks 100" in cap.line_texts()
    # one second of virtual time, almost all of it asleep: few instructions executed
    assert emu.now_ps >= PS_PER_S
    assert m.cpu.instructions < 50_000
    assert m.cpu.idle_cycles > 0.95 * m.cpu.cycles


def test_same_firmware_gives_identical_traces(firmware):
    traces = []
    for _ in range(2):
        emu, m, cap = boot(firmware, "f413rg", "context_switch")
        emu.run_for("60ms")
        traces.append((list(zip(cap.times_ps, cap.data)), m.cpu.instructions, m.cpu.cycles))
    assert traces[0] == traces[1]
    assert len(traces[0][0]) > 100


def test_two_machines_share_one_clock_without_disturbing_each_other(firmware):
    alone = {}
    for target in CORES:
        emu, _, cap = boot(firmware, target, "hello")
        emu.run_for("2.5s")
        alone[target] = [(ln.text, ln.start_ps) for ln in cap.lines]
    emu = Emulation()
    caps = {t: boot(firmware, t, "hello", emu=emu)[2] for t in CORES}
    emu.run_for("2.5s")
    for target, cap in caps.items():
        assert [(ln.text, ln.start_ps) for ln in cap.lines] == alone[target]
    assert any(t.startswith("uptime 2 s") for t in caps["f103rb"].line_texts())


def test_power_cut_stops_the_core_and_power_on_reboots_it(firmware):
    emu, m, cap = boot(firmware, "f413rg", "hello")
    emu.run_for("1.5s")
    assert cap.line_texts().count("uptime 1 s") == 1
    m.power_off()
    executed = m.cpu.instructions
    emu.run_for("3s")
    assert m.cpu.instructions == executed          # nothing runs without power
    assert not any(t.startswith("uptime 2") for t in cap.line_texts())
    m.power_on()
    assert m.last_reset_cause == "por"
    emu.run_for("1.2s")
    banners = [t for t in cap.line_texts() if t.startswith("metersim hello")]
    assert len(banners) == 2 and cap.line_texts()[-1] == "uptime 1 s"


def test_reset_from_an_unprivileged_psp_thread_boots_on_msp(firmware):
    from unicorn.arm_const import UC_ARM_REG_CONTROL, UC_ARM_REG_MSP, UC_ARM_REG_SP
    emu, m, cap = boot(firmware, "f413rg", "context_switch")
    emu.run_until(lambda: "A 3" in cap.text, timeout="1s")
    assert m.cpu.reg(UC_ARM_REG_CONTROL) & 0x3 == 0x3     # threads: unprivileged, on PSP
    m.request_reset("software")
    emu.run_for("1us")
    assert m.cpu.reg(UC_ARM_REG_CONTROL) & 0x3 == 0
    assert m.cpu.reg(UC_ARM_REG_SP) == m.cpu.reg(UC_ARM_REG_MSP) != 0
    emu.run_until(lambda: cap.text.count("start threads") == 2, timeout="1s")


def test_mpu_regions_and_memmanage_faults_on_m4f(firmware):
    """Region permissions (read-only, no access, execute never, sub-regions, overlap priority,
    PRIVDEFENA), an unprivileged write outside its region (DACCVIOL, exact MMFAR) and a
    stacking fault (MSTKERR), each as the ARMv7-M MPU defines them."""
    _, m, cap = run_to_pass(firmware, "f413rg", "mpu_regions")
    assert cap.line_texts()[1:-1] == [
        "mpu type 0x00000800",
        "unpriv write arena+0x8: fault cfsr=0x82 mmfar=arena+0x8",
        "unpriv write arena+0x1c08: ok",
        "unpriv write arena+0x404: fault cfsr=0x82 mmfar=arena+0x404",
        "unpriv read arena+0x404: ok",
        "priv write arena+0x404: ok",
        "priv write arena+0x80c: fault cfsr=0x82 mmfar=arena+0x80c",
        "priv read arena+0xc1c: fault cfsr=0x82 mmfar=arena+0xc1c",
        "priv read arena+0xc20: ok",
        "exec arena+0x1400: 42",
        "exec arena+0x1000: fault cfsr=0x01",
        "privdefena off, priv read rcc: fault cfsr=0x82 mmfar=0x40023800",
        "unpriv stack below arena+0x1c00: fault cfsr=0x10",
    ]
    assert not m.cpu.mpu_guard.active          # the program turns the MPU off at the end


def test_the_python_fill_alone_gives_the_same_mpu_results(firmware, monkeypatch):
    from metersim._engine import mpu_guard
    _, _, fast = run_to_pass(firmware, "f413rg", "mpu_regions")
    monkeypatch.setattr(mpu_guard, "_mpu_fill", None)       # as without the C extension
    _, m, slow = run_to_pass(firmware, "f413rg", "mpu_regions")
    assert m.cpu.mpu_guard._fast is None
    assert slow.line_texts() == fast.line_texts()


def test_the_f103_core_has_no_mpu(firmware):
    _, m, cap = run_to_pass(firmware, "f103rb", "mpu_regions")
    assert "mpu type 0x00000000" in cap.line_texts()
    assert m["nvic"].mpu.num_regions == 0


@pytest.mark.parametrize("target", CORES)
def test_divide_unaligned_and_coprocessor_usage_faults(firmware, target):
    _, _, cap = run_to_pass(firmware, target, "traps")
    lines = cap.line_texts()
    expected = [
        "sdiv 7/0 trap off: 0",
        "udiv 7/0 trap off: 0",
        "sdiv 7/0 trap on: fault ufsr=0x0200",      # DIVBYZERO
        "sdiv -7/2 trap on: -3",
        "udiv 7/0 trap on: fault ufsr=0x0200",
        "ldr +1 trap off: 0x04030201",
        "ldr +1 trap on: fault ufsr=0x0100",        # UNALIGNED
        "strh +1 trap on: fault ufsr=0x0100 (memory unchanged)",
        "ldr +0 trap on: 0x03020100",
        "ldrex +2: fault ufsr=0x0100",              # always, whatever UNALIGN_TRP says
    ]
    if target == "f413rg":
        expected += ["vadd cpacr off: fault ufsr=0x0008", "vadd cpacr full: ok"]   # NOCP
    else:
        expected += ["vadd no fpu: fault ufsr=0x0008"]
    assert lines[1:-1] == expected


def test_an_unhandled_memmanage_fault_is_reported_with_its_address_and_regions(firmware):
    emu, m, cap = boot(firmware, "f413rg", "mpu_regions")
    # The program's MemManage handler records and steps over faults: make it a dead end.
    m.sysbus.write_memory(m.firmware.symbols.lookup("MemManage_Handler"), bytes.fromhex("fee7"))
    with pytest.raises(FirmwareFault) as err:
        emu.run_for("1s")
    report = err.value.report
    assert "DACCVIOL" in report and "MMARVALID" in report
    arena = m.firmware.symbols.lookup("arena")
    assert f"MMFAR  : 0x{arena + 8:08x}" in report
    assert "MPU    : on" in report and "region 2:" in report
