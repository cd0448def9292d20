# Device drivers (ADE7753, AT24C EEPROM, W25Q NOR, littlefs port) and their emulated test
# programs (drivers/tests/<name>/main.c), included by the firmware Makefile.
#
# littlefs is a dependency, not vendored: its C sources are unpacked from the littlefs-python
# sdist pinned in ../pyproject.toml into $(BUILD)/deps/littlefs by drivers/fetch_littlefs.py
# (pip download when the sdist is not in $(BUILD)/deps yet), the first time they are needed.
# It is built like littlefs-python builds it (LFS_MULTIVERSION), without malloc or logging.
#
# The test programs link the RTOS kernel, the BSP (bsp/stm32 + bsp/<family>), the drivers,
# littlefs and their frame (drivers/tests/common: clocks, console, RTOS start, PASS/FAIL).

DRV_DEPS     := $(BUILD)/deps
LFS_DIR      := $(DRV_DEPS)/littlefs
LFS_STAMP    := $(LFS_DIR)/VERSION
DRV_PYTHON   ?= $(firstword $(wildcard ../.venv/bin/python) python3)
LFS_DEFS     := -DLFS_MULTIVERSION -DLFS_NO_MALLOC -DLFS_NO_DEBUG -DLFS_NO_WARN -DLFS_NO_ERROR \
                -DLFS_NO_ASSERT
DRV_SRCS     := $(wildcard drivers/*.c)
DRV_TESTS    := $(sort $(notdir $(patsubst %/main.c,%,$(wildcard drivers/tests/*/main.c))))
DRV_TARGETS  := $(filter f103rb f103rc f413rg,$(TARGETS))
DRV_RTOS_SRCS := $(wildcard rtos/src/*.c rtos/src/*.S)
DRV_FRAME_SRCS := $(wildcard drivers/tests/common/*.c)

$(LFS_STAMP): drivers/fetch_littlefs.py ../pyproject.toml
	@echo "  FETCH   littlefs (littlefs-python sdist) -> $(call show,$(LFS_DIR))"
	$(Q)$(DRV_PYTHON) drivers/fetch_littlefs.py $(DRV_DEPS) ../pyproject.toml $(DRV_PYTHON)

$(LFS_DIR)/lfs.c $(LFS_DIR)/lfs_util.c $(LFS_DIR)/lfs.h $(LFS_DIR)/lfs_util.h: $(LFS_STAMP) ;

.PHONY: littlefs
littlefs: $(LFS_STAMP)

$(eval _drv_progdir_before = $(value progdir))
progdir = $(if $(filter $(DRV_TESTS),$(1)),drivers/tests/$(1),$(call _drv_progdir_before,$(1)))

# $(1) = target
define DRV_TARGET_RULES
CFLAGS_$(1) += -Ibsp/include -Ibsp/stm32 -Irtos/include -Idrivers -Idrivers/tests/common \
               -I$(LFS_DIR) $(LFS_DEFS)
DRV_BSP_SRCS_$(1) := $$(wildcard bsp/stm32/*.c bsp/$$(FAMILY_$(1))/*.c)
DRV_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$$(DRV_SRCS))
DRV_LFS_OBJS_$(1) := $(OUT)/$(1)/obj/littlefs/lfs.c.o $(OUT)/$(1)/obj/littlefs/lfs_util.c.o
DRV_LINK_OBJS_$(1) := $$(DRV_OBJS_$(1)) $$(DRV_LFS_OBJS_$(1)) \
    $$(patsubst %,$(OUT)/$(1)/obj/%.o,$$(DRV_FRAME_SRCS) $$(DRV_RTOS_SRCS) $$(DRV_BSP_SRCS_$(1)))
ALL_OBJS += $$(DRV_LINK_OBJS_$(1))

$(OUT)/$(1)/obj/littlefs/%.c.o: $(LFS_DIR)/%.c $(OUT)/$(1)/.flags
	@mkdir -p $$(@D)
	@echo "  CC      $$(call show,$$@)"
	$$(Q)$$(CC) $$(CFLAGS_$(1)) -MMD -MP -c $$< -o $$@

# Everything that includes lfs.h waits for the sources to be unpacked.
$$(DRV_OBJS_$(1)) $$(patsubst %,$(OUT)/$(1)/obj/%.o,$$(wildcard drivers/tests/*/*.c)): | $(LFS_STAMP)
endef

# $(1) = target, $(2) = program
define DRV_PROGRAM_RULES
$$(eval $$(call PROGRAM_RULES,$(1),$(2)))
OBJS_$(1)_$(2) += $$(DRV_LINK_OBJS_$(1))
$(OUT)/$(1)/$(2).elf: $$(DRV_LINK_OBJS_$(1))
drivers: $(OUT)/$(1)/$(2).elf $(OUT)/$(1)/$(2).size.txt
endef

.PHONY: drivers
ifneq ($(wildcard bsp/include/bsp.h),)
$(foreach t,$(DRV_TARGETS),$(eval $(call DRV_TARGET_RULES,$(t))))
$(foreach t,$(DRV_TARGETS),$(if $(wildcard bsp/stm32/*.c),\
    $(foreach p,$(DRV_TESTS),$(eval $(call DRV_PROGRAM_RULES,$(t),$(p))))))
endif
