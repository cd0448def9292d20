# The query manager of the prepaid cabinet (STM32F103RC): its own sources, the BSP, the RTOS
# kernel, the ILI9341 and W5500 drivers, the Modbus RTU receive timing the metering controller
# shares (drivers/modbus_rtu_timing.c) and the CRC of the metering controller (same Modbus
# CRC). Output build/fw/f103rc/query_manager.* (elf, bin, map, size.txt).

QM_DIR     := targets/query_manager
QM_TARGETS := $(filter f103rc,$(TARGETS))
QM_EXTRA   := drivers/ili9341.c drivers/w5500.c drivers/at24c.c drivers/modbus_rtu_timing.c \
              targets/metering_controller/mc_crc.c

$(eval _qm_progdir_before = $(value progdir))
progdir = $(if $(filter query_manager,$(1)),$(QM_DIR),$(call _qm_progdir_before,$(1)))

# $(1) = target
define QM_RULES
CFLAGS_$(1) += -Idrivers -Ibsp/include -Ibsp/stm32 -Irtos/include -Itargets/metering_controller
QM_EXTRA_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$(QM_EXTRA))
$$(eval $$(call PROGRAM_RULES,$(1),query_manager))
OBJS_$(1)_query_manager += $$(BSP_OBJS_$(1)) $$(QM_EXTRA_OBJS_$(1))
ALL_OBJS += $$(QM_EXTRA_OBJS_$(1))
$(OUT)/$(1)/query_manager.elf: $$(BSP_OBJS_$(1)) $$(QM_EXTRA_OBJS_$(1))
sizes: $(OUT)/$(1)/query_manager.size.txt
endef

$(foreach t,$(QM_TARGETS),$(eval $(call QM_RULES,$(t))))

.PHONY: query_manager
query_manager: $(foreach t,$(QM_TARGETS),$(OUT)/$(t)/query_manager.elf $(OUT)/$(t)/query_manager.bin $(OUT)/$(t)/query_manager.size.txt)
	@cat $(foreach t,$(QM_TARGETS),$(OUT)/$(t)/query_manager.size.txt)
