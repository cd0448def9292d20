"""A fast slice in one C call (_block_clock.c, bc_run_slice): the block clock's reset, the run
and the common ends (a plain end, a stop inside a block or right after an MMIO access,
finished by running up to it again) without Python between them. The firmware must not be
able to tell: each program runs with the C slice and with the Python one (`CortexM._slice_c
= None`, the path without the extension's newer functions) and gives the same instructions,
cycles, exceptions, virtual time, registers, NVIC state, RAM and console lines with their
instants; and the meter's start, both units, the same."""

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._orchestration.testers import capture_uart
from tests.engine.test_native_exceptions import CORES, snapshot


def count_finishes(cpu) -> list[int]:
    """Count the stops inside a block or an access that Python finishes (the C slice
    finishes them itself)."""
    counts = [0]
    for name in ("_finish_in_block", "_finish_access"):
        fn = getattr(cpu, name)

        def counted(fn=fn):
            counts[0] += 1
            return fn()

        setattr(cpu, name, counted)
    return counts


def run(firmware, target, program, duration, in_c):
    core, hz, sram = CORES[target]
    emu = Emulation()
    if target == "f103rb":
        m = Machine.bare(emu, target, core, hz, flash=(0x08000000, 0x20000), sram=sram,
                         console_address=0x40013800)
    else:
        m = Machine.bare(emu, target, core, hz)
    if not in_c:
        m.cpu._slice_c = None
    finishes = count_finishes(m.cpu)
    m.load_elf(firmware(target, program))
    console = capture_uart(m)
    emu.run_for(duration)
    snap = snapshot(m, console, sram)
    snap["now_ps"] = emu.now_ps
    return snap, finishes[0]


@pytest.fixture(autouse=True)
def _needs_the_c_slice():
    if Machine.bare(Emulation(), "probe", "cortex-m4f").cpu._slice_c is None:
        pytest.fail("the block clock extension is not built, or predates bc_run_slice "
                    "(make setup)")


PROGRAMS = [
    ("f413rg", "context_switch", "1s"),      # SVC, PendSV switches, SysTick (M4F)
    ("f103rb", "context_switch", "1s"),      # the same on the Cortex-M3
    ("f413rg", "nvic_priority", "1s"),       # preemption, tail chains, BASEPRI
    ("f413rg", "mpu_regions", "1s"),         # MPU on, a MemManage stacking fault
    ("f413rg", "rtos_fault", "1s"),          # RTOS: faulting processes, restarts
    ("f413rg", "rtos_ipc", "1s"),            # RTOS: IPC system calls
]


@pytest.mark.parametrize("target,program,duration", PROGRAMS,
                         ids=[f"{t}-{p}" for t, p, _ in PROGRAMS])
def test_slices_in_c_match_python(firmware, target, program, duration):
    python, finished_in_python = run(firmware, target, program, duration, False)
    in_c, finished_in_python_too = run(firmware, target, program, duration, True)
    assert in_c == python
    assert python["counts"][1] > 0
    # the C slice finished the stops inside blocks and accesses the Python one finished
    assert finished_in_python_too < finished_in_python or finished_in_python == 0


def test_slices_in_c_match_python_in_the_meter(meter_image):
    """The meter's start and a stretch of its steady state: the management unit's RTOS with
    the MPU, the metrology unit's ADE7753 sampling, the UART link between them: thousands of
    slices ending inside blocks and right after register accesses."""
    import metersim

    def one(in_c):
        emu = metersim.Emulation(seed=3)
        meter = metersim.build_meter(emu, meter_image, voltage_V=220.1, current_A=5.123,
                                     power_W=1123.4, energy_kWh=12.5)
        board = meter.mu
        finishes = []
        for m in (board, meter.unit.machine):
            if not in_c:
                m.cpu._slice_c = None
            finishes.append(count_finishes(m.cpu))
        con = metersim.capture_uart(board)
        con.expect("meter: started", timeout="5s")
        emu.run_for("300ms")
        snap = snapshot(board, con, (0x20000000, 0x50000))
        snap["now_ps"] = emu.now_ps
        snap["unit"] = meter.unit.machine.stats()
        return snap, sum(f[0] for f in finishes)

    python, finished_in_python = one(False)
    in_c, finished_in_python_too = one(True)
    assert in_c == python
    assert "meter: started" in [text for text, _ in in_c["console"]]
    assert finished_in_python > 1000
    assert finished_in_python_too < finished_in_python // 10
