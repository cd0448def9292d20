"""GDB target description and register table of the emulated Cortex-M cores.

GDB reads the register layout from `qXfer:features:read:target.xml` (GDB manual, "Target
Descriptions" and "ARM Features"):
- `org.gnu.gdb.arm.m-profile`: r0-r12, sp, lr, pc, xpsr (required for an M-profile target);
- `org.gnu.gdb.arm.m-system`: msp, psp (GDB unwinds exception frames with them), plus the
  special registers primask, basepri, faultmask, control that an RTOS developer needs to see;
- `org.gnu.gdb.arm.vfp` on the Cortex-M4F only: d0-d15 and fpscr (GDB derives s0-s31).

The remote register numbers (`regnum`) are the indices of `REGISTERS`; `g`/`G` packets carry
the registers in that order, little-endian.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegDef:
    name: str
    bits: int
    feature: str
    type: str = "int"
    group: str = ""


_M_PROFILE = "org.gnu.gdb.arm.m-profile"
_M_SYSTEM = "org.gnu.gdb.arm.m-system"
_VFP = "org.gnu.gdb.arm.vfp"

_CORE_REGS = ([RegDef(f"r{i}", 32, _M_PROFILE, "uint32", "general") for i in range(13)]
              + [RegDef("sp", 32, _M_PROFILE, "data_ptr", "general"),
                 RegDef("lr", 32, _M_PROFILE, "int", "general"),
                 RegDef("pc", 32, _M_PROFILE, "code_ptr", "general"),
                 RegDef("xpsr", 32, _M_PROFILE, "int", "general")])
_SYSTEM_REGS = [RegDef("msp", 32, _M_SYSTEM, "data_ptr", "system"),
                RegDef("psp", 32, _M_SYSTEM, "data_ptr", "system"),
                RegDef("primask", 32, _M_SYSTEM, "int", "system"),
                RegDef("basepri", 32, _M_SYSTEM, "int", "system"),
                RegDef("faultmask", 32, _M_SYSTEM, "int", "system"),
                RegDef("control", 32, _M_SYSTEM, "int", "system")]
_FP_REGS = ([RegDef(f"d{i}", 64, _VFP, "ieee_double", "float") for i in range(16)]
            + [RegDef("fpscr", 32, _VFP, "int", "float")])


def registers(has_fpu: bool) -> list[RegDef]:
    """The registers GDB sees, in remote-protocol order."""
    return _CORE_REGS + _SYSTEM_REGS + (_FP_REGS if has_fpu else [])


def target_xml(has_fpu: bool) -> str:
    regs = registers(has_fpu)
    out = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
           '<target version="1.0">', "  <architecture>arm</architecture>"]
    feature = None
    for num, r in enumerate(regs):
        if r.feature != feature:
            if feature is not None:
                out.append("  </feature>")
            feature = r.feature
            out.append(f'  <feature name="{feature}">')
        group = f' group="{r.group}"' if r.group else ""
        out.append(f'    <reg name="{r.name}" bitsize="{r.bits}" regnum="{num}" '
                   f'type="{r.type}"{group}/>')
    out += ["  </feature>", "</target>"]
    return "\n".join(out) + "\n"
