"""Cortex-M system blocks: NVIC with SCB and SysTick (the System Control Space), DWT, FPU regs.

Register addresses and bit fields follow the ARMv7-M Architecture Reference Manual and the
programming manuals PM0056 (STM32F1, Cortex-M3) and PM0214 (STM32F4, Cortex-M4).
"""
