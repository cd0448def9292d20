"""The Cortex-M cores a platform may name (`cpuType` in a .repl) and their architecture.

Renode's `CPU.CortexM` takes `cpuType: "cortex-m0"` ... `"cortex-m33"`; metersim maps each to
unicorn's CPU model (metersim._engine.cpu.CORE_MODELS) and records the architecture profile on
the machine (`machine.architecture`), since the system blocks differ by profile
(ARMv6-M: no BASEPRI/FAULTMASK, 2-bit priorities, no configurable faults, no DWT/ITM;
ARMv8-M mainline: MSPLIM/PSPLIM, SAU; ARMv7-M: what metersim's NVIC/SCB model).
"""

from __future__ import annotations

#: cpuType -> architecture profile (ARM DDI 0419 / 0403 / 0553).
ARCHITECTURES = {
    "cortex-m0": "v6-M",
    "cortex-m0+": "v6-M",
    "cortex-m3": "v7-M",
    "cortex-m4": "v7-M",
    "cortex-m4f": "v7-M",
    "cortex-m7": "v7-M",
    "cortex-m33": "v8-M",
}

#: Cores whose exception model is ARMv7-M's as metersim implements it in full. The others differ
#: where a firmware notices, and metersim applies that (metersim._engine.cpu, the NVIC model):
#: ARMv6-M: every fault is HardFault; CFSR/HFSR/MMFAR/BFAR/SHPR1/CPACR and the DebugMonitor
#: priority read 0; IPR and SHPR take word writes only; 2 priority bits; no PRIGROUP, BASEPRI
#: or FAULTMASK; CCR fixed at STKALIGN | UNALIGN_TRP; SHCSR has no fault enables; no VTOR on
#: the Cortex-M0.
#: ARMv8-M mainline (secure state only): MSPLIM/PSPLIM checks of SP updates, a STKOF
#: UsageFault. Not modelled: the stack limit check of exception entry stacking, the SAU,
#: EXC_RETURN's security bits, the M7's caches and TCM control registers.
EXCEPTIONS_MODELLED = frozenset({"cortex-m3", "cortex-m4", "cortex-m4f", "cortex-m7"})

#: Core clock before an RCC model sets one: the reset oscillator of the STM32 families with
#: that core (F0: HSI 8 MHz; F1: HSI 8 MHz; G0, F4, F7, WBA: HSI16; RM0091, RM0008, RM0444,
#: RM0430, RM0385, RM0493). A platform's NVIC `systickFrequency` takes precedence.
RESET_HCLK_HZ = {
    "cortex-m0": 8_000_000,
    "cortex-m0+": 16_000_000,
    "cortex-m3": 8_000_000,
    "cortex-m4": 16_000_000,
    "cortex-m4f": 16_000_000,
    "cortex-m7": 16_000_000,
    "cortex-m33": 16_000_000,
}


def core_name(value: object) -> str | None:
    """The canonical name of a `cpuType` ("Cortex-M0+", "cortex_m7", "cortexm33" ...), or
    None when it names no Cortex-M core metersim knows."""
    text = str(value).strip().lower().replace("_", "-")
    if text.startswith("cortexm"):
        text = "cortex-m" + text[len("cortexm"):]
    if text.endswith("plus"):
        text = text[:-4].rstrip("-") + "+"
    return text if text in ARCHITECTURES else None
