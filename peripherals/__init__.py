"""Python models of the chips: Cortex-M system blocks, STM32 SoC blocks and board devices.

Models follow the small interfaces of `metersim.peripherals.base` and import nothing else from
the engine except the clock, so each one is unit-testable without firmware.
"""
