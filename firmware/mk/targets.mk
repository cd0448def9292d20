# Build targets: a core, a BSP family, a part define and a linker script each; the part
# (PART_<target>) and the core are recorded in every ELF (mk/target_note.S).
#   f103rb  STM32F103RB  Cortex-M3   128 KiB flash / 20 KiB SRAM
#   f103rc  STM32F103RC  Cortex-M3   256 KiB flash / 48 KiB SRAM  (the query manager)
#   f413rg  STM32F413RG  Cortex-M4F  1 MiB flash / 320 KiB SRAM
#   qemu405 STM32F405RG  Cortex-M4F  1 MiB flash / 128 KiB SRAM, QEMU -M netduinoplus2
#   qemu100 F103RB programs on QEMU -M stm32vldiscovery (F100: 128 KiB / 8 KiB), qemu-check only

PART_f103rb     := STM32F103RB
CORE_f103rb     := m3
FAMILY_f103rb   := stm32f1
DEFS_f103rb     := -DSTM32F103xB
LDSCRIPT_f103rb := bsp/stm32f1/stm32f103rb.ld

PART_f103rc     := STM32F103RC
CORE_f103rc     := m3
FAMILY_f103rc   := stm32f1
DEFS_f103rc     := -DSTM32F103xE
LDSCRIPT_f103rc := bsp/stm32f1/stm32f103rc.ld

PART_f413rg     := STM32F413RG
CORE_f413rg     := m4f
FAMILY_f413rg   := stm32f4
DEFS_f413rg     := -DSTM32F413xx
LDSCRIPT_f413rg := bsp/stm32f4/stm32f413rg.ld

PART_qemu100     := STM32F100RB
CORE_qemu100     := m3
FAMILY_qemu100   := stm32f1
DEFS_qemu100     := -DSTM32F103xB -DMETERSIM_QEMU
LDSCRIPT_qemu100 := bsp/stm32f1/stm32f100_qemu.ld

PART_qemu405     := STM32F405RG
CORE_qemu405     := m4f
FAMILY_qemu405   := stm32f4
DEFS_qemu405     := -DSTM32F405xx -DMETERSIM_QEMU
LDSCRIPT_qemu405 := bsp/stm32f4/stm32f405_qemu.ld

# Core names as metersim spells them (the note's core=).
CORE_NAME_m3  := cortex-m3
CORE_NAME_m4f := cortex-m4f

# Programs: engine tests (tests/<name>) and demo/benchmark targets (targets/<name>).
TESTS_ALL := systick_rate nvic_priority context_switch vtor_reloc unpriv_trap mpu_regions traps \
             bad_access bad_instr wfi_idle
TESTS_M4F := fpu_preserve
# SoC model tests (RCC, USART, SPI, I2C, TIM, IWDG, flash, EXTI): need metersim's STM32
# peripheral models, so they are built for the metersim targets only (not for QEMU).
TESTS_SOC := soc_clock soc_usart_timing soc_usart_link soc_spi soc_i2c soc_timer soc_iwdg \
             soc_flash soc_exti
DEMOS     := hello bench_cpu bench_idle bench_mpu_switch

PROGRAMS_f103rb  := $(TESTS_ALL) $(TESTS_SOC) $(DEMOS)
PROGRAMS_f103rc  := $(TESTS_ALL) $(DEMOS)
PROGRAMS_f413rg  := $(TESTS_ALL) $(TESTS_M4F) $(TESTS_SOC) $(DEMOS)
# QEMU builds by default: the CPU and idle benchmarks and the architecture programs that
# tests/engine/test_qemu_crosscheck.py runs on both metersim and QEMU.
PROGRAMS_qemu405 := bench_cpu bench_idle mpu_regions traps
PROGRAMS_qemu100 := traps
# `make qemu-check` builds every program for the QEMU targets as a cross-check.
ifeq ($(QEMU_ALL),1)
PROGRAMS_qemu405 := $(TESTS_ALL) $(TESTS_M4F) $(DEMOS)
PROGRAMS_qemu100 := $(TESTS_ALL) $(DEMOS)
endif

# Where a program's own sources live.
progdir = $(if $(filter $(DEMOS),$(1)),targets/$(1),tests/$(1))
