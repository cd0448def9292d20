# Image formats of the management unit (image/: ms_image, ms_flashfs; docs/meter_flash_layout.md)
# and their test program image/tests/img_flashfs, which links a flashfs packed at build time
# by metersim's Python packer (image/tests/mk_test_flashfs.py) at 0x08040000.

IMG_TARGETS := $(filter f413rg,$(TARGETS))
IMG_SRCS    := image/ms_image.c image/ms_flashfs.c
IMG_PYTHON  ?= $(firstword $(wildcard ../.venv/bin/python) python3)
IMG_PY_SRCS := $(wildcard ../src/metersim/_image/*.py)

$(eval _img_progdir_before = $(value progdir))
progdir = $(if $(filter img_flashfs,$(1)),image/tests/$(1),$(call _img_progdir_before,$(1)))

# $(1) = target
define IMG_TARGET_RULES
CFLAGS_$(1) += -Iimage
IMG_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$$(IMG_SRCS))
ALL_OBJS += $$(IMG_OBJS_$(1))

$(OUT)/$(1)/gen/test_flashfs.bin: image/tests/mk_test_flashfs.py $(IMG_PY_SRCS)
	@mkdir -p $$(@D)
	@echo "  PACK    $$(call show,$$@)"
	$$(Q)$(IMG_PYTHON) $$< $$@

$(OUT)/$(1)/obj/image/tests/img_flashfs/blob.S.o: $(OUT)/$(1)/gen/test_flashfs.bin
$(OUT)/$(1)/obj/image/tests/img_flashfs/blob.S.o: CFLAGS_$(1) += -Wa,-I$(OUT)/$(1)/gen
$(OUT)/$(1)/img_flashfs.elf: LDFLAGS_$(1) += -Wl,--section-start=.flashfs=0x08040000
endef

# $(1) = target, $(2) = program
define IMG_PROGRAM_RULES
$$(eval $$(call PROGRAM_RULES,$(1),$(2)))
OBJS_$(1)_$(2) += $$(IMG_OBJS_$(1))
$(OUT)/$(1)/$(2).elf: $$(IMG_OBJS_$(1))
image: $(OUT)/$(1)/$(2).elf $(OUT)/$(1)/$(2).size.txt
endef

.PHONY: image
$(foreach t,$(IMG_TARGETS),$(eval $(call IMG_TARGET_RULES,$(t))))
$(foreach t,$(IMG_TARGETS),$(eval $(call IMG_PROGRAM_RULES,$(t),img_flashfs)))

# ---- the meter's boot chain on the STM32F413 -------------------------------------------------
# meter_boot       bootloader at 0x08000000 (targets/meter_boot), BSP without the RTOS
# meter_rtos_demo  RTOS image stand-in at 0x08008000 behind its header (targets/meter_rtos_demo)
# demo_app         demo app for flashfs slot 7 (0x08060000); demo_app_bad the same failing its
#                  start check; demo_app2 for slot 8 (0x08080000)
# The ELFs carry an empty header (image/ms_header_space.S) that `metersim image` fills in.
METER_TARGET := $(filter f413rg,$(TARGETS))
ifneq ($(METER_TARGET),)
MT := $(METER_TARGET)
METER_IMG_SRCS := $(IMG_SRCS) image/ms_nor.c image/ms_upgrade.c image/ms_upgrade_rx.c image/ms_ymodem.c image/ms_port.c \
                  image/ms_port_nortos.c
METER_BSP_SRCS := $(wildcard bsp/stm32/*.c bsp/stm32f4/*.c)
METER_BASE_OBJS := $(patsubst %,$(OUT)/$(MT)/obj/%.o,$(METER_IMG_SRCS) $(METER_BSP_SRCS) \
                   bsp/cortex_m/startup.c tests/common/console.c) $(NOTE_OBJ_$(MT))
METER_LD := $(ARCH_$(CORE_$(MT))) $(LDFLAGS) -Lbsp/cortex_m -Limage/ld
METER_APP_LD := $(ARCH_$(CORE_$(MT))) -nostdlib -nostartfiles -Wl,--gc-sections \
                -Wl,--fatal-warnings -Wl,--no-warn-rwx-segments -Limage/ld
ALL_OBJS += $(METER_BASE_OBJS)

# $(1) = program, $(2) = its objects, $(3) = linker script
define METER_PROGRAM
$(OUT)/$(MT)/$(1).elf: $(2) image/ld/$(3) image/ld/meter_app.ld bsp/cortex_m/sections.ld
	@echo "  LD      $$(call show,$$@) (+ .map)"
	$$(Q)$$(CC) $(if $(filter demo_app%,$(1)),$$(METER_APP_LD),$$(METER_LD)) -Timage/ld/$(3) -Wl,-Map=$(OUT)/$(MT)/$(1).map -o $$@ $(2)
ALL_OBJS += $(2)
all: $(OUT)/$(MT)/$(1).elf
image: $(OUT)/$(MT)/$(1).elf
endef

HDR_OBJ := $(OUT)/$(MT)/obj/image/ms_header_space.S.o
$(eval $(call METER_PROGRAM,meter_boot,$(OUT)/$(MT)/obj/targets/meter_boot/main.c.o \
    $(METER_BASE_OBJS),meter_boot.ld))
$(eval $(call METER_PROGRAM,meter_rtos_demo,$(OUT)/$(MT)/obj/targets/meter_rtos_demo/main.c.o \
    $(HDR_OBJ) $(METER_BASE_OBJS),meter_rtos.ld))
$(eval $(call METER_PROGRAM,demo_app,$(OUT)/$(MT)/obj/apps/demo_app/main.c.o $(HDR_OBJ) \
    $(NOTE_OBJ_$(MT)),meter_app_slot7.ld))
$(eval $(call METER_PROGRAM,demo_app2,$(OUT)/$(MT)/obj/apps/demo_app/main.c.o $(HDR_OBJ) \
    $(NOTE_OBJ_$(MT)),meter_app_slot8.ld))
$(eval $(call METER_PROGRAM,demo_app_bad,$(OUT)/$(MT)/obj/apps/demo_app/main_bad.c.o $(HDR_OBJ) \
    $(NOTE_OBJ_$(MT)),meter_app_slot7.ld))

$(OUT)/$(MT)/obj/apps/demo_app/main_bad.c.o: apps/demo_app/main.c $(OUT)/$(MT)/.flags
	@mkdir -p $(@D)
	@echo "  CC      $(call show,$@)"
	$(Q)$(CC) $(CFLAGS_$(MT)) -DAPP_FAIL_START -MMD -MP -c $< -o $@
endif
