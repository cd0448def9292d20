# arm-none-eabi toolchain and the flags every metersim firmware image shares.

CROSS   ?= arm-none-eabi-
CC      := $(CROSS)gcc
OBJCOPY := $(CROSS)objcopy
NM      := $(CROSS)nm

# Cores: Cortex-M3 (STM32F103) and Cortex-M4F (STM32F413, STM32F405 under QEMU).
ARCH_m3  := -mcpu=cortex-m3 -mthumb
ARCH_m4f := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard

CSTD     := -std=c11
WARN     := -Wall -Wextra -Werror -Wmissing-prototypes -Wmissing-declarations
OPT      := -Os -g -ffunction-sections -fdata-sections
# Bare metal: no host OS services, no semihosting. newlib-nano only supplies
# memcpy/memset that GCC may call for copy loops; libgcc the 64-bit helpers.
LDFLAGS  := --specs=nano.specs -nostartfiles -Wl,--gc-sections -Wl,--fatal-warnings \
            -Wl,--no-warn-rwx-segments
