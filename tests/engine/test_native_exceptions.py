"""SVC entries and plain exception returns in C (_block_clock.c, exc_fast): the firmware must not
be able to tell. Each program runs with them in C and with every exception in Python
(METERSIM_NATIVE_EXC=0 / `CortexM.native_exc = False`) and gives the same instructions,
cycles, exceptions, virtual time, registers, NVIC state, RAM and console lines (with their
instants): context switches through SVC and PendSV on both cores, FP frames, nested and
tail-chained interrupts, the MPU with its MemManage stacking faults, unprivileged traps, RTOS
faults and IPC, and the meter's management unit (RTOS, MPU, process isolation) in its steady
state."""

import hashlib

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import FirmwareFault
from metersim._orchestration.testers import capture_uart
from unicorn import arm_const as A

REGS = [getattr(A, f"UC_ARM_REG_{r}") for r in
        ["R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "R11", "R12",
         "SP", "LR", "PC", "MSP", "PSP", "XPSR", "CONTROL", "PRIMASK", "BASEPRI", "FAULTMASK"]]
FP_REGS = [getattr(A, f"UC_ARM_REG_S{i}") for i in range(32)] + [A.UC_ARM_REG_FPSCR]

CORES = {"f413rg": ("cortex-m4f", 16_000_000, (0x20000000, 0x50000)),
         "f103rb": ("cortex-m3", 8_000_000, (0x20000000, 0x5000))}


def snapshot(m, console, sram):
    cpu = m.cpu
    nv = cpu.nvic
    lo, size = sram
    regs = [cpu.reg(r) for r in REGS]
    if cpu.has_fpu:
        regs += [cpu.reg(r) for r in FP_REGS]
    return {
        "now_ps": m.emulation.now_ps if hasattr(m, "emulation") else None,
        "counts": (cpu.cycles, cpu.instructions, cpu.idle_cycles, cpu.exceptions_taken),
        "ipsr": cpu.ipsr,
        "nvic": (list(nv._act), bytes(nv.active), bytes(nv.pending), sorted(nv.pending_set),
                 nv.shcsr, nv.cfsr, nv.hfsr),
        "regs": regs,
        "ram_sha1": hashlib.sha1(bytes(cpu.uc.mem_read(lo, size))).hexdigest(),
        "console": [(line.text, line.start_ps) for line in console.lines],
        "fault": str(cpu.fault) if cpu.fault else None,
    }


def board(firmware, target, program, native):
    """(emu, machine, console, sram) of a bare `target` running test firmware `program`,
    exceptions handled in C (`native`) or in Python."""
    core, hz, sram = CORES[target]
    emu = Emulation()
    if target == "f103rb":
        m = Machine.bare(emu, target, core, hz, flash=(0x08000000, 0x20000), sram=sram,
                         console_address=0x40013800)
    else:
        m = Machine.bare(emu, target, core, hz)
    m.cpu.native_exc = native
    m.load_elf(firmware(target, program))
    return emu, m, capture_uart(m), sram


def run(firmware, target, program, duration, native):
    emu, m, console, sram = board(firmware, target, program, native)
    emu.run_for(duration)
    snap = snapshot(m, console, sram)
    snap["now_ps"] = emu.now_ps
    return snap, m.cpu.native_exceptions()


@pytest.fixture(autouse=True)
def _needs_block_clock():
    if Machine.bare(Emulation(), "probe", "cortex-m4f").cpu.bc is None:
        pytest.fail("the block clock extension is not built (setup.py build_ext)")


# (target, program, virtual run, what the C path must have done at least: entries, returns)
PROGRAMS = [
    ("f413rg", "context_switch", "1s", (1, 20)),      # SVC start, PendSV switches (M4F)
    ("f103rb", "context_switch", "1s", (1, 20)),      # the same on the Cortex-M3
    ("f413rg", "fpu_preserve", "200ms", (0, 1000)),   # extended (FP) frames
    ("f413rg", "nvic_priority", "1s", (0, 4)),        # preemption, tail chains, BASEPRI
    ("f413rg", "mpu_regions", "1s", (1, 4)),          # MPU on, MSTKERR stacking fault
    ("f413rg", "unpriv_trap", "1s", (1, 1)),          # SVC from unprivileged thread mode
    ("f413rg", "bench_mpu_switch", "1s", (1000, 1000)),   # RTOS-style MPU switches via SVC
    ("f413rg", "rtos_fault", "1s", (5, 100)),         # RTOS: faulting processes, restarts
    ("f413rg", "rtos_ipc", "1s", (50, 50)),           # RTOS: IPC system calls
]


@pytest.mark.parametrize("target,program,duration,least", PROGRAMS,
                         ids=[f"{t}-{p}" for t, p, _, _ in PROGRAMS])
def test_exceptions_in_c_match_python(firmware, target, program, duration, least):
    python, n_python = run(firmware, target, program, duration, False)
    native, n_native = run(firmware, target, program, duration, True)
    assert n_python == (0, 0)
    assert n_native[0] >= least[0] and n_native[1] >= least[1], n_native
    assert native == python
    assert python["fault"] is None


def test_exceptions_in_c_match_python_in_the_meter(meter_image, monkeypatch):
    """The management unit's start: the RTOS starting its processes with the MPU on, hundreds
    of system calls, PendSV, SysTick and USART interrupts (the metrology unit's link)."""
    import metersim

    def one(native):
        monkeypatch.setenv("METERSIM_NATIVE_EXC", "1" if native else "0")
        emu = metersim.Emulation(seed=3)
        meter = metersim.build_meter(emu, meter_image, voltage_V=220.1, current_A=5.123,
                                     power_W=1123.4, energy_kWh=12.5)
        board = meter.mu
        con = metersim.capture_uart(board)
        con.expect("meter: started", timeout="5s")
        emu.run_for("150ms")
        snap = snapshot(board, con, (0x20000000, 0x50000))
        snap["now_ps"] = emu.now_ps
        snap["unit"] = meter.unit.machine.stats()
        return snap, board.cpu.native_exceptions()

    python, n_python = one(False)
    native, n_native = one(True)
    assert n_python == (0, 0)
    assert n_native[0] > 100 and n_native[1] > 100, n_native
    assert native == python
    assert "meter: started" in [text for text, _ in native["console"]]



def count_core_calls(monkeypatch, *names: str) -> dict[str, int]:
    """Count the calls of these CortexM methods (the dict fills as the emulation runs)."""
    from metersim._engine.cpu import CortexM

    calls = dict.fromkeys(names, 0)
    for name in names:
        original = getattr(CortexM, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(CortexM, name, counted)
    return calls


@pytest.mark.parametrize("target", ["f413rg", "f103rb"])
def test_interrupt_entries_and_tail_chains_stay_in_c(firmware, monkeypatch, target):
    """The NVIC priority program (preemption, PRIMASK and BASEPRI releases, PRIGROUP, tail
    chains) takes every interrupt between slices and every tail chain on an exception return
    in C: none reaches Python's entry or tail chain, and the order the firmware logs is the
    one the Python path gives, which the program checks against the architecture's rules."""
    calls = count_core_calls(monkeypatch, "_enter", "_tail_chain")
    python, _ = run(firmware, target, "nvic_priority", "1s", False)
    in_python = dict(calls)
    calls.update(_enter=0, _tail_chain=0)
    native, n_native = run(firmware, target, "nvic_priority", "1s", True)
    assert in_python["_enter"] >= 5 and in_python["_tail_chain"] >= 3, in_python
    assert calls == {"_enter": 0, "_tail_chain": 0}
    assert n_native[0] >= in_python["_enter"]
    assert native == python
    lines = [text for text, _ in native["console"]]
    assert "order B: M 2 0 3 1 E" in lines and "order C: 1+ 2 1- 0" in lines, lines
    assert not any("expected" in text for text in lines), lines


def test_a_line_held_high_is_taken_again_at_each_return_as_in_python(firmware, monkeypatch):
    """A level-sensitive IRQ whose line is still high when its handler returns pends again
    and is chained into at once, the slice ending right there as Python ends it: in C the
    same instructions, exceptions, registers, RAM, instants and number of slices, and no
    exception return left to Python."""
    calls = count_core_calls(monkeypatch, "_run_slice", "_exception_return")

    def one(native):
        calls.update(_run_slice=0, _exception_return=0)
        emu, m, console, sram = board(firmware, "f413rg", "nvic_priority", native)
        emu.run_for("300ms")          # the program has checked its cases; asleep in WFI
        taken = m.cpu.exceptions_taken
        nv = m.cpu.nvic
        nv.write(0x100, 4, 1)         # ISER0: IRQ0 (WWDG) enabled again
        nv.on_gpio(0, True)           # its line goes high and stays high for 2 ms
        emu.run_for("2ms")
        nv.on_gpio(0, False)
        emu.run_for("2ms")
        snap = snapshot(m, console, sram)
        snap["now_ps"] = emu.now_ps
        snap["slices"] = calls["_run_slice"]
        return snap, m.cpu.exceptions_taken - taken, calls["_exception_return"]

    python, taken_python, returns_python = one(False)
    native, taken_native, returns_native = one(True)
    assert taken_python > 100 and returns_python >= taken_python - 1
    assert returns_native == 0
    assert native == python
    assert taken_native == taken_python


def test_a_vector_rewritten_in_flash_is_the_one_the_next_entry_reads(firmware):
    """The C path reads a vector from a table in flash once per flash content, as the Python
    path does: once the flash is written (here PendSV's vector programmed to 0, through the
    bus as flash programming writes), the next PendSV entry reads the new vector and stops
    with the Python path's fault, at the same instruction, with the same state."""
    def one(native):
        emu, m, console, sram = board(firmware, "f413rg", "context_switch", native)
        emu.run_for("10ms")                       # PendSV switches: its vector read already
        entries = m.cpu.native_exceptions()[0]
        taken = m.cpu.exceptions_taken
        m.sysbus.write_memory(m.cpu.nvic.vtor + 4 * 14, bytes(4))   # (VTOR 0: flash's alias)
        with pytest.raises(FirmwareFault, match="no vector for PendSV"):
            emu.run_for("100ms")
        snap = snapshot(m, console, sram)
        snap["now_ps"] = emu.now_ps
        return snap, entries, taken

    python, _, taken_python = one(False)
    native, entries_native, taken_native = one(True)
    assert taken_native == taken_python and entries_native >= 10, entries_native
    assert "no vector for PendSV" in native["fault"]
    assert native == python
