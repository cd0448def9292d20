# The new-generation meter's metrology unit (STM32F103RB + ADE7753 + AT24C256 + RTC, the legal
# part): its own sources (services/metrology_link.c is shared with the management unit's metering service),
# the BSP, the RTOS kernel and the ADE7753 and AT24C drivers. Output
# build/fw/f103rb/metrology_unit.* (elf, bin, map, size.txt). Board:
# platforms/boards/meter_metrology_unit.repl; docs/meter_metrology_unit.md.

MTU_DIR     := targets/metrology_unit
MTU_TARGETS := $(filter f103rb,$(TARGETS))
MTU_EXTRA   := drivers/ade7753.c drivers/at24c.c services/metrology_link.c services/crc16.c

$(eval _mtu_progdir_before = $(value progdir))
progdir = $(if $(filter metrology_unit,$(1)),$(MTU_DIR),$(call _mtu_progdir_before,$(1)))

# $(1) = target
define MTU_RULES
CFLAGS_$(1) += -Idrivers -Ibsp/include -Ibsp/stm32 -Irtos/include -Iservices
MTU_EXTRA_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$(MTU_EXTRA))
$$(eval $$(call PROGRAM_RULES,$(1),metrology_unit))
OBJS_$(1)_metrology_unit += $$(BSP_OBJS_$(1)) $$(MTU_EXTRA_OBJS_$(1))
ALL_OBJS += $$(MTU_EXTRA_OBJS_$(1))
$(OUT)/$(1)/metrology_unit.elf: $$(BSP_OBJS_$(1)) $$(MTU_EXTRA_OBJS_$(1))
sizes: $(OUT)/$(1)/metrology_unit.size.txt
endef

$(foreach t,$(MTU_TARGETS),$(eval $(call MTU_RULES,$(t))))

.PHONY: metrology_unit
metrology_unit: $(foreach t,$(MTU_TARGETS),$(OUT)/$(t)/metrology_unit.elf $(OUT)/$(t)/metrology_unit.bin $(OUT)/$(t)/metrology_unit.size.txt)
	@cat $(foreach t,$(MTU_TARGETS),$(OUT)/$(t)/metrology_unit.size.txt)
