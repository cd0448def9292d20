"""The RTOS kernel (firmware/rtos) on the engine's bare machine, on both cores: scheduling order,
round-robin slices and sleeps measured in virtual time, priority inheritance, process IPC,
limits and permissions, process faults, stack-overflow panics, tickless idle, and the kernel's
RAM budget."""

import logging
import re

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._engine.platform_builder import create_machine
from metersim._engine.runtime_hooks import log_peripheral_access
from metersim._orchestration.testers import capture_uart
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US

from tests.conftest import FW, REPO

CORES = {"f413rg": ("cortex-m4f", 16_000_000), "f103rb": ("cortex-m3", 8_000_000)}
TICK_PS = PS_PER_MS  # MS_TICK_HZ = 1000


def boot(firmware, target, program):
    emu = Emulation()
    core, hz = CORES[target]
    if target == "f103rb":
        m = Machine.bare(emu, target, core, hz, flash=(0x08000000, 0x20000),
                         sram=(0x20000000, 0x5000), console_address=0x40013800)
    else:
        m = Machine.bare(emu, target, core, hz)
    m.load_elf(firmware(target, program))
    return emu, m, capture_uart(m)


def run(firmware, target, program, until="PASS", timeout="5s"):
    emu, m, cap = boot(firmware, target, program)
    emu.run_until(lambda: until in cap.text or "FAIL" in cap.text or "PANIC" in cap.text
                  and "halted" in cap.text, timeout=timeout, what=f"{program} to finish")
    if until == "PASS":
        assert "FAIL" not in cap.text and "PANIC" not in cap.text, cap.text
    return emu, m, cap


def lines(cap, prefix):
    return [ln for ln in cap.lines if ln.text.startswith(prefix)]


@pytest.mark.parametrize("target", CORES)
def test_priority_order_round_robin_slices_and_preemption(firmware, target):
    _, _, cap = run(firmware, target, "rtos_sched")
    assert [ln.text for ln in lines(cap, "order ")] == ["order p12", "order p20", "order p30", "order p40"]
    slices = lines(cap, "slice ")
    names = [ln.text.split()[1] for ln in slices]
    assert names[:15] == ["rr1", "rr2", "rr3"] * 5
    # every full slice lasts 5 ticks (the first one starts mid-tick)
    for a, b in zip(slices[1:15], slices[2:16]):
        assert abs((b.start_ps - a.start_ps) - 5 * TICK_PS) < TICK_PS // 10, (a.text, b.text)
    hi = lines(cap, "hi preempts at tick ")[0]
    start = lines(cap, "round robin starts at tick ")[0]
    assert int(hi.text.split()[-1]) == int(start.text.split()[-1]) + 12
    # the higher priority thread ran in the middle of a round-robin slice, on its tick
    assert slices[0].start_ps < hi.start_ps < slices[-1].start_ps
    assert abs(hi.start_ps - start.start_ps - 12 * TICK_PS) < TICK_PS


@pytest.mark.parametrize("target", CORES)
def test_priority_inheritance_bounds_the_inversion(firmware, target):
    _, _, cap = run(firmware, target, "rtos_pi")
    text = cap.line_texts()
    assert "mutex: L prio inside = 10" in text            # L inherited H's priority
    assert "semaphore: L prio inside = 30" in text        # no inheritance with a semaphore
    waited = {k: int(re.search(r"H waited (\d+)", t).group(1))
              for t in text for k in ("mutex", "semaphore") if t.startswith(f"{k}: H waited")}
    assert waited["mutex"] <= 20                          # at most the critical section
    assert waited["semaphore"] >= 100                     # M's work got in between
    m = re.search(r"mutex: M done at tick (\d+), H got lock at tick (\d+)", "\n".join(text))
    assert int(m.group(2)) < int(m.group(1))              # H got the lock before M finished


@pytest.mark.parametrize("target", CORES)
def test_sleeps_and_timers_wake_within_one_tick(firmware, target):
    _, _, cap = run(firmware, target, "rtos_sleep")
    for phase in ("busy", "idle"):
        wakes = lines(cap, f"wake {phase} ")
        assert len(wakes) == 5
        ticks = [int(ln.text.split()[-1]) for ln in wakes]
        assert [b - a for a, b in zip(ticks, ticks[1:])] == [100] * 4
        t0 = wakes[0].start_ps
        for k, ln in enumerate(wakes):
            assert abs(ln.start_ps - t0 - k * 100 * PS_PER_MS) < TICK_PS, (phase, ln.text)
    start = lines(cap, "timers start at tick ")[0]
    one = lines(cap, "oneshot tick ")
    assert len(one) == 1 and abs(one[0].start_ps - start.start_ps - 30 * PS_PER_MS) < TICK_PS
    periodic = lines(cap, "timer ")
    assert [ln.text.split()[1] for ln in periodic] == ["1", "2", "3", "4"]
    for k, ln in enumerate(periodic, start=1):
        assert abs(ln.start_ps - start.start_ps - k * 50 * PS_PER_MS) < TICK_PS, ln.text


@pytest.mark.parametrize("target", CORES)
def test_pipes_select_and_shared_memory_between_processes(firmware, target):
    _, _, cap = run(firmware, target, "rtos_ipc")
    text = cap.line_texts()
    assert "prod control nPRIV=1" in text and "cons control nPRIV=1" in text
    sel = lines(cap, "prod select timeout ")[0].text
    # a 20-tick timeout, timed from a tick read just before the call: a tick may fall
    # between that read and the call, never more
    assert sel in ("prod select timeout 0 after 20 ticks", "prod select timeout 0 after 21 ticks")
    sent = lines(cap, "prod sent ")
    got = lines(cap, "cons got ")
    assert [ln.text[len("cons got "):] for ln in got] == [f"msg {k}" for k in range(1, 6)]
    for s, g in zip(sent, got):
        assert 0 < g.start_ps - s.start_ps < PS_PER_MS // 2   # select woke the reader at once
    assert "cons shm 'hello from prod'" in text
    assert "prod got ack" in text


@pytest.mark.parametrize("target", CORES)
def test_process_limits_and_permissions_return_error_codes(firmware, target):
    _, _, cap = run(firmware, target, "rtos_limits")
    isolation = {"f413rg": "mpu: 8 regions, process isolation on",
                 "f103rb": "mpu: none, process isolation off"}        # the F103 has no MPU
    assert isolation[target] in cap.line_texts()
    result = {}
    for t in cap.line_texts():
        if " -> " in t:
            k, v = t.split(" -> ")
            result[k] = v
    assert result["malloc 8192"] == "null" and result["malloc 1024"] == "ok"
    assert result["thread stack 8192"] == "-12"        # MS_ERR_NOMEM: beyond the 4 KiB heap
    assert result["thread 2"] == "0" and result["thread 3"] == "-40"   # MS_ERR_LIMIT
    assert result["thread prio 5"] == "-1"             # more urgent than the process: MS_ERR_PERM
    assert result["sem 1"] == "0" and result["sem 2"] == "0" and result["sem 3"] == "-40"
    assert result["open 1"] == "0" and result["open 2"] == "-40" and result["open missing"] == "-2"
    assert result["eeprom read 0x100"] == "16"
    assert result["eeprom read 0x1f8"] == "-1"         # crosses the end of the permitted range
    assert result["eeprom read 0x300"] == "-1"
    assert result["eeprom write 0x100"] == "-1"        # read permission only
    for call in ("device register", "pipe create", "process create"):
        assert result[call] == "-1", call              # privileged calls
    pool = re.search(r"pool free before (\d+) after (\d+)", cap.text)
    assert pool.group(1) == pool.group(2)              # the ended process gave its memory back
    killed = lines(cap, "process 'rogue' killed: BusFault in thread 'rogue'")
    assert killed and "cfsr 0x00008200" in killed[0].text
    assert "rogue survived" not in cap.text
    assert result["rogue find"] == "-2"
    assert f"pool free after rogue {pool.group(1)}" in cap.line_texts()
    assert any(t.startswith("system alive at tick") for t in cap.line_texts())


@pytest.mark.parametrize("target", CORES)
def test_stack_overflow_panics_naming_the_thread(firmware, target):
    _, _, cap = run(firmware, target, "rtos_overflow", until="system halted")
    ps = {ln.text.split()[1]: ln.text for ln in lines(cap, "ps ")}
    assert set(ps) == {"main", "timer", "idle"}
    assert "kernel prio 2 running" in ps["main"] and "prio 63 ready" in ps["idle"]
    assert "prio 1 blocked" in ps["timer"]
    used, size = map(int, re.search(r"stack (\d+)/(\d+)", ps["idle"]).groups())
    assert 0 < used < size
    assert lines(cap, "free kernel ")
    panic = lines(cap, "*** KERNEL PANIC: ")
    assert len(panic) == 1 and "stack overflow in thread 'deep'" in panic[0].text
    assert "deep returned" not in cap.text
    assert cap.text.rstrip().endswith("*** system halted")


@pytest.mark.parametrize("target", CORES)
def test_tickless_idle_sleeps_one_second_on_few_instructions(firmware, target):
    emu, m, cap = boot(firmware, target, "rtos_tickless")
    emu.run_until(lambda: "sleep 1s" in cap.text, timeout="1s", what="the sleep to start")
    i0, c0, idle0 = m.cpu.instructions, m.cpu.cycles, m.cpu.idle_cycles
    emu.run_until(lambda: "PASS" in cap.text or "FAIL" in cap.text, timeout="3s", what="the wake-up")
    assert "FAIL" not in cap.text, cap.text
    before, after = lines(cap, "sleep 1s from tick ")[0], lines(cap, "woke at tick ")[0]
    assert int(after.text.split()[-1]) - int(before.text.split()[-1]) == 1000
    assert abs(after.start_ps - before.start_ps - PS_PER_S) < TICK_PS
    # 1 s is 8-16 M cycles; a 1 kHz tick alone would cost > 100 000 instructions
    assert m.cpu.instructions - i0 < 5_000
    assert m.cpu.idle_cycles - idle0 > 0.99 * (m.cpu.cycles - c0)


PLATFORMS = {"f413rg": REPO / "platforms/cpus/stm32f413.repl",
             "f103rb": REPO / "platforms/cpus/stm32f103rb.repl"}


def edge_times_ps(t0_ps: int, until_ps: int) -> list[int]:
    """Rising edges 2.6 to 10.6 ms apart at no fixed phase to the tick (deterministic)."""
    times, t, k = [], t0_ps, 0
    while True:
        t += 2_500 * PS_PER_US + (k * 7919 % 8000) * PS_PER_US + 137_777_777
        if t >= until_ps:
            return times
        times.append(t)
        k += 1


class SysTickAccesses(logging.Handler):
    """Counts the firmware's SysTick (SYST_CSR..CALIB) and ICSR accesses, from the bus's access
    log (`sysbus LogPeripheralAccess nvic`), into the phase named by `phase`."""

    PATTERN = re.compile(r": nvic: (?:read|write)32 \+0x(1[0-9a-c]|d04) ")

    def __init__(self):
        super().__init__(logging.INFO)
        self.phase, self.counts = None, {}

    def emit(self, record):
        if self.phase and self.PATTERN.search(record.getMessage()):
            self.counts[self.phase] = self.counts.get(self.phase, 0) + 1


@pytest.fixture
def systick_accesses():
    logger = logging.getLogger("metersim.access")
    counter, level, propagate = SysTickAccesses(), logger.level, logger.propagate
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield counter
    logger.removeHandler(counter)
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.mark.parametrize("target", CORES)
def test_tick_keeps_virtual_time_through_many_early_wakes_from_a_pin_interrupt(firmware, target,
                                                                               systick_accesses):
    emu = Emulation()
    m = create_machine(emu, PLATFORMS[target], elf=firmware(target, "rtos_wake"), name=target)
    cap = capture_uart(m, "usart1")
    emu.run_until(lambda: "ready" in cap.line_texts(), timeout="1s", what="rtos_wake to set up PA0")
    log_peripheral_access(m, "nvic", True)
    port = m["gpioPortA"]
    edges = {}
    for name in ("quiet", "thread"):
        emu.run_until(lambda: any(t.startswith(f"{name} sleep from tick") for t in cap.line_texts()),
                      timeout="1s", what=f"the {name} sleep")
        systick_accesses.phase = name
        start = lines(cap, f"{name} sleep from tick ")[0]
        # Pulses of 20 us on PA0 (pulled down) during the 1000-tick sleep; the last ones come
        # close to its end, when a wake has a whole sleep's worth of ticks to account.
        times = edge_times_ps(start.start_ps, start.start_ps + 999 * TICK_PS)
        for t in times:
            m.clock.schedule_at(t, port.drive, 0, True)
            m.clock.schedule_at(t + 20 * PS_PER_US, port.drive, 0, None)
        edges[name] = (start, times)
        emu.run_until(lambda: f"{name} edges " in cap.text and cap.text.endswith("\n")
                      and cap.text.count(f"{name} ticks") == -(-len(times) // 16) or "FAIL" in cap.text,
                      timeout="3s", what=f"the {name} phase to finish")
        systick_accesses.phase = None
    emu.run_until(lambda: "PASS" in cap.text or "FAIL" in cap.text, timeout="1s", what="PASS")
    assert "FAIL" not in cap.text, cap.text
    for name, (start, times) in edges.items():
        t0 = int(start.text.split()[-1])
        woke = lines(cap, f"{name} woke at tick ")[0]
        assert int(woke.text.split()[-1]) == t0 + 1000
        # 1000 ticks after the sleep started is 1 s of virtual time, whatever woke the core
        assert abs(woke.start_ps - start.start_ps - PS_PER_S) < TICK_PS, (name, woke.start_ps)
        assert lines(cap, f"{name} edges ")[0].text == f"{name} edges {len(times)}"
        assert len(times) > 100
        # The tick seen at every edge is the tick of that edge's virtual time. The "sleep from"
        # line starts a little after tick t0 began, so the expected tick may be one short.
        seen = [int(d) for ln in lines(cap, f"{name} ticks ") for d in ln.text.split()[2:]]
        assert len(seen) == len(times)
        for k, (t, tick) in enumerate(zip(times, seen), start=1):
            expected = (t - start.start_ps) // TICK_PS
            assert expected <= tick <= expected + 1, (name, k, tick, expected)
    # An early wake leaves the sleep's SysTick wrap where it is: per edge, the tick read
    # (one CVR read) and, with a thread woken, the two context switches' PendSV (ICSR
    # writes); not the 12-14 SysTick/ICSR accesses of reprogramming the wrap twice per wake.
    assert systick_accesses.counts["quiet"] <= 1.2 * len(edges["quiet"][1]) + 20
    assert systick_accesses.counts["thread"] <= 3.2 * len(edges["thread"][1]) + 20


def test_kernel_ram_on_f103rb_stays_under_4_kib(firmware):
    firmware("f103rb", "rtos_sched")  # built
    report = (FW / "f103rb" / "rtos_kernel.size.txt").read_text()
    ram = int(re.search(r"ram (\d+) B", report).group(1))
    flash = int(re.search(r"flash (\d+) B", report).group(1))
    assert 0 < ram < 4096, report
    assert 0 < flash < 32 * 1024, report


@pytest.mark.parametrize("target", CORES)
def test_a_process_fault_in_the_middle_of_a_console_line_leaves_every_thread_running(firmware,
                                                                                    target):
    """firmware/rtos/tests/rtos_fault: the report waits for the line the fault came in; the
    threads waiting for the console (behind a writer, or behind a killed thread of the dead
    process) and for its mutexes all run on; a mutex whose owner died says so to its next
    owner."""
    _, _, cap = run(firmware, target, "rtos_fault")
    text = cap.line_texts()
    writer = text.index("writer: a line the console takes a tick per character for, whole")
    assert re.fullmatch(r"process 'faulty' killed: BusFault in thread 'faulty' at pc 0x0800[0-9a-f]{4}"
                        r" \(cfsr 0x[0-9a-f]{8}\): bus error at 0xe000ed00", text[writer + 1])
    assert "faulty survived" not in cap.text and "faulty2" not in cap.text
    # MS_OWNER_DIED (1) to the waiter it passed to, and to the next locker of the unwaited one
    assert {"locker m1 1", "locker m1 again 0", "waiter ran", "m2 1", "m2 again 0"} <= set(text)
    # a process cutting its own line: that stays cut; the report and the next writer's line
    # (a kernel thread that waited for the console) start lines of their own
    cut = next(i for i, t in enumerate(text) if t.startswith("cutter: "))
    assert "cutter: a line its own process cuts short".startswith(text[cut])
    assert text[cut + 1].startswith("process 'cutter' killed: BusFault in thread 'cutter2' at pc")
    assert text[cut + 2] == "after ran"
    assert sorted(t for t in text if t.startswith("ps ")) == [
        "ps idle ready", "ps main running", "ps timer blocked"]
