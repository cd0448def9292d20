# The new-generation meter's management unit with its middle layer (virtual bus,
# communication, metering and platform services) as processes of one RTOS image, and its
# extended app LOADID as an image of its own:
#   meter_mu     the RTOS image (image/ld/meter_rtos.ld: 0x08008000 behind its image header,
#                kernel RAM = the first 128 KiB), started by the bootloader; its loader
#                (rtos/loader) starts the apps that start.par lists from flashfs
#   app_loadid   LOADID linked for flashfs slot 7 (apps/loadid/slot.ld + apps/common/app.ld)
#                with the services' library code it shares (vbus, dlt645, svc_util)
#   app_basic    the basic app BASIC linked for flashfs slot 9 (apps/basic: its virtual-bus
#                module, time of use, control; docs/meter_basic_app.md)
#   app_shmpeek  test app for slot 8: touches LOADID's shared memory without a grant
#                (platforms/images/meter_mu_isolation.yaml)
# `metersim image pack platforms/images/meter_mu.yaml` makes the factory image of both;
# tests: tests/meter/.

MMU_DIR     := targets/meter_mu
MMU_TARGETS := $(filter f413rg,$(TARGETS))
MMU_EXTRA   := $(wildcard services/*.c) drivers/at24c.c drivers/ht1621.c drivers/meter_lcd.c \
               drivers/w25q.c drivers/lfs_port.c \
               rtos/loader/ms_loader.c \
               image/ms_image.c image/ms_flashfs.c image/ms_header_space.S
MMU_APP_LIB := services/vbus.c services/dlt645.c services/svc_util.c services/crc16.c \
               bsp/stm32/date.c
MMU_APP_COMMON := apps/common/app_crt0.c apps/common/app_sys.c rtos/src/ms_format.c \
                  image/ms_header_space.S
MMU_LOADID  := apps/loadid/loadid.c apps/loadid/main.c $(MMU_APP_LIB) $(MMU_APP_COMMON)
MMU_SHMPEEK := apps/shmpeek/main.c $(MMU_APP_COMMON)
MMU_BASIC   := $(wildcard apps/basic/*.c) $(MMU_APP_LIB) $(MMU_APP_COMMON)

$(eval _mmu_progdir_before = $(value progdir))
progdir = $(if $(filter meter_mu,$(1)),$(MMU_DIR),$(call _mmu_progdir_before,$(1)))

# $(1) = target, $(2) = app, $(3) = its sources
define MMU_APP
MMU_APP_OBJS_$(1)_$(2) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$(3))
ALL_OBJS += $$(MMU_APP_OBJS_$(1)_$(2))
$(OUT)/$(1)/app_$(2).elf: $$(MMU_APP_OBJS_$(1)_$(2)) $$(NOTE_OBJ_$(1)) apps/$(2)/slot.ld apps/common/app.ld
	@echo "  LD      $$(call show,$$@) (+ .map)"
	$$(Q)$$(CC) $$(ARCH_$$(CORE_$(1))) $$(LDFLAGS) -Lapps/common -Tapps/$(2)/slot.ld \
	    -Wl,-Map=$(OUT)/$(1)/app_$(2).map -o $$@ $$(MMU_APP_OBJS_$(1)_$(2)) $$(NOTE_OBJ_$(1))
all: $(OUT)/$(1)/app_$(2).elf
meter_mu: $(OUT)/$(1)/app_$(2).elf
endef

# $(1) = target
define MMU_RULES
CFLAGS_$(1) += -Iservices -Iapps -Idrivers -Irtos/loader -Iapps/common -Iimage -Ibsp/stm32
MMU_EXTRA_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$(MMU_EXTRA)) \
    $(OUT)/$(1)/obj/littlefs/lfs.c.o $(OUT)/$(1)/obj/littlefs/lfs_util.c.o
$(OUT)/$(1)/obj/$(MMU_DIR)/nor_fs.c.o: | $(LFS_STAMP)
$$(eval $$(call PROGRAM_RULES,$(1),meter_mu))
OBJS_$(1)_meter_mu += $$(BSP_OBJS_$(1)) $$(MMU_EXTRA_OBJS_$(1))
ALL_OBJS += $$(MMU_EXTRA_OBJS_$(1))
$(OUT)/$(1)/meter_mu.elf: $$(BSP_OBJS_$(1)) $$(MMU_EXTRA_OBJS_$(1)) image/ld/meter_rtos.ld
$(OUT)/$(1)/meter_mu.elf: LDFLAGS_$(1) := $$(ARCH_$$(CORE_$(1))) $$(LDFLAGS) -Lbsp/cortex_m \
    -Limage/ld -Timage/ld/meter_rtos.ld
sizes: $(OUT)/$(1)/meter_mu.size.txt

$$(eval $$(call MMU_APP,$(1),loadid,$(MMU_LOADID)))
$$(eval $$(call MMU_APP,$(1),shmpeek,$(MMU_SHMPEEK)))
$$(eval $$(call MMU_APP,$(1),basic,$(MMU_BASIC)))
endef

$(foreach t,$(MMU_TARGETS),$(eval $(call MMU_RULES,$(t))))

.PHONY: meter_mu
meter_mu: $(foreach t,$(MMU_TARGETS),$(OUT)/$(t)/meter_mu.elf $(OUT)/$(t)/meter_mu.bin $(OUT)/$(t)/meter_mu.size.txt $(OUT)/$(t)/meter_boot.elf)
	@cat $(foreach t,$(MMU_TARGETS),$(OUT)/$(t)/meter_mu.size.txt)
