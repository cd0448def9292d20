"""The management unit's RTOS (firmware/targets/meter_rtos) on the emulated STM32F413: booted by
the bootloader from a factory image, it starts the apps that start.par lists from flashfs, each
an unprivileged process in its own MPU window; an app touching another's memory is killed with a
MemManage report and an event while the rest runs on; system calls refuse pointers that are not
the caller's; limits give MS_ERR_LIMIT; a damaged app image is refused and the others start; the
shell's `ps` lists processes, threads, memory and limits."""

import re

from metersim._image.pack import pack, read_factory_image
from metersim._units import PS_PER_MS

from tests.conftest import REPO
from tests.image.meter_board import boot_image

IMAGES = REPO / "platforms/images"
KERNEL_RAM = (0x20000000, 0x20020000)
COUNTER_WINDOW = 0x20020000
MS_ERR_SRCH, MS_ERR_NOMEM, MS_ERR_FAULT, MS_ERR_LIMIT = -3, -12, -14, -40


def packed(tmp_path, firmware, manifest):
    for program in ("meter_boot", "meter_rtos", "app_counter", "app_probe", "app_intruder",
                    "app_overflow"):
        firmware("f413rg", program)          # fails clearly when the firmware is not built
    out = tmp_path / f"{manifest}.bin"
    out.write_bytes(pack(IMAGES / f"{manifest}.yaml"))
    return out


def boot(tmp_path, firmware, manifest, until, timeout="2s", image=None):
    emu, m, cap = boot_image(image or packed(tmp_path, firmware, manifest))
    emu.run_until(lambda: until in cap.text, timeout=timeout, what=f"'{until}' on the console")
    return emu, m, cap


def shell(emu, m, cap, command, timeout="1s"):
    """Type a command on the console; the lines it printed up to the next prompt."""
    start = len(cap.text)
    m["usart1"].write_bytes((command + "\r").encode())
    emu.run_until(lambda: "msh> " in cap.text[start:], timeout=timeout, what=f"`{command}` to finish")
    out = cap.text[start:]
    return [ln.rstrip("\r") for ln in out[:out.index("msh> ")].split("\n")[1:] if ln.strip()]


def results(cap, prefix):
    out = {}
    for t in cap.line_texts():
        m = re.fullmatch(rf"{prefix}: (.+) -> (-?\d+)", t)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def test_boot_starts_two_apps_from_flashfs_as_isolated_processes(tmp_path, firmware):
    emu, m, cap = boot(tmp_path, firmware, "meter_rtos", until="probe: alive 2")
    text = cap.line_texts()
    assert "rtos: rtos 1.0.0, process isolation on (MPU)" in text
    assert "loader: started counter 1.0.0 (window 0x20020000 16 KiB, prio 20)" in text
    assert "loader: started probe 1.2.0 (window 0x20024000 16 KiB, prio 25)" in text
    assert "rtos: 2 processes started" in text
    counts = [ln for ln in cap.lines if re.fullmatch(r"counter: \d+", ln.text)]
    assert [ln.text for ln in counts[:2]] == ["counter: 5", "counter: 10"]
    gap_ps = counts[1].start_ps - counts[0].start_ps      # five 100 ms sleeps, give or take a tick
    assert abs(gap_ps - 500 * PS_PER_MS) < 2 * PS_PER_MS
    assert m.read_u32(COUNTER_WINDOW) >= 10                # the count, in counter's own window


def test_system_calls_refuse_pointers_that_are_not_the_callers(tmp_path, firmware):
    emu, m, cap = boot(tmp_path, firmware, "meter_rtos", until="probe: alive 1")
    r = results(cap, "probe")
    for call in ("mq_recv into kernel ram", "mq_recv into counter", "ps into kernel ram",
                 "kwrite from kernel ram", "kwrite from counter", "write from kernel ram"):
        assert r[call] == MS_ERR_FAULT, call
    assert r["message kept"] == 0                          # the refused receive took nothing
    # the kernel's threads are not an app's to kill or stop
    assert r["kill kernel thread"] == MS_ERR_SRCH and r["suspend kernel thread"] == MS_ERR_SRCH
    # a heap header in the app's window forged to lead into kernel RAM stops the allocator
    assert r["malloc through a forged heap link"] == MS_ERR_NOMEM
    assert r["malloc after the header is back"] == 0
    lo, hi = KERNEL_RAM
    kernel = m.sysbus.read_memory(lo, hi - lo)
    assert b"PROBE-PATTERN" not in kernel                  # nothing landed in kernel memory
    emu.run_until(lambda: "probe: alive 2" in cap.text, timeout="2s", what="probe to go on")
    ps = shell(emu, m, cap, "ps")
    assert any(r.split()[:4] == ["timer", "kernel", "1", "blocked"] for r in ps)


def test_process_limits_give_ms_err_limit_under_isolation(tmp_path, firmware):
    _, _, cap = boot(tmp_path, firmware, "meter_rtos", until="probe: alive 1")
    r = results(cap, "probe")
    assert r["thread 2"] == 0 and r["thread 3"] == MS_ERR_LIMIT      # max_threads 2
    assert r["kobj 1"] == 0 and r["kobj 2"] == 0 and r["kobj 3"] == MS_ERR_LIMIT
    assert r["file 1"] == 0 and r["file 2"] == MS_ERR_LIMIT          # max_files 1


def test_an_app_writing_into_another_apps_window_is_killed_and_the_rest_runs(tmp_path, firmware):
    emu, m, cap = boot(tmp_path, firmware, "meter_isolation", until="probe: alive 1")
    kill = next(ln for ln in cap.lines if ln.text.startswith("process 'intruder' killed"))
    match = re.fullmatch(r"process 'intruder' killed: MemManage in thread 'intruder' at pc "
                         r"0x([0-9a-f]{8}) \(cfsr 0x00000082\): data access violation at "
                         r"0x20020000", kill.text)
    assert match, kill.text
    intrude = firmware("f413rg", "app_intruder")
    from elftools.elf.elffile import ELFFile
    with open(intrude, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("intrude")[0]
    pc = int(match.group(1), 16)
    assert sym["st_value"] & ~1 <= pc < (sym["st_value"] & ~1) + sym["st_size"]   # the store
    assert "intruder: the write went through" not in cap.text
    assert m.read_u32(COUNTER_WINDOW) != 0xBADC0DE
    # counter, probe and the kernel's shell go on
    seen = len(cap.text)
    emu.run_until(lambda: "probe: alive" in cap.text[seen:] and
                  re.search(r"counter: \d+", cap.text[seen:]), timeout="1s",
                  what="counter and probe after the kill")
    rows = shell(emu, m, cap, "events")
    fault = [r for r in rows if " fault " in r and "intruder" in r]
    assert fault and "0x20020000" in fault[0] and f"0x{pc:08x}" in fault[0]
    ps = shell(emu, m, cap, "ps")
    assert not any(r.startswith(("intruder ", "overflow ")) for r in ps)  # gone, memory back
    assert any(r.startswith("counter ") for r in ps)


def test_an_app_overrunning_its_stack_in_its_own_window_is_killed(tmp_path, firmware):
    emu, m, cap = boot(tmp_path, firmware, "meter_isolation", until="probe: alive 1")
    line = next(t for t in cap.line_texts() if t.startswith("process 'overflow' killed"))
    match = re.fullmatch(r"process 'overflow' killed: stack overflow in thread 'overflow' \(sp "
                         r"0x([0-9a-f]{8}), stack 0x([0-9a-f]{8})-0x([0-9a-f]{8})\)", line)
    assert match, line
    sp, lo, hi = (int(g, 16) for g in match.groups())
    assert hi - lo == 1024 and sp < lo                      # 1.5 KiB of locals on a 1 KiB stack
    assert 0x2002A000 <= sp < lo < hi <= 0x2002C000          # all inside its own window
    assert "overflow: back from the call" not in cap.text
    seen = len(cap.text)
    emu.run_until(lambda: "probe: alive 2" in cap.text[seen:], timeout="1s", what="probe to go on")
    rows = shell(emu, m, cap, "events")
    assert any(r.split()[2:5] == ["fault", "overflow", "0"] for r in rows)   # code 0: stack


def test_a_damaged_app_image_is_refused_with_an_event_and_the_other_starts(tmp_path, firmware):
    image = packed(tmp_path, firmware, "meter_rtos")
    data = bytearray(image.read_bytes())
    probe = next(p for p in read_factory_image(bytes(data)) if p.name == "probe")
    data[probe.offset + 96 + 200] ^= 0x40               # one payload bit of the probe app
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    emu, m, cap = boot(tmp_path, firmware, "meter_rtos", until="counter: 10", image=bad)
    text = cap.line_texts()
    assert "loader: probe refused: crc32 check failed" in text
    assert "loader: started counter 1.0.0 (window 0x20020000 16 KiB, prio 20)" in text
    assert "rtos: 1 process started" in text
    assert not any(t.startswith("probe:") for t in text)
    rows = shell(emu, m, cap, "events")
    refused = [r.split() for r in rows if "image-refused" in r]
    assert refused and refused[0][3] == "probe" and refused[0][4] == "7"   # MS_IMAGE_BAD_CRC


def test_ps_lists_processes_threads_memory_and_limits(tmp_path, firmware):
    emu, m, cap = boot(tmp_path, firmware, "meter_rtos", until="probe: alive 1")
    rows = shell(emu, m, cap, "ps")
    head = rows.index(next(r for r in rows if r.startswith("PROCESS")))
    threads = {r.split()[0]: r.split() for r in rows[1:head]}
    assert threads["counter"][1:4] == ["counter", "20", "sleeping"]
    assert threads["probe"][1:4] == ["probe", "25", "sleeping"]
    assert threads["worker"][1] == "probe"
    assert threads["shell"][1:4] == ["kernel", "10", "running"]
    assert rows[head].split() == ["PROCESS", "WINDOW", "USED/SIZE", "THREADS", "KOBJS", "FILES",
                                  "PRIO", "MEMORY"]
    procs = {r.split()[0]: r.split() for r in rows[head + 1:]}
    assert procs["counter"][1] == "0x20020000-0x20023fff"
    assert procs["probe"][1] == "0x20024000-0x20027fff"
    used, size = map(int, procs["probe"][2].split("/"))
    assert size == 16384 and 1024 < used < size          # stacks, queue and static data
    assert procs["probe"][3:7] == ["2/2", "2/2", "1/1", "25"]   # counts at their limits
    assert procs["counter"][3:7] == ["1/1", "0/1", "0/1", "20"]
    assert procs["counter"][7] == "mpu"
