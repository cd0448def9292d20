#!/usr/bin/env python3
"""Count the instructions bench_cpu executes from reset to its final `wfi`.

Runs the ELF on bare unicorn (the CPU metersim's engine is built on) with flat
RAM in place of the peripherals (USART SR reads TXE|TC so the console never
waits). unicorn does not report executed-instruction counts, so the run goes
in counted chunks; the chunk that reaches the `wfi` is re-run from a snapshot
and bisected to the exact count.

    .venv/bin/python firmware/targets/bench_cpu/count_instructions.py build/fw/f413rg/bench_cpu.elf
"""
import sys

from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_ARM, UC_MODE_THUMB, Uc
from unicorn.arm_const import (UC_ARM_REG_MSP, UC_ARM_REG_PC, UC_ARM_REG_SP,
                               UC_CPU_ARM_CORTEX_M3, UC_CPU_ARM_CORTEX_M4)

FLASH, FLASH_SIZE = 0x08000000, 1 << 20
RAM, RAM_SIZE = 0x20000000, 512 << 10
PERIPH, PERIPH_SIZE = 0x40000000, 0x00100000
PPB, PPB_SIZE = 0xE0000000, 0x00100000
USART_SR = {0x40011000, 0x40013800}  # F4 / F1 USART1
WFI = b"\x30\xbf"
CHUNK = 20_000_000


def load(path):
    with open(path, "rb") as f:
        elf = ELFFile(f)
        attrs = elf.get_section_by_name(".ARM.attributes")
        m4 = attrs is not None and b"7E-M\x00" in attrs.data()  # Tag_CPU_name: ARMv7E-M
        segs = [(seg["p_paddr"], seg.data()) for seg in elf.iter_segments()
                if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]]
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4 if m4 else UC_CPU_ARM_CORTEX_M3)
    for base, size in ((FLASH, FLASH_SIZE), (RAM, RAM_SIZE), (PERIPH, PERIPH_SIZE), (PPB, PPB_SIZE)):
        uc.mem_map(base, size)
    for addr, data in segs:
        uc.mem_write(addr, data)
    for sr in USART_SR:
        uc.mem_write(sr, (0xC0).to_bytes(4, "little"))
    vec = uc.mem_read(FLASH, 8)
    sp, pc = int.from_bytes(vec[:4], "little"), int.from_bytes(vec[4:], "little")
    uc.reg_write(UC_ARM_REG_MSP, sp)
    uc.reg_write(UC_ARM_REG_SP, sp)
    uc.reg_write(UC_ARM_REG_PC, pc)
    return uc, ("Cortex-M4F" if m4 else "Cortex-M3")


def halted(uc):
    pc = uc.reg_read(UC_ARM_REG_PC)
    return bytes(uc.mem_read(pc - 2, 2)) == WFI


def snapshot(uc):
    return uc.context_save(), bytes(uc.mem_read(RAM, RAM_SIZE))


def restore(uc, snap):
    uc.context_restore(snap[0])
    uc.mem_write(RAM, snap[1])


def step(uc, n):
    uc.emu_start(uc.reg_read(UC_ARM_REG_PC) | 1, 0xFFFFFFFF, count=n)


def count(path):
    uc, core = load(path)
    total = 0
    while True:
        snap = snapshot(uc)
        step(uc, CHUNK)
        if not halted(uc):
            total += CHUNK
            continue
        lo, hi = 0, CHUNK  # halted after hi instructions, not after lo
        while hi - lo > 1:
            mid = (lo + hi) // 2
            restore(uc, snap)
            step(uc, mid)
            if halted(uc):
                hi = mid
            else:
                lo = mid
        return core, total + hi


if __name__ == "__main__":
    for elf_path in sys.argv[1:]:
        core, n = count(elf_path)
        print(f"{elf_path} ({core}): {n} instructions from reset to the final wfi")
