# The metering controller of the prepaid cabinet (STM32F103RB): its own sources, the BSP,
# the RTOS kernel, the ADE7753 and AT24C EEPROM drivers and the Modbus RTU receive timing
# (shared with the query manager). Output build/fw/f103rb/metering_controller.* (elf, bin,
# map, size.txt). Host unit tests of its logic: tests/firmware/test_metering_logic.py.

MC_DIR     := targets/metering_controller
MC_TARGETS := $(filter f103rb f103rc,$(TARGETS))
MC_EXTRA   := drivers/ade7753.c drivers/at24c.c drivers/modbus_rtu_timing.c

$(eval _mc_progdir_before = $(value progdir))
progdir = $(if $(filter metering_controller,$(1)),$(MC_DIR),$(call _mc_progdir_before,$(1)))

# $(1) = target
define MC_RULES
CFLAGS_$(1) += -Idrivers -Ibsp/include -Ibsp/stm32 -Irtos/include
MC_EXTRA_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$(MC_EXTRA))
$$(eval $$(call PROGRAM_RULES,$(1),metering_controller))
OBJS_$(1)_metering_controller += $$(BSP_OBJS_$(1)) $$(MC_EXTRA_OBJS_$(1))
ALL_OBJS += $$(MC_EXTRA_OBJS_$(1))
$(OUT)/$(1)/metering_controller.elf: $$(BSP_OBJS_$(1)) $$(MC_EXTRA_OBJS_$(1))
sizes: $(OUT)/$(1)/metering_controller.size.txt
endef

$(foreach t,$(MC_TARGETS),$(eval $(call MC_RULES,$(t))))

.PHONY: metering_controller
metering_controller: $(foreach t,$(MC_TARGETS),$(OUT)/$(t)/metering_controller.elf $(OUT)/$(t)/metering_controller.bin $(OUT)/$(t)/metering_controller.size.txt)
	@cat $(foreach t,$(MC_TARGETS),$(OUT)/$(t)/metering_controller.size.txt)
