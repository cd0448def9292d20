"""NVIC + SCB + SysTick: the System Control Space at 0xE000E000 (Renode's IRQControllers.NVIC).

Exception model per ARMv7-M B1.5: exception numbers 1 Reset, 2 NMI, 3 HardFault, 4 MemManage,
5 BusFault, 6 UsageFault, 11 SVCall, 12 DebugMonitor, 14 PendSV, 15 SysTick, 16+n IRQn.
Priorities are 8-bit with only the bits of `priority_mask` implemented (STM32: 0xF0); the
group priority follows AIRCR.PRIGROUP. This model keeps pending/active state and answers the
CPU core's questions (which exception to take, the execution priority); the core does the
stacking (metersim._engine.cpu).

`summary` (InterruptSummary) condenses the state into what decides whether anything can be
taken: kept exact at every change here, and by the core's C exception path, so the core's C
block hook can answer unmask sites without calling Python. Where the core has its C
extension, `attach_cpu` replaces `set_pending` and `on_gpio` on the instance with the core's C
versions of the same steps (metersim/_engine/_block_clock.c, nv_set_pending, nv_on_gpio):
the methods below stay the definition, and the path of test doubles and cores without it.

External interrupt inputs are level-sensitive: `on_gpio(n, True)` pends IRQn, and a line that is
still high when its handler returns pends again, as on the hardware.

The registers are a table (`nvic_registers`: ARMv7-M B3.2-B3.4, B3.5 for the MPU, C1.6 for
DEMCR) dispatched by `Peripheral`'s machinery, so byte and half-word accesses reach every
register and a stored register keeps the bytes they do not write (the priority registers IPR
and SHPR are byte-accessible by the architecture; CFSR's MMFSR, BFSR and UFSR bytes are
write-one-to-clear on their own). The set/clear arrays (ISER/ICER, ISPR/ICPR) and ICSR act only
on the bits written as 1; bits of IRQ lines the NVIC does not have are reserved (read 0, writes
ignored). Unprivileged accesses are a precise BusFault, except STIR writes with
CCR.USERSETMPEND (ARMv7-M B3.2.2).

SysTick's registers (0xE000E010..0xE000E01F) are the `SysTick` object's, read and written
through its read/write (a sub-word write reaches it with the bytes not written as 0). The MPU's
(0xE000ED90..0xE000EDBB, MPU_TYPE to MPU_RASR_A3) are the `MPU` object's: word writes go
straight to `MPU.write`, and the halfword accesses MPU_RASR allows merge into the register.
The core enforces the MPU (metersim._engine.mpu_guard), and while it checks rights it does the
privileged RNR/RBAR/RASR word writes an RTOS makes at every context switch itself, in C; the
`MPU` object loads those registers before it answers anything (`MPU.catch_up`). The ICSR and
SysTick CSR/RVR/CVR word writes an RTOS makes at every switch and sleep are made in C by the
engine as `write` makes them (hot-register writes: `hot_registers` here and in SysTick), on
every core, with or without an MPU. CCR.DIV_0_TRP, CCR.UNALIGN_TRP and CPACR are enforced by the core
too (metersim._engine.traps): the model tells it when they change.

Not modelled: the NVIC's IABR for system exceptions beyond SHCSR, the debug monitor exception,
FPCCR lazy-stacking (frames are saved eagerly), ICSR.ISRPREEMPT (reads 0), the debug registers
DHCSR/DCRSR/DCRDR.
"""

from __future__ import annotations

import ctypes
import logging
from functools import lru_cache, partialmethod

from metersim._engine.cores import ARCHITECTURES
from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.cortexm.mpu import MPU
from metersim.peripherals.cortexm.systick import SysTick
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import SIZE_MASK, Field, Reg, RegisterMap

RESET, NMI, HARDFAULT, MEMMANAGE, BUSFAULT, USAGEFAULT = 1, 2, 3, 4, 5, 6
SVCALL, DEBUGMON, PENDSV, SYSTICK = 11, 12, 14, 15
EXC_NAMES = {1: "Reset", 2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault",
             6: "UsageFault", 11: "SVCall", 12: "DebugMonitor", 14: "PendSV", 15: "SysTick"}

# CFSR bits (ARMv7-M B3.2.15)
MMFSR_IACCVIOL, MMFSR_DACCVIOL, MMFSR_MUNSTKERR, MMFSR_MSTKERR, MMFSR_MMARVALID = 1, 2, 8, 16, 128
BFSR_IBUSERR, BFSR_PRECISERR, BFSR_IMPRECISERR = 1 << 8, 1 << 9, 1 << 10
BFSR_UNSTKERR, BFSR_STKERR, BFSR_BFARVALID = 1 << 11, 1 << 12, 1 << 15
UFSR_UNDEFINSTR, UFSR_INVSTATE, UFSR_INVPC, UFSR_NOCP = 1 << 16, 1 << 17, 1 << 18, 1 << 19
UFSR_STKOF = 1 << 20   # ARMv8-M: SP went below MSPLIM/PSPLIM
UFSR_UNALIGNED, UFSR_DIVBYZERO = 1 << 24, 1 << 25
HFSR_VECTTBL, HFSR_FORCED = 1 << 1, 1 << 30

CPUID_BY_CORE = {"cortex-m3": 0x411FC231, "cortex-m4": 0x410FC241, "cortex-m4f": 0x410FC241,
                 "cortex-m0": 0x410CC200, "cortex-m0+": 0x410CC601, "cortex-m7": 0x411FC272,
                 "cortex-m33": 0x410FD214}

MMFSR_MLSPERR = 32
CCR_USERSETMPEND, CCR_UNALIGN_TRP, CCR_DIV_0_TRP = 1 << 1, 1 << 3, 1 << 4
MPU_BLOCK = 0x2C       # MPU_TYPE .. MPU_RASR_A3 at 0xE000ED90

SHCSR_MEMFAULTENA, SHCSR_BUSFAULTENA, SHCSR_USGFAULTENA = 1 << 16, 1 << 17, 1 << 18
CCR_RESET = 0x200  # STKALIGN set at reset on Cortex-M4 and M3 r2p0+

#: ARMv6-M (DDI 0419 B3.2, B3.3): no configurable faults and none of their status registers,
#: SHPR1 reserved, no CPACR; CCR reads STKALIGN | UNALIGN_TRP (fixed); 2 priority bits.
V6M_RAZ_WI = ("SHPR1", "CFSR", "HFSR", "MMFAR", "BFAR", "AFSR", "CPACR")
V6M_CCR = 0x208
V6M_PRIORITY_MASK = 0xC0

SCS_BASE = 0xE000E000
# Register offsets in the System Control Space
ICTR, ACTLR, SYST_CSR = 0x004, 0x008, 0x010
ISER, ICER, ISPR, ICPR, IABR, IPR = 0x100, 0x180, 0x200, 0x280, 0x300, 0x400
CPUID, ICSR, VTOR, AIRCR, SCR, CCR, SHPR1 = 0xD00, 0xD04, 0xD08, 0xD0C, 0xD10, 0xD14, 0xD18
SHCSR, CFSR, HFSR, DFSR, MMFAR, BFAR, AFSR = 0xD24, 0xD28, 0xD2C, 0xD30, 0xD34, 0xD38, 0xD3C
CPACR, MPU_TYPE, DEMCR, STIR = 0xD88, 0xD90, 0xDFC, 0xF00
FPCCR, FPCAR, FPDSCR, MVFR0, MVFR1 = 0xF34, 0xF38, 0xF3C, 0xF40, 0xF44

IRQ_WORDS = 16         # ISER0-15 ... IABR0-15: room for 496 lines (ARMv7-M B3.4.1)
IPR_WORDS = 60         # IPR0-59: 240 lines, STM32's most (more only if the NVIC has more)
AIRCR_VECTKEY, AIRCR_VECTKEYSTAT = 0x05FA, 0xFA05
ICSR_NMIPENDSET, ICSR_PENDSVSET, ICSR_PENDSVCLR = 1 << 31, 1 << 28, 1 << 27
ICSR_PENDSTSET, ICSR_PENDSTCLR, ICSR_ISRPENDING, ICSR_RETTOBASE = 1 << 26, 1 << 25, 1 << 22, 1 << 11

# CPUID scheme registers (ID_PFR0 ... ID_ISAR4 and the three after them): as on the Cortex-M4
CPUID_SCHEME = (("ID_PFR0", 0x30), ("ID_PFR1", 0x200), ("ID_DFR0", 0x100000), ("ID_AFR0", 0),
                ("ID_MMFR0", 0x100030), ("ID_MMFR1", 0), ("ID_MMFR2", 0x1000000),
                ("ID_MMFR3", 0), ("ID_ISAR0", 0x1101110), ("ID_ISAR1", 0x2111000),
                ("ID_ISAR2", 0x21112231), ("ID_ISAR3", 0x1111131), ("ID_ISAR4", 0x310132),
                ("ID_RES_D74", 0), ("CLIDR", 0), ("CTR", 0))
MVFR_M4F = (0x10110021, 0x11000011)

_SHPR_EXC = {MEMMANAGE: "MemManage", BUSFAULT: "BusFault", USAGEFAULT: "UsageFault",
             SVCALL: "SVCall", DEBUGMON: "DebugMonitor", PENDSV: "PendSV", SYSTICK: "SysTick"}
_BINARY = bytes.maketrans(b"\0\1", b"01")


#: `InterruptSummary.best` when no exception is both pending and enabled: above any execution
#: priority (256 at most), so "best < execution priority" is false.
NO_PENDING = 0x7FFF


class InterruptSummary(ctypes.Structure):
    """What the core needs to know whether an interrupt can be taken, without asking Python:
    the C block hook reads it at every unmask site (the layout of nv_summary in
    metersim/_engine/_block_clock.c). An exception can be taken now exactly when `best` is
    below the execution priority, which is `active` lowered by the masks (BASEPRI with
    `pmask` and `gmask`, PRIMASK, FAULTMASK; only PRIMASK on ARMv6-M). The NVIC keeps it
    exact: every change of pending, enabled, priority, PRIGROUP or active state ends in
    `NVIC._summarise_pending` / `_summarise_active` (or their incremental forms in
    `set_pending` and `acknowledge`), and the C exception path recomputes it as these do
    (the C set_pending as set_pending does)."""
    _fields_ = [("best", ctypes.c_int32),     # lowest group priority pending and enabled
                ("active", ctypes.c_int32),   # lowest group priority active; 256 if none
                ("gmask", ctypes.c_int32),    # group-priority bits (AIRCR.PRIGROUP)
                ("pmask", ctypes.c_int32),    # implemented priority bits (BASEPRI's)
                ("v6m", ctypes.c_int32),      # ARMv6-M: no BASEPRI, no FAULTMASK
                # moves on at every _summarise_priorities (reset, refresh_summary): the C
                # exception path holds the model's containers while it stays the same
                ("gen", ctypes.c_int32),
                # the registers the C exception path reads at every entry and return (the
                # model's `shcsr`, `ccr`, `vtor` live here, so C needs no attribute lookups)
                ("shcsr", ctypes.c_uint32),
                ("ccr", ctypes.c_uint32),
                ("vtor", ctypes.c_uint32)]


def _summary_register(name: str) -> property:
    """NVIC.<name>: a 32-bit register kept in the summary (read and written there by C)."""
    def get(self) -> int:
        return getattr(self.summary, name)

    def put(self, value: int) -> None:
        setattr(self.summary, name, value)
    return property(get, put, doc=f"{name.upper()} (kept in `summary.{name}`)")


def exception_name(exc: int) -> str:
    if exc >= 16:
        return f"IRQ{exc - 16}"
    return EXC_NAMES.get(exc, f"exception {exc}")


def _irq_bits(flags: bytearray, first: int) -> int:
    """Bit i = flags[first + i], for the 32 exceptions from `first` (0/1 bytes)."""
    chunk = flags[first:first + 32]
    return int(chunk[::-1].translate(_BINARY), 2) if chunk else 0


def _raz(name: str, offset: int, doc: str) -> Reg:
    return Reg(name, offset, 32, access="r", on_read="_raz", doc=doc)


def _irq_arrays(lines: int) -> list[Reg]:
    """ISER/ICER/ISPR/ICPR/IABR 0-15: one bit per IRQ line; words past the last line RAZ/WI."""
    arrays = (("ISER", ISER, "SETENA", "rs", "_enabled_word", "_set_enable",
               "enabled; writing 1 enables"),
              ("ICER", ICER, "CLRENA", "rc_w1", "_enabled_word", "_clear_enable",
               "enabled; writing 1 disables"),
              ("ISPR", ISPR, "SETPEND", "rs", "_pending_word", "_set_pending_word",
               "pending; writing 1 pends"),
              ("ICPR", ICPR, "CLRPEND", "rc_w1", "_pending_word", "_clear_pending_word",
               "pending; writing 1 clears"),
              ("IABR", IABR, "ACTIVE", "r", "_active_word", None, "active"))
    regs = []
    for name, base, field, access, reader, writer, doc in arrays:
        for n in range(IRQ_WORDS):
            first, width = 32 * n, min(32, lines - 32 * n)
            if width <= 0:
                regs.append(_raz(f"{name}{n}", base + 4 * n, "no IRQ lines: reads 0"))
                continue
            regs.append(Reg(f"{name}{n}", base + 4 * n, 32,
                            fields=(Field(field, 0, width, access),),
                            on_read=f"{reader}_{n}",
                            on_write=None if writer is None else f"{writer}_{n}",
                            doc=f"IRQ{first}-{first + width - 1} {doc}"))
    return regs


def _ipr_regs(lines: int) -> list[Reg]:
    """IPR0-59: a priority byte per IRQ, byte-accessible; only the bits of priorityMask are
    kept (STM32: [7:4])."""
    regs = []
    for n in range(max(IPR_WORDS, -(-lines // 4))):
        fields = tuple(Field(f"PRI_{4 * n + i}", 8 * i, 8, doc="IRQ priority",
                             on_write=f"_set_priority_{16 + 4 * n + i}")
                       for i in range(4) if 4 * n + i < lines)
        if not fields:
            regs.append(_raz(f"IPR{n}", IPR + 4 * n, "no IRQ lines: reads 0"))
            continue
        regs.append(Reg(f"IPR{n}", IPR + 4 * n, 32, fields=fields,
                        on_read=f"_priority_word_{16 + 4 * n}"))
    return regs


def _shpr_regs() -> list[Reg]:
    """SHPR1-3: the priority bytes of the configurable system exceptions, as IPR's."""
    regs = []
    for n in range(3):
        first = 4 + 4 * n
        fields = tuple(Field(f"PRI_{exc}", 8 * (exc - first), 8,
                             on_write=f"_set_priority_{exc}", doc=f"{_SHPR_EXC[exc]} priority")
                       for exc in range(first, first + 4) if exc in _SHPR_EXC)
        regs.append(Reg(f"SHPR{n + 1}", SHPR1 + 4 * n, 32, fields=fields,
                        on_read=f"_priority_word_{first}"))
    return regs


def _mpu_regs() -> list[Reg]:
    """MPU_TYPE .. MPU_RASR_A3, kept by `MPU` (ARMv7-M B3.5.5-B3.5.9); the MPU model has no
    third alias pair (0xE000EDB4, 0xE000EDB8)."""
    rbar = (Field("ADDR", 5, 27, doc="region base address"),
            Field("VALID", 4, doc="1: REGION selects the region (reads 0)"),
            Field("REGION", 0, 4, doc="region number, with VALID (reads MPU_RNR)"))
    rasr = (Field("XN", 28, doc="execute never"), Field("AP", 24, 3, doc="access permissions"),
            Field("TEX", 19, 3), Field("S", 18), Field("C", 17), Field("B", 16),
            Field("SRD", 8, 8, doc="sub-region disable"),
            Field("SIZE", 1, 5, doc="region size 2^(SIZE+1) bytes"), Field("ENABLE", 0))
    regs = [
        Reg("MPU_TYPE", MPU_TYPE, 32, on_read="_mpu_type",
            fields=(Field("IREGION", 16, 8, "r"), Field("DREGION", 8, 8, "r", doc="regions"),
                    Field("SEPARATE", 0, 1, "r"))),
        Reg("MPU_CTRL", MPU_TYPE + 0x4, 32,
            fields=(Field("PRIVDEFENA", 2, doc="privileged default memory map"),
                    Field("HFNMIENA", 1, doc="the MPU applies at negative priorities"),
                    Field("ENABLE", 0))),
        Reg("MPU_RNR", MPU_TYPE + 0x8, 32, fields=(Field("REGION", 0, 8),),
            doc="region that MPU_RBAR and MPU_RASR show"),
        Reg("MPU_RBAR", MPU_TYPE + 0xC, 32, fields=rbar),
        Reg("MPU_RASR", MPU_TYPE + 0x10, 32, fields=rasr, doc="halfword-accessible"),
    ]
    for k in (1, 2, 3):
        regs += [Reg(f"MPU_RBAR_A{k}", MPU_TYPE + 0xC + 8 * k, 32, fields=rbar,
                     doc="alias of MPU_RBAR"),
                 Reg(f"MPU_RASR_A{k}", MPU_TYPE + 0x10 + 8 * k, 32, fields=rasr,
                     doc="alias of MPU_RASR")]
    return regs


def _w1c(*bits: tuple[str, int]) -> tuple[Field, ...]:
    return tuple(Field(name, lsb, access="rc_w1") for name, lsb in bits)


@lru_cache(maxsize=None)
def nvic_registers(lines: int = 240) -> RegisterMap:
    """The System Control Space of an NVIC with `lines` external interrupt lines."""
    systick = [
        Reg("SYST_CSR", SYST_CSR, 32, on_read="_syst_csr", on_write="_syst_csr_written",
            fields=(Field("COUNTFLAG", 16, access="rc_r",
                          doc="counted to 0 since the last read (or CVR write)"),
                    Field("CLKSOURCE", 2, doc="1 HCLK, 0 HCLK/8"), Field("TICKINT", 1),
                    Field("ENABLE", 0))),
        Reg("SYST_RVR", SYST_CSR + 0x4, 32, on_read="_syst_rvr", on_write="_syst_rvr_written",
            fields=(Field("RELOAD", 0, 24, doc="applies at the next reload"),)),
        Reg("SYST_CVR", SYST_CSR + 0x8, 32, on_read="_syst_cvr", on_write="_syst_cvr_written",
            fields=(Field("CURRENT", 0, 24, doc="any write clears it and COUNTFLAG"),)),
        Reg("SYST_CALIB", SYST_CSR + 0xC, 32, on_read="_syst_calib", fields=(
            Field("NOREF", 31, access="r"), Field("SKEW", 30, access="r", reset=1),
            Field("TENMS", 0, 24, "r", doc="1 ms at HCLK/8 (PM0214 4.5.4)"))),
    ]
    scb = [
        Reg("CPUID", CPUID, 32, on_read="_cpuid", doc="Cortex-M3: 0x411FC231", fields=(
            Field("IMPLEMENTER", 24, 8, "r", 0x41), Field("VARIANT", 20, 4, "r"),
            Field("CONSTANT", 16, 4, "r", 0xF), Field("PARTNO", 4, 12, "r", 0xC24),
            Field("REVISION", 0, 4, "r", 1))),
        Reg("ICSR", ICSR, 32, on_read="_icsr", on_write="_icsr_written", fields=(
            Field("NMIPENDSET", 31), Field("PENDSVSET", 28), Field("PENDSVCLR", 27, access="w"),
            Field("PENDSTSET", 26), Field("PENDSTCLR", 25, access="w"),
            Field("ISRPREEMPT", 23, access="r", doc="not modelled: reads 0"),
            Field("ISRPENDING", 22, access="r"),
            Field("VECTPENDING", 12, 9, "r"), Field("RETTOBASE", 11, access="r"),
            Field("VECTACTIVE", 0, 9, "r"))),
        Reg("VTOR", VTOR, 32, fields=(Field("TBLOFF", 7, 25, doc="vector table offset"),)),
        Reg("AIRCR", AIRCR, 32, on_write="_aircr_written", fields=(
            Field("VECTKEY", 16, 16, reset=AIRCR_VECTKEYSTAT,
                  doc="a write without 0x05FA here is ignored; reads 0xFA05"),
            Field("ENDIANNESS", 15, access="r", doc="little-endian"),
            Field("PRIGROUP", 8, 3, doc="priority grouping"),
            Field("SYSRESETREQ", 2, access="w", doc="1: system reset"),
            Field("VECTCLRACTIVE", 1, access="w", doc="1: clears all active state"),
            Field("VECTRESET", 0, access="w", doc="debug only: ignored"))),
        Reg("SCR", SCR, 32, fields=(Field("SEVONPEND", 4), Field("SLEEPDEEP", 2),
                                    Field("SLEEPONEXIT", 1))),
        Reg("CCR", CCR, 32, on_write="_ccr_written", fields=(
            Field("STKALIGN", 9, access="r", reset=1, doc="8-byte stack alignment"),
            Field("BFHFNMIGN", 8), Field("DIV_0_TRP", 4, doc="trap on divide by 0"),
            Field("UNALIGN_TRP", 3, doc="trap on unaligned accesses"),
            Field("USERSETMPEND", 1, doc="unprivileged code may write STIR"),
            Field("NONBASETHRDENA", 0))),
    ]
    scb += _shpr_regs()
    scb += [
        # Pending bits (ARMv7-M B3.2.13): UsageFault 12, MemManage 13, BusFault 14, SVCall 15.
        Reg("SHCSR", SHCSR, 32, on_write="_shcsr_written", fields=(
            Field("USGFAULTENA", 18), Field("BUSFAULTENA", 17), Field("MEMFAULTENA", 16),
            Field("SVCALLPENDED", 15, access="r", on_read=f"_pended_{SVCALL}"),
            Field("BUSFAULTPENDED", 14, access="r", on_read=f"_pended_{BUSFAULT}"),
            Field("MEMFAULTPENDED", 13, access="r", on_read=f"_pended_{MEMMANAGE}"),
            Field("USGFAULTPENDED", 12, access="r", on_read=f"_pended_{USAGEFAULT}"),
            Field("SYSTICKACT", 11, access="r"), Field("PENDSVACT", 10, access="r"),
            Field("MONITORACT", 8, access="r"), Field("SVCALLACT", 7, access="r"),
            Field("USGFAULTACT", 3, access="r"), Field("BUSFAULTACT", 1, access="r"),
            Field("MEMFAULTACT", 0, access="r"))),
        Reg("CFSR", CFSR, 32, doc="MMFSR [7:0], BFSR [15:8], UFSR [31:16]; set by the core",
            fields=_w1c(("DIVBYZERO", 25), ("UNALIGNED", 24), ("NOCP", 19), ("INVPC", 18),
                        ("INVSTATE", 17), ("UNDEFINSTR", 16), ("BFARVALID", 15),
                        ("LSPERR", 13), ("STKERR", 12), ("UNSTKERR", 11), ("IMPRECISERR", 10),
                        ("PRECISERR", 9), ("IBUSERR", 8), ("MMARVALID", 7), ("MLSPERR", 5),
                        ("MSTKERR", 4), ("MUNSTKERR", 3), ("DACCVIOL", 1), ("IACCVIOL", 0))),
        Reg("HFSR", HFSR, 32, doc="set by the core",
            fields=_w1c(("DEBUGEVT", 31), ("FORCED", 30), ("VECTTBL", 1))),
        Reg("DFSR", DFSR, 32, fields=_w1c(("EXTERNAL", 4), ("VCATCH", 3), ("DWTTRAP", 2),
                                          ("BKPT", 1), ("HALTED", 0))),
        Reg("MMFAR", MMFAR, 32, doc="MemManage fault address (MMARVALID)"),
        Reg("BFAR", BFAR, 32, doc="BusFault address (BFARVALID)"),
        Reg("AFSR", AFSR, 32, doc="auxiliary fault status (stored)"),
    ]
    scb += [Reg(name, 0xD40 + 4 * i, 32, value, "r", doc="CPUID scheme, as on the Cortex-M4")
            for i, (name, value) in enumerate(CPUID_SCHEME)]
    scb += [Reg("CPACR", CPACR, 32, on_write="_cpacr_written",
                doc="Cortex-M3 and M4 without FPU: reads 0",
                fields=(Field("CP11", 22, 2), Field("CP10", 20, 2, doc="FPU access")))]
    scb += _mpu_regs()
    scb += [
        Reg("DEMCR", DEMCR, 32, fields=(
            Field("TRCENA", 24), Field("MON_REQ", 19), Field("MON_STEP", 18),
            Field("MON_PEND", 17), Field("MON_EN", 16), Field("VC_HARDERR", 10),
            Field("VC_INTERR", 9), Field("VC_BUSERR", 8), Field("VC_STATERR", 7),
            Field("VC_CHKERR", 6), Field("VC_NOCPERR", 5), Field("VC_MMERR", 4),
            Field("VC_CORERESET", 0))),
        Reg("STIR", STIR, 32, on_write="_stir_written",
            fields=(Field("INTID", 0, 9, "w", doc="pends this IRQ"),)),
        Reg("FPCCR", FPCCR, 32, fields=(
            Field("ASPEN", 31, reset=1), Field("LSPEN", 30, reset=1),
            Field("MONRDY", 8, access="r"), Field("BFRDY", 6, access="r"),
            Field("MMRDY", 5, access="r"), Field("HFRDY", 4, access="r"),
            Field("THREAD", 3, access="r"), Field("USER", 1, access="r"),
            Field("LSPACT", 0, access="r"))),
        Reg("FPCAR", FPCAR, 32, fields=(Field("ADDRESS", 3, 29),)),
        Reg("FPDSCR", FPDSCR, 32, fields=(Field("AHP", 26), Field("DN", 25), Field("FZ", 24),
                                          Field("RMODE", 22, 2))),
        Reg("MVFR0", MVFR0, 32, MVFR_M4F[0], "r", on_read="_mvfr0",
            doc="Cortex-M4F; without an FPU: reads 0, logged as unknown"),
        Reg("MVFR1", MVFR1, 32, MVFR_M4F[1], "r", on_read="_mvfr1",
            doc="Cortex-M4F; without an FPU: reads 0, logged as unknown"),
    ]
    ids = [Reg(f"PID{n}", 0xFD0 + 4 * i, 32, access="r", doc="peripheral ID: reads 0")
           for i, n in enumerate((4, 5, 6, 7, 0, 1, 2, 3))]
    ids += [Reg(f"CID{n}", 0xFF0 + 4 * n, 32, access="r", doc="component ID: reads 0")
            for n in range(4)]
    return RegisterMap([
        Reg("ICTR", ICTR, 32, fields=(
            Field("INTLINESNUM", 0, 4, "r", max(0, -(-lines // 32) - 1),
                  doc="32-line groups - 1"),)),
        Reg("ACTLR", ACTLR, 32, doc="auxiliary control (implementation defined; stored)"),
        *systick,
        *_irq_arrays(lines),
        *_ipr_regs(lines),
        *scb,
        *ids,
    ], title=f"Cortex-M System Control Space: NVIC, SCB, SysTick, MPU, {lines} IRQ lines "
             "(ARMv7-M B3.2-B3.5)")


def _mpu_register(offset: int) -> property:
    """A register the MPU object keeps, as a stored register of the table: reads and writes go
    to `MPU.read`/`MPU.write`, so a halfword write merges into the rest of the register."""
    def get(self: "NVIC") -> int:
        return self.mpu.read(offset)

    def put(self: "NVIC", value: int) -> None:
        self.mpu.write(offset, value)
    return property(get, put)


# Callbacks the table names with an index: `_set_enable_3` is `_set_enable(3, ...)` (ISER3),
# `_set_priority_20` is `_set_priority(20, ...)` (the priority byte of exception 20).
_INDEXED = frozenset({"_enabled_word", "_set_enable", "_clear_enable", "_pending_word",
                      "_set_pending_word", "_clear_pending_word", "_active_word",
                      "_priority_word", "_set_priority", "_pended"})


def _define_indexed(cls: type, regs: RegisterMap) -> None:
    """Give `cls` the indexed callbacks `regs` names (as `partialmethod`s, once each), so
    that binding the table finds them as it finds any method."""
    for reg in regs:
        for name in (reg.on_read, reg.on_write, *(f.on_read for f in reg.fields),
                     *(f.on_write for f in reg.fields)):
            if name is None or name in cls.__dict__:
                continue
            head, _, index = name.rpartition("_")
            if head in _INDEXED and index.isdigit():
                setattr(cls, name, partialmethod(getattr(cls, head), int(index)))


@model("IRQControllers.NVIC", "metersim.NVIC")
class NVIC(Peripheral):
    size = 0x1000
    registers = nvic_registers()         # numberOfInterrupts decides, per instance
    shcsr = _summary_register("shcsr")
    ccr = _summary_register("ccr")
    vtor = _summary_register("vtor")

    def __init__(self, ctx: Context, priority_mask: int = 0xF0, systick_frequency: int = 0,
                 number_of_interrupts: int = 240, cpu_type: str = "cortex-m4f",
                 mpu_regions: int | None = None):
        self.registers = nvic_registers(number_of_interrupts)
        _define_indexed(type(self), self.registers)
        self.summary = InterruptSummary(NO_PENDING, 256, 0xFE, 0xF0, 0, 0)  # one per NVIC: C
        super().__init__(ctx)                                           # keeps its address
        # Aligned word reads, the usual kind, skip the shift and mask of sub-word ones.
        self._word_readers = {off: slot[0] for off, slot in self._slots.items() if not slot[2]}
        # The STM32F1's Cortex-M3 has no MPU, the STM32F4's Cortex-M4F has 8 regions; a
        # platform can say otherwise with `mpuRegions:` (0, 8 or 16).
        self._mpu_regions = mpu_regions
        self.mpu = MPU(self._default_mpu_regions(cpu_type), log=ctx.log)
        self.priority_mask = priority_mask & 0xFF
        self.systick_frequency = systick_frequency
        self.num_irqs = number_of_interrupts
        self.num_exc = 16 + number_of_interrupts
        self.cpu_type = cpu_type
        self._configured_priority_mask = self.priority_mask
        self.architecture = "v7-M"
        self._slots_v7 = dict(self._slots)
        self._apply_architecture()
        self.cpu = None  # attached by the machine: the core that takes our exceptions
        self.IRQ = GPIO("IRQ")  # Renode's `-> cpu@0`; the core link itself is direct
        self.systick = SysTick(ctx.clock, self._hclk, lambda: self.set_pending(SYSTICK),
                               ctx.log)
        self._bind_hot_paths()
        clocks = getattr(ctx.machine, "clocks", None)
        if clocks is not None:
            clocks.subscribe("HCLK", lambda _hz: self.systick.on_clock_change())
        self.reset()

    def _default_mpu_regions(self, cpu_type: str) -> int:
        if self._mpu_regions is not None:
            return self._mpu_regions
        return 0 if cpu_type in ("cortex-m3", "cortex-m0") else 8

    def _apply_architecture(self) -> None:
        """The SCS of `cpu_type`'s architecture: on ARMv6-M the registers it lacks read 0 and
        ignore writes, IPR and SHPR take word accesses only, CCR is fixed, priorities have 2
        bits; the Cortex-M0 has no VTOR (the M0+ has one, as on every STM32 M0+)."""
        self.architecture = ARCHITECTURES.get(self.cpu_type, "v7-M")
        self._slots = dict(self._slots_v7)
        self.v6m = self.architecture == "v6-M"
        self.priority_mask = self._configured_priority_mask
        if self.v6m:
            self.priority_mask &= V6M_PRIORITY_MASK
            absent = list(V6M_RAZ_WI) + (["VTOR"] if self.cpu_type == "cortex-m0" else [])
            for name in absent:
                self._replace_slots(name, lambda _s, _a: (self._raz, self._ignored))
            self._replace_slots("CCR", lambda _s, _a: (self._v6m_ccr, self._ignored))
            for reg in self.registers:
                if reg.name.startswith("IPR"):
                    self._replace_slots(reg.name, self._word_only)
            # ARMv6-M has no DebugMonitor exception: SHPR2 holds PRI_11 (SVCall) and SHPR3
            # PRI_14/PRI_15 only, the other bytes are reserved (DDI 0419 B3.2.7, B3.2.8)
            self._replace_slots("SHPR2", lambda s, a: self._word_only(s, a, 0xFF000000))
            self._replace_slots("SHPR3", lambda s, a: self._word_only(s, a, 0xFFFF0000))
        self._word_readers = {off: slot[0] for off, slot in self._slots.items() if not slot[2]}
        self._bind_hot_paths()

    def _bind_hot_paths(self) -> None:
        """Word accesses to the registers an RTOS touches at every tick, wake-up and switch
        (SysTick RVR/CVR, ICSR) go straight to their handlers, past the register table's
        generic reader and writer wrappers; same values and effects (the handlers return
        only readable bits and look only at defined ones)."""
        systick = getattr(self, "systick", None)
        if systick is None:
            self._word_writers = {}
            return                       # __init__ binds them once SysTick exists
        self._word_readers[SYST_CSR + 0x4] = systick.read_rvr
        self._word_readers[SYST_CSR + 0x8] = systick.current
        self._word_readers[ICSR] = self._icsr
        self._word_writers = {SYST_CSR + 0x4: systick.write_rvr,
                              SYST_CSR + 0x8: systick.write_cvr,
                              ICSR: self._icsr_set}

    def _replace_slots(self, name: str, make) -> None:
        reg = self.registers[name]
        for byte in range(4):
            slot = self._slots[reg.offset + byte]
            self._slots[reg.offset + byte] = (*make(slot, SCS_BASE + reg.offset + byte),
                                              slot[2], slot[3])

    def _word_only(self, slot: tuple, address: int, implemented: int = 0xFFFFFFFF) -> tuple:
        """ARMv6-M: "NVIC_IPRn and SHPRn are word-accessible only" (DDI 0419 B3.2.1, B3.4.1).
        A byte or halfword write is unpredictable there: metersim ignores it and says so.
        Bits outside `implemented` are reserved: they read 0 and ignore writes."""
        reader, writer, shift, masks = slot
        full = masks[4]

        def put(value: int, wm: int) -> None:
            if shift or wm != full:
                self.ctx.log_once(("v6m-subword", address), logging.WARNING,
                                  "ignored a byte/halfword write to the priority register at "
                                  "0x%08x: ARMv6-M allows word accesses only", address)
                return
            writer(value & implemented, wm & implemented)
        return reader, put

    def _v6m_ccr(self) -> int:
        return V6M_CCR

    def _ignored(self, _value: int, _wm: int) -> None:
        pass

    def attach_cpu(self, cpu) -> None:
        self.cpu = cpu
        if cpu.core != self.cpu_type:
            self.cpu_type = cpu.core
            self._apply_architecture()
            self.reset()
        regions = self._default_mpu_regions(cpu.core)
        if regions != self.mpu.num_regions:
            self.mpu = MPU(regions, log=self.ctx.log)
        self.mpu.on_change = cpu.mpu_changed
        bind = getattr(cpu, "bind_interrupt_summary", None)    # (test doubles have none)
        if bind is not None:
            bind(self.summary)
        # the core's C versions of set_pending and on_gpio (the same steps, the check that
        # follows a pend included), where it has them: peripherals raise IRQ lines, SysTick
        # and ICSR pend, often, and then reach no Python frame
        native = getattr(cpu, "nvic_native_paths", None)
        paths = native(self) if native is not None else None
        if paths is not None:
            self.set_pending, self.on_gpio = paths
        else:
            self.__dict__.pop("set_pending", None)
            self.__dict__.pop("on_gpio", None)

    def _hclk(self) -> int:
        clocks = getattr(self.ctx.machine, "clocks", None)
        hz = clocks.rate_hz("HCLK") if clocks is not None else 0
        if not hz and self.cpu is not None:
            hz = self.cpu.freq_hz
        return hz or self.systick_frequency or 16_000_000

    # -- state --------------------------------------------------------------------------------
    def reset(self) -> None:
        n = self.num_exc
        self.enabled = bytearray(n)      # only meaningful for IRQs (>= 16)
        self.pending = bytearray(n)
        self.active = bytearray(n)
        self.level = bytearray(n)        # input line levels of IRQs
        self.prio = [0] * n              # raw 8-bit priorities (masked)
        self.prio[RESET], self.prio[NMI], self.prio[HARDFAULT] = -3, -2, -1
        self.pending_set: set[int] = set()
        self._act: list[int] = []  # active exceptions, oldest first
        self.prigroup = 0          # AIRCR.PRIGROUP, read on every priority comparison
        self.systick.reset()
        self.mpu.reset()
        # After the MPU's reset: its registers are already 0, so writing 0 changes nothing.
        self.reset_registers()
        self._summarise_priorities()
        if self.cpu is not None:
            self.cpu.traps_changed()     # CCR and CPACR are back at their reset values

    # -- priorities ---------------------------------------------------------------------------
    def group_priority(self, raw: int) -> int:
        if raw < 0:
            return raw
        return raw & ((0xFF << (self.prigroup + 1)) & 0xFF)

    def exception_enabled(self, exc: int) -> bool:
        if exc >= 16:
            return bool(self.enabled[exc])
        if self.v6m and exc <= USAGEFAULT:
            return exc <= HARDFAULT      # ARMv6-M has no configurable faults
        if exc == MEMMANAGE:
            return bool(self.shcsr & SHCSR_MEMFAULTENA)
        if exc == BUSFAULT:
            return bool(self.shcsr & SHCSR_BUSFAULTENA)
        if exc == USAGEFAULT:
            return bool(self.shcsr & SHCSR_USGFAULTENA)
        return True

    def execution_priority(self, primask: int, faultmask: int, basepri: int) -> int:
        """Current execution priority (ARMv7-M B1.5.4); 256 = thread mode, nothing masked.
        The active exceptions' part is the summary's."""
        sm = self.summary
        p = sm.active
        if basepri & self.priority_mask:
            g = basepri & self.priority_mask & sm.gmask
            if g < p:
                p = g
        if primask & 1 and p > 0:
            p = 0
        if faultmask & 1 and p > -1:
            p = -1
        return p

    def active_list(self) -> list[int]:
        return self._act

    def highest_pending(self) -> int | None:
        """The pending, enabled exception that would be taken first, or None."""
        pending_set = self.pending_set
        if len(pending_set) == 1:        # the usual case: no ordering to do
            for exc in pending_set:
                return exc if self.exception_enabled(exc) else None
        best = None
        best_key = None
        gmask = (0xFF << (self.prigroup + 1)) & 0xFF
        prio = self.prio
        for exc in pending_set:
            if not self.exception_enabled(exc):
                continue
            raw = prio[exc]
            key = (raw if raw < 0 else raw & gmask, raw, exc)
            if best_key is None or key < best_key:
                best, best_key = exc, key
        return best

    # -- the summary (InterruptSummary): recomputed wherever its inputs change ----------------
    def _summarise_pending(self) -> None:
        """`summary.best` from the pending set, the enables and the priorities."""
        best = NO_PENDING
        if self.pending_set:
            gmask = self.summary.gmask
            prio = self.prio
            for exc in self.pending_set:
                if self.exception_enabled(exc):
                    raw = prio[exc]
                    g = raw if raw < 0 else raw & gmask
                    if g < best:
                        best = g
        self.summary.best = best

    def _summarise_active(self) -> None:
        """`summary.active` from the active list and the priorities."""
        p = 256
        gmask = self.summary.gmask
        prio = self.prio
        for exc in self._act:
            raw = prio[exc]
            g = raw if raw < 0 else raw & gmask
            if g < p:
                p = g
        self.summary.active = p

    def _summarise_priorities(self) -> None:
        """Priorities, PRIGROUP, the priority mask or the architecture changed: all of it."""
        sm = self.summary
        sm.gmask = (0xFF << (self.prigroup + 1)) & 0xFF
        sm.pmask = self.priority_mask
        sm.v6m = 1 if self.v6m else 0
        sm.gen = (sm.gen + 1) & 0x7FFFFFFF
        self._summarise_pending()
        self._summarise_active()

    def refresh_summary(self) -> None:
        """For code that replaces `pending_set` or the arrays wholesale (the debugger's step
        without interrupts): recompute the summary from them. It also tells the core's C
        exception path, which holds on to the containers, to fetch them again."""
        self._summarise_priorities()

    def pending_to_take(self, exec_priority: int) -> int | None:
        """The exception that preempts at `exec_priority`, or None."""
        if self.summary.best >= exec_priority:
            return None
        exc = self.highest_pending()
        if exc is None:
            return None
        raw = self.prio[exc]
        if (raw if raw < 0 else raw & ((0xFF << (self.prigroup + 1)) & 0xFF)) < exec_priority:
            return exc
        return None

    # -- transitions driven by the core -------------------------------------------------------
    def set_pending(self, exc: int) -> None:
        """Pend `exc` and tell the core if it may preempt (with the core's C extension the
        instance's set_pending is its C version of these steps: see attach_cpu)."""
        sm = self.summary
        if not self.pending[exc]:                  # pend(exc), inlined: a hot path
            self.pending[exc] = 1
            self.pending_set.add(exc)
            # exception_enabled, inlined for the IRQs (the peripherals' calls)
            if self.enabled[exc] if exc >= 16 else self.exception_enabled(exc):
                raw = self.prio[exc]
                g = raw if raw < 0 else raw & sm.gmask
                if g < sm.best:
                    sm.best = g
        # the core looks only if something can preempt the active exceptions (what else
        # holds it back, the masks, the core checks; an unmask site or WFI looks again)
        if sm.best < sm.active and self.cpu is not None:
            self.cpu.interrupt_pending_changed()

    def pend(self, exc: int) -> None:
        """Make `exc` pending without telling the core (it is about to take it, or looks
        itself): SVC and faults."""
        if not self.pending[exc]:
            self.pending[exc] = 1
            self.pending_set.add(exc)
            if self.exception_enabled(exc):        # the summary: one more candidate
                raw = self.prio[exc]
                g = raw if raw < 0 else raw & self.summary.gmask
                if g < self.summary.best:
                    self.summary.best = g

    def clear_pending(self, exc: int) -> None:
        if self.pending[exc]:
            self.pending[exc] = 0
            self.pending_set.discard(exc)
            self._summarise_pending()

    def acknowledge(self, exc: int) -> None:
        """Exception entry: pending -> active."""
        self.clear_pending(exc)
        self.active[exc] = 1
        self._act.append(exc)
        raw = self.prio[exc]                       # the summary: one more active
        g = raw if raw < 0 else raw & self.summary.gmask
        if g < self.summary.active:
            self.summary.active = g
        if MEMMANAGE <= exc <= SYSTICK:
            self._shcsr_active(exc, True)

    def complete(self, exc: int) -> None:
        """Exception return from `exc`: deactivate; a still-asserted IRQ line pends again."""
        self.active[exc] = 0
        try:
            self._act.remove(exc)
        except ValueError:
            pass
        self._summarise_active()
        if MEMMANAGE <= exc <= SYSTICK:
            self._shcsr_active(exc, False)
        if exc >= 16 and self.level[exc]:
            self.set_pending(exc)

    _SHCSR_ACT = {MEMMANAGE: 0, BUSFAULT: 1, USAGEFAULT: 3, SVCALL: 7, DEBUGMON: 8,
                  PENDSV: 10, SYSTICK: 11}

    def _shcsr_active(self, exc: int, on: bool) -> None:
        if self.v6m:
            return                       # ARMv6-M's SHCSR holds SVCALLPENDED only
        bit = self._SHCSR_ACT.get(exc)
        if bit is not None:
            self.shcsr = self.shcsr | (1 << bit) if on else self.shcsr & ~(1 << bit)

    def clear_all_active(self) -> None:
        for exc in list(self._act):
            self.active[exc] = 0
        self._act.clear()
        self._summarise_active()

    # -- IRQ inputs (GPIO receiver) -----------------------------------------------------------
    def on_gpio(self, irq: int, level: bool) -> None:
        exc = 16 + irq
        if exc >= self.num_exc:
            self._irq_beyond(irq)
            return
        was = self.level[exc]
        self.level[exc] = 1 if level else 0
        if level and not was:
            self.set_pending(exc)

    def _irq_beyond(self, irq: int) -> None:
        self.ctx.log_once(("irq-range", irq), logging.WARNING,
                          "IRQ %d is beyond the %d lines of this NVIC", irq, self.num_irqs)

    # -- bus: privilege, the MPU's fast path, then the table --------------------------------------
    def hot_registers(self) -> list:
        """An ICSR word write that pends PendSV (an RTOS switching threads) is made in C by the
        engine (metersim._engine.hot_regs) through this NVIC's C set_pending (attach_cpu),
        when it is the core's; other set or clear bits go to `write`. An ICSR word read while
        nothing is pending (an RTOS about to sleep checks that) is answered in C as `_icsr`
        answers it, from the core's IPSR and `_act`."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(ICSR, "icsr_write", self, sizes=(4,), privileged=True),
                HotRegister(ICSR, "icsr", self, sizes=(4,), privileged=True)]

    def read(self, offset: int, size: int) -> int:
        cpu = self.cpu
        if cpu is not None and not cpu.is_privileged():
            cpu.bus_error_from_mmio(SCS_BASE + offset, False)
            return 0
        if size == 4:
            reader = self._word_readers.get(offset)
            if reader is not None:
                return reader()
        slot = self._slots.get(offset)           # Peripheral.read, inlined: a hot path
        if slot is None:
            self.log_unhandled(offset, size, None)
            return 0
        return (slot[0]() >> slot[2]) & SIZE_MASK[size]

    def write(self, offset: int, size: int, value: int) -> None:
        cpu = self.cpu
        if cpu is not None and not cpu.is_privileged() and not (
                offset == 0xF00 and self.ccr & CCR_USERSETMPEND):     # STIR
            cpu.bus_error_from_mmio(SCS_BASE + offset, True)
            return
        if size == 4:
            writer = self._word_writers.get(offset)
            if writer is not None:
                writer(value)
                return
            if 0xD90 <= offset < 0xD90 + MPU_BLOCK:   # MPU_TYPE .. MPU_RASR_A3
                self.mpu.write(offset - 0xD90, value)   # an RTOS writes these at every switch
                return
        slot = self._slots.get(offset)           # Peripheral.write, inlined: a hot path
        if slot is None:
            self.log_unhandled(offset, size, value)
            return
        wm = slot[3][size]
        slot[1]((value << slot[2]) & wm, wm)

    def _raz(self) -> int:
        return 0

    # -- SysTick (the SysTick object keeps its registers) ------------------------------------------
    def _syst_csr(self) -> int:
        return self.systick.read(0x0)            # the read clears COUNTFLAG

    def _syst_csr_written(self, _old: int, value: int) -> None:
        self.systick.write(0x0, value)

    def _syst_rvr(self) -> int:
        return self.systick.rvr

    def _syst_rvr_written(self, _old: int, value: int) -> None:
        self.systick.write(0x4, value)

    def _syst_cvr(self) -> int:
        if self.cpu is not None:
            self.cpu.time_register_read()         # a loop timing out on it: skip bounded
        return self.systick.current()

    def _syst_cvr_written(self, _old: int, value: int) -> None:
        self.systick.write(0x8, value)

    def _syst_calib(self) -> int:
        return self.systick.read(0xC)

    # -- MPU (the MPU object keeps its registers) ----------------------------------------------
    mpu_ctrl = _mpu_register(0x04)
    mpu_rnr = _mpu_register(0x08)
    mpu_rbar = _mpu_register(0x0C)
    mpu_rasr = _mpu_register(0x10)
    mpu_rbar_a1 = _mpu_register(0x14)
    mpu_rasr_a1 = _mpu_register(0x18)
    mpu_rbar_a2 = _mpu_register(0x1C)
    mpu_rasr_a2 = _mpu_register(0x20)

    def _mpu_type(self) -> int:
        return self.mpu.read(0x0)

    # -- NVIC arrays ----------------------------------------------------------------------------
    def _enabled_word(self, n: int) -> int:
        return _irq_bits(self.enabled, 16 + 32 * n)

    def _pending_word(self, n: int) -> int:
        return _irq_bits(self.pending, 16 + 32 * n)

    def _active_word(self, n: int) -> int:
        return _irq_bits(self.active, 16 + 32 * n)

    def _set_enable(self, n: int, _old: int, value: int) -> None:
        enabled, exc = self.enabled, 16 + 32 * n
        while value:
            if value & 1:
                enabled[exc] = 1
            value >>= 1
            exc += 1
        if self.pending_set:
            self._summarise_pending()
            if self.cpu is not None:
                self.cpu.interrupt_pending_changed()

    def _clear_enable(self, n: int, _old: int, value: int) -> None:
        enabled, exc = self.enabled, 16 + 32 * n
        while value:
            if value & 1:
                enabled[exc] = 0
            value >>= 1
            exc += 1
        if self.pending_set:
            self._summarise_pending()

    def _set_pending_word(self, n: int, _old: int, value: int) -> None:
        exc = 16 + 32 * n
        while value:
            if value & 1:
                self.set_pending(exc)
            value >>= 1
            exc += 1

    def _clear_pending_word(self, n: int, _old: int, value: int) -> None:
        exc = 16 + 32 * n
        while value:
            if value & 1:
                self.clear_pending(exc)
            value >>= 1
            exc += 1

    def _priority_word(self, first: int) -> int:
        """The priority bytes of exceptions first .. first+3 (IPRn, SHPRn)."""
        prio, v = self.prio, 0
        for i in range(4):
            if first + i < self.num_exc:
                v |= (prio[first + i] & 0xFF) << (8 * i)
        return v

    def _set_priority(self, exc: int, byte: int) -> None:
        self.prio[exc] = byte & self.priority_mask
        if self.pending_set or self.active[exc]:
            self._summarise_pending()
            self._summarise_active()
            if self.cpu is not None and self.pending_set:
                self.cpu.interrupt_pending_changed()

    def _stir_written(self, _old: int, value: int) -> None:
        if 16 + value < self.num_exc:
            self.set_pending(16 + value)

    # -- SCB ------------------------------------------------------------------------------------
    def _cpuid(self) -> int:
        return CPUID_BY_CORE.get(self.cpu_type, 0x410FC241)

    def _icsr(self) -> int:
        v = (self.cpu.current_exception() & 0x1FF) if self.cpu is not None else 0
        if len(self._act) <= 1:
            v |= ICSR_RETTOBASE
        pending_set = self.pending_set
        if not pending_set:
            return v                     # the usual case: nothing pending
        hp = self.highest_pending()
        if hp is not None:
            v |= (hp & 0x1FF) << 12
        for e in pending_set:
            if e >= 16:
                v |= ICSR_ISRPENDING
                break
        pending = self.pending
        if pending[SYSTICK]:
            v |= ICSR_PENDSTSET
        if pending[PENDSV]:
            v |= ICSR_PENDSVSET
        if pending[NMI]:
            v |= ICSR_NMIPENDSET
        return v

    def _icsr_written(self, _old: int, value: int) -> None:
        self._icsr_set(value)

    def _icsr_set(self, value: int) -> None:
        """ICSR's set and clear bits (a word write comes here straight: an RTOS pends
        PendSV through it at every switch)."""
        if value & ICSR_NMIPENDSET:
            self.set_pending(NMI)
        if value & ICSR_PENDSVSET:
            self.set_pending(PENDSV)
        elif value & ICSR_PENDSVCLR:
            self.clear_pending(PENDSV)
        if value & ICSR_PENDSTSET:
            self.set_pending(SYSTICK)
        elif value & ICSR_PENDSTCLR:
            self.clear_pending(SYSTICK)

    def _aircr_written(self, old: int, value: int) -> None:
        if self.aircr >> 16 != AIRCR_VECTKEY:
            self.ctx.log(logging.WARNING, "AIRCR write 0x%08x without VECTKEY 0x05FA ignored",
                         self.aircr | value)
            self.aircr = old
            return
        self.prigroup = 0 if self.v6m else (self.aircr >> 8) & 7    # v6-M: no PRIGROUP
        self.aircr = AIRCR_VECTKEYSTAT << 16 | self.prigroup << 8
        if value & 0x4:  # SYSRESETREQ
            machine = self.ctx.machine
            if machine is not None:
                machine.request_reset("software")
        if value & 0x2:  # VECTCLRACTIVE (debug use)
            self.clear_all_active()
        self._summarise_priorities()             # PRIGROUP may have changed
        if self.cpu is not None and self.pending_set:
            self.cpu.interrupt_pending_changed()

    def _ccr_written(self, _old: int, _value: int) -> None:
        if self.cpu is not None:
            self.cpu.traps_changed()

    def _shcsr_written(self, _old: int, _value: int) -> None:
        if self.v6m:
            self.shcsr = 0               # no fault enables or active bits to keep
        self._summarise_pending()        # MEMFAULTENA, BUSFAULTENA, USGFAULTENA
        if self.cpu is not None and self.pending_set:
            self.cpu.interrupt_pending_changed()

    def _pended(self, exc: int) -> int:
        return self.pending[exc]

    def _cpacr_written(self, _old: int, _value: int) -> None:
        if self.cpu_type != "cortex-m4f":
            self.cpacr = 0                       # no FPU: RAZ/WI
        if self.cpu is not None:
            self.cpu.traps_changed()

    def _mvfr0(self) -> int:
        return self._mvfr(0)

    def _mvfr1(self) -> int:
        return self._mvfr(1)

    def _mvfr(self, n: int) -> int:
        if self.cpu_type == "cortex-m4f":
            return MVFR_M4F[n]
        self.log_unhandled(MVFR0 + 4 * n, 4, None)   # no FPU, no media and FP features
        return 0


@model("Miscellaneous.DWT", "metersim.DWT")
class DWT(Peripheral):
    """Data Watchpoint and Trace unit: CTRL and CYCCNT.

    CYCCNT counts core clock cycles while the core runs; it stops while the core sleeps in
    WFI/WFE, because the STM32 gates the core clock in Sleep mode (RM0090 5.3, RM0008 5.3).
    """

    size = 0x1000

    def __init__(self, ctx: Context, frequency: int = 0):
        super().__init__(ctx)
        self.cpu = None
        self.reset()

    def reset(self) -> None:
        self.ctrl = 0x40000000  # NUMCOMP=4
        self._cyc_base = 0       # CYCCNT value at the anchor
        self._anchor = None      # core cycle count when counting started, None = stopped

    def _cycles(self) -> int:
        return self.cpu.active_cycles() if self.cpu is not None else 0

    def hot_registers(self) -> list:
        """CTRL and CYCCNT (firmware time-stamps with CYCCNT) are answered in C by the engine
        (metersim._engine.hot_regs), from ctrl, _cyc_base, _anchor and the core's active
        cycles, as `read` computes them."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(0x0, "dwt_ctrl", self), HotRegister(0x4, "dwt_cyccnt", self)]

    def read(self, offset: int, size: int) -> int:
        if offset == 0x0:
            return self.ctrl
        if offset == 0x4:
            if self.cpu is not None:
                self.cpu.time_register_read()     # a loop timing out on it: skip bounded
            return self.cyccnt_at(self._cycles())
        return super().read(offset, size)

    def cyccnt_at(self, active_cycles: int) -> int:
        """CYCCNT when the core has run `active_cycles` cycles awake (now, or at a trial
        instant: metersim._engine.poll_probe)."""
        if self._anchor is None:
            return self._cyc_base & 0xFFFFFFFF
        return (self._cyc_base + active_cycles - self._anchor) & 0xFFFFFFFF

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0x0:
            enable = value & 1
            current = self.read(0x4, 4)
            self.ctrl = (self.ctrl & 0xF0000000) | (value & 0x0FFFFFFF)
            self._cyc_base = current
            self._anchor = self._cycles() if enable else None
        elif offset == 0x4:
            self._cyc_base = value
            if self._anchor is not None:
                self._anchor = self._cycles()
        else:
            super().write(offset, size, value)
