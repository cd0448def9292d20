# The management unit's RTOS image and its apps (STM32F413RG only):
#   meter_rtos   the kernel (rtos/src) with the loader (rtos/loader), the BSP, the shell and the
#                image formats (image/), linked at 0x08008000 behind its image header
#                (image/ld/meter_rtos.ld: kernel RAM = the first 128 KiB of SRAM)
#   app_counter, app_probe, app_intruder  apps linked per slot (apps/<name>/slot.ld +
#                apps/common/app.ld) with the app runtime (apps/common: start-up, system
#                calls through SVC) and the kernel's formatter (rtos/src/ms_format.c)
# `metersim image pack platforms/images/meter_rtos.yaml` makes the factory image from them.
MR_TARGET := $(filter f413rg,$(TARGETS))
ifneq ($(MR_TARGET),)
MR := $(MR_TARGET)
MR_SRCS := targets/meter_rtos/main.c rtos/loader/ms_loader.c image/ms_image.c image/ms_flashfs.c \
           image/ms_header_space.S image/ms_nor.c image/ms_upgrade.c image/ms_upgrade_rx.c image/ms_ymodem.c
MR_OBJS := $(patsubst %,$(OUT)/$(MR)/obj/%.o,$(MR_SRCS)) $(BSP_OBJS_$(MR)) \
           $(OUT)/$(MR)/obj/bsp/cortex_m/startup.c.o $(NOTE_OBJ_$(MR))
MR_APPS := counter probe intruder overflow
MR_APP_COMMON := $(patsubst %,$(OUT)/$(MR)/obj/%.o,apps/common/app_crt0.c apps/common/app_sys.c \
                 rtos/src/ms_format.c image/ms_header_space.S)
ALL_OBJS += $(patsubst %,$(OUT)/$(MR)/obj/%.o,$(MR_SRCS)) $(MR_APP_COMMON)
CFLAGS_$(MR) += -Irtos/loader -Iapps/common

$(OUT)/$(MR)/meter_rtos.elf: $(MR_OBJS) image/ld/meter_rtos.ld bsp/cortex_m/sections.ld
	@echo "  LD      $(call show,$@) (+ .map)"
	$(Q)$(CC) $(ARCH_$(CORE_$(MR))) $(LDFLAGS) -Lbsp/cortex_m -Limage/ld -Timage/ld/meter_rtos.ld \
	    -Wl,-Map=$(OUT)/$(MR)/meter_rtos.map -o $@ $(MR_OBJS)

# $(1) = app
define MR_APP_RULES
ALL_OBJS += $(OUT)/$(MR)/obj/apps/$(1)/main.c.o
$(OUT)/$(MR)/app_$(1).elf: $(OUT)/$(MR)/obj/apps/$(1)/main.c.o $(MR_APP_COMMON) $(NOTE_OBJ_$(MR)) \
                           apps/$(1)/slot.ld apps/common/app.ld
	@echo "  LD      $$(call show,$$@) (+ .map)"
	$$(Q)$$(CC) $$(ARCH_$$(CORE_$(MR))) $$(LDFLAGS) -Lapps/common -Tapps/$(1)/slot.ld \
	    -Wl,-Map=$(OUT)/$(MR)/app_$(1).map -o $$@ $(OUT)/$(MR)/obj/apps/$(1)/main.c.o \
	    $(MR_APP_COMMON) $(NOTE_OBJ_$(MR))
all: $(OUT)/$(MR)/app_$(1).elf
meter_rtos: $(OUT)/$(MR)/app_$(1).elf
endef
$(foreach a,$(MR_APPS),$(eval $(call MR_APP_RULES,$(a))))

all: $(OUT)/$(MR)/meter_rtos.elf
.PHONY: meter_rtos
meter_rtos: $(OUT)/$(MR)/meter_rtos.elf
endif
