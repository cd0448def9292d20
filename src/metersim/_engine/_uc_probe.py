"""Calibration probe for unicorn 2.1.4's private CPU-state offsets (see uc_native).

Runs as a script in a child process (`uc_native` starts it with `sys.executable`): it reads
unicorn's memory around a live handle and calls `cpu_restore_state_arm` with candidate
pointers, which can crash the interpreter where the heap is laid out differently (it did,
from some working directories). A crash here costs a retry, not the user's process.
Imports only unicorn and the standard library, so it runs without metersim on the path.
Prints one JSON object: {"counter_index": int, "offsets": [cpu, io_pc, env, condexec],
"tb_cflags": int}.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct

from unicorn import UC_ARCH_ARM, UC_HOOK_BLOCK, UC_MODE_THUMB, Uc
from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4
from unicorn.unicorn_py3.unicorn import uclib

SCAN_WORDS = 4096
FAIL = (-1, -1, -1, -1)


def _readable(fd: int, addr: int, n: int) -> bytes | None:
    try:
        return os.pread(fd, n, addr)
    except (OSError, OverflowError, ValueError):
        return None


def _words(fd: int, addr: int, n: int) -> tuple[int, ...] | None:
    """`n` 8-byte words at `addr` through /proc/self/mem: an unmapped page gives None, never
    a segfault."""
    raw = _readable(fd, addr, 8 * n)
    if raw is None or len(raw) < 8 * n:
        return None
    return struct.unpack(f"<{n}Q", raw)


def calibrate_counter() -> int:
    """Index (in 8-byte words) of `emu_counter` in uc_struct, found by running 5 instructions,
    the 5th an MMIO read, with count=12345: the counter is 5 there and 6 after the wfi, and
    the limit (12345) follows it. Returns -1 if not found. Reads memory only through
    /proc/self/mem, so it is safe in-process too."""
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
    # mov.w r1,#0x40000000; movs r0,#1; adds r0,#1; adds r0,#1; ldr r2,[r1]; wfi
    uc.mem_map(0x08000000, 0x1000)
    uc.mem_write(0x08000000, bytes.fromhex("4ff08041" "0120" "0130" "0130" "0a68" "30bf"))
    base = ctypes.cast(uc._uch, ctypes.c_void_p).value
    limit = 12345
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    hits: list[list[int]] = []

    def on_read(_uc, _off, _size, _ud):
        words = _words(fd, base, SCAN_WORDS) or ()
        hits.append([i for i in range(len(words) - 1)
                     if words[i] == 5 and words[i + 1] == limit])
        return 0

    try:
        uc.mmio_map(0x40000000, 0x400, on_read, None, lambda *a: None, None)
        uc.emu_start(0x08000001, 0, count=limit)
        words = _words(fd, base, SCAN_WORDS) or ()
    finally:
        os.close(fd)
    cands = [i for i in (hits[0] if hits else []) if words and words[i] == 6]
    return cands[0] if len(cands) == 1 else -1


def calibrate_offsets() -> tuple[int, int, int, int]:
    """Locate what unicorn 2.1.4 keeps private: `uc->cpu`, `cpu->mem_io_pc`, the CPU's
    register file (env) and `env->condexec_bits` (the IT state). During an MMIO read, the
    CPUState is the object that points back at the uc handle and whose env holds r0/r1's
    magic values; mem_io_pc is the field from which cpu_restore_state recovers the accessing
    instruction's PC; condexec_bits is what that restore changes for an access inside an IT
    block (and not outside one). Returns (-1, -1, -1, -1) if anything is not found."""
    restore = getattr(uclib, "cpu_restore_state_arm", None)
    if restore is None:
        return FAIL
    restore.restype = ctypes.c_bool
    restore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_bool]
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
    # mov.w r5,#0x40000000; ldr r2,[r5]; nop; ldr r3,[r5,#4]; cmp r0,r0; it eq;
    # ldreq r4,[r5,#8]; wfi (r0 and r1 keep the magic values that identify the registers)
    uc.mem_map(0x08000000, 0x1000)
    uc.mem_write(0x08000000, bytes.fromhex("4ff08045" "2a68" "00bf" "6b68" "8042" "08bf"
                                           "ac68" "30bf"))
    magic = struct.pack("<2I", 0x5EC0_0000, 0x5EC0_0001)
    for r in range(2):
        uc.reg_write(66 + r, 0x5EC0_0000 + r)   # UC_ARM_REG_R0, R1
    base = ctypes.cast(uc._uch, ctypes.c_void_p).value
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    u32 = ctypes.c_uint32()
    found: dict = {"hits": [], "changed": []}
    expect_pc = {0: 0x08000004, 4: 0x08000008, 8: 0x0800000E}

    def on_read(_uc, off, _size, _ud):
        if "cpu" not in found:
            for i, p in enumerate(_words(fd, base, SCAN_WORDS) or ()):
                if p < 0x10000 or p & 7:
                    continue
                vals = _words(fd, p, 8192)
                if vals is None:
                    continue
                # CPUState.uc lies after the 4096-entry jump cache, a little after mem_io_pc
                back = [k for k in range(0x1000, 8192) if vals[k] == base]
                envs = [q for q in vals if p < q < p + 0x20000 and _readable(fd, q, 8) == magic]
                if back and envs:
                    found.update(cpu=(8 * i, p), env=envs[0], back=back[0])
                    break
            else:
                return 0
        p = found["cpu"][1]
        env = found["env"]
        hits = set()
        fields = _words(fd, p + 8 * (found["back"] - 64), 64) or ()
        for j, v in zip(range(found["back"] - 64, found["back"]), fields):
            if v < 0x10000:
                continue
            before = _readable(fd, env, 0x1000)
            if not restore(p, v, False):
                continue
            after = _readable(fd, env, 0x1000)
            uclib.uc_reg_read(uc._uch, 11, ctypes.byref(u32))
            if u32.value == expect_pc[off]:
                hits.add(8 * j)
                found["changed"].append({k for k in range(0, 0x1000, 4)
                                         if before[k:k + 4] != after[k:k + 4]})
        found["hits"].append(hits)
        return 0

    try:
        uc.mmio_map(0x40000000, 0x400, on_read, None, lambda *a: None, None)
        uc.emu_start(0x08000001, 0, count=0)
    finally:
        os.close(fd)
    hits = found["hits"]
    io = hits[0] & hits[1] & hits[2] if len(hits) == 3 else set()
    if len(io) != 1 or len(found["changed"]) != 3:
        return FAIL
    # changed by the access inside the IT block only: condexec_bits (PC, 0x3c, and the
    # syndrome change for every access)
    cx = found["changed"][2] - found["changed"][0] - {0x3C}
    if len(cx) != 1:
        return FAIL
    return found["cpu"][0], io.pop(), found["env"] - found["cpu"][1], cx.pop()


CFLAGS_SCAN_BYTES = 0x40       # CPUState's head: cflags_next_tb lies before its jmp_buf
CFLAGS_NONE = 0xFFFFFFFF       # -1: no request for the next translation block


def calibrate_tb_cflags(off_cpu: int) -> int:
    """Offset of `cflags_next_tb` in CPUState (uc->cpu at `off_cpu` in uc_struct): QEMU's
    cpu_exec takes it, when not -1, as the compile flags of the next translation block, whose
    low 15 bits (CF_COUNT_MASK) limit that block's instructions, and sets it back to -1.

    The candidates are the -1 words at the head of CPUState. Each is tried on seven 2-byte
    instructions and a WFI in one block: with 2 written there, a block hook must see a first
    block of 2 instructions (4 bytes) and the rest as the next block, the field must
    read -1 again, all six must run (r0 = 6), and a second run without it must see the whole
    block again (the short block is cached beside it, not instead). Exactly one candidate
    must pass. Returns -1 if none or several do, or `off_cpu` < 0."""
    if off_cpu < 0:
        return -1
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
    # movs r0,#0; adds r0,#1 (x6); wfi: one block of 16 bytes (the wfi ends it)
    code = bytes.fromhex("0020" + "0130" * 6 + "30bf")
    uc.mem_map(0x08000000, 0x1000)
    uc.mem_write(0x08000000, code)
    blocks: list[tuple[int, int]] = []
    uc.hook_add(UC_HOOK_BLOCK, lambda _uc, addr, size, _ud: blocks.append((addr, size)))
    uc.emu_start(0x08000001, 0, count=0)       # creates the CPU, and the whole block
    base = ctypes.cast(uc._uch, ctypes.c_void_p).value
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        cpu = (_words(fd, base + off_cpu, 1) or (0,))[0]
        head = _readable(fd, cpu, CFLAGS_SCAN_BYTES) if cpu >= 0x10000 else None
    finally:
        os.close(fd)
    if head is None:
        return -1
    whole = [(0x08000000, len(code))]
    passed = []
    for off in range(0, CFLAGS_SCAN_BYTES, 4):
        if struct.unpack_from("<I", head, off)[0] != CFLAGS_NONE:
            continue
        field = ctypes.c_uint32.from_address(cpu + off)
        field.value = 2
        blocks.clear()
        uc.reg_write(66, 0)                        # UC_ARM_REG_R0
        uc.emu_start(0x08000001, 0, count=0)
        limited = blocks[:2] == [(0x08000000, 4), (0x08000004, len(code) - 4)]
        consumed = field.value == CFLAGS_NONE
        field.value = CFLAGS_NONE
        ran = uc.reg_read(66) == 6
        blocks.clear()
        uc.emu_start(0x08000001, 0, count=0)
        if limited and consumed and ran and blocks[:1] == whole:
            passed.append(off)
    return passed[0] if len(passed) == 1 else -1


def main() -> None:
    offsets = calibrate_offsets()
    print(json.dumps({"counter_index": calibrate_counter(), "offsets": list(offsets),
                      "tb_cflags": calibrate_tb_cflags(offsets[0])}))


if __name__ == "__main__":
    main()
