# The new-generation meter's management unit with its middle layer (virtual bus,
# communication, metering and platform services) and the extended app LOADID as processes
# of one RTOS image. Output build/fw/f413rg/meter_mu.*; tests: tests/meter/test_meter_vbus.py.

MMU_DIR     := targets/meter_mu
MMU_TARGETS := $(filter f413rg,$(TARGETS))
MMU_EXTRA   := $(wildcard services/*.c apps/loadid/*.c) drivers/at24c.c   # + the apps built in

$(eval _mmu_progdir_before = $(value progdir))
progdir = $(if $(filter meter_mu,$(1)),$(MMU_DIR),$(call _mmu_progdir_before,$(1)))

# $(1) = target
define MMU_RULES
CFLAGS_$(1) += -Iservices -Iapps -Idrivers
MMU_EXTRA_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$(MMU_EXTRA))
$$(eval $$(call PROGRAM_RULES,$(1),meter_mu))
OBJS_$(1)_meter_mu += $$(BSP_OBJS_$(1)) $$(MMU_EXTRA_OBJS_$(1))
ALL_OBJS += $$(MMU_EXTRA_OBJS_$(1))
$(OUT)/$(1)/meter_mu.elf: $$(BSP_OBJS_$(1)) $$(MMU_EXTRA_OBJS_$(1))
sizes: $(OUT)/$(1)/meter_mu.size.txt
endef

$(foreach t,$(MMU_TARGETS),$(eval $(call MMU_RULES,$(t))))

.PHONY: meter_mu
meter_mu: $(foreach t,$(MMU_TARGETS),$(OUT)/$(t)/meter_mu.elf $(OUT)/$(t)/meter_mu.bin $(OUT)/$(t)/meter_mu.size.txt)
	@cat $(foreach t,$(MMU_TARGETS),$(OUT)/$(t)/meter_mu.size.txt)
