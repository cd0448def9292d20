# Bring-up firmware of the new-generation meter's management unit (STM32F413RG,
# platforms/boards/meter_management_unit.repl): the BSP, the RTOS kernel and the board's
# drivers (AT24C, W25Q, HT1621 + the meter glass, ISO 7816 / ESAM). Output
# build/fw/f413rg/meter_mu_bringup.*; tests: tests/meter/test_mu_bringup.py.

MU_DIR     := targets/meter_mu_bringup
MU_TARGETS := $(filter f413rg,$(TARGETS))
MU_EXTRA   := drivers/at24c.c drivers/w25q.c drivers/ht1621.c drivers/meter_lcd.c drivers/iso7816.c

$(eval _mu_progdir_before = $(value progdir))
progdir = $(if $(filter meter_mu_bringup,$(1)),$(MU_DIR),$(call _mu_progdir_before,$(1)))

# $(1) = target
define MU_RULES
CFLAGS_$(1) += -Idrivers -Ibsp/include -Ibsp/stm32 -Irtos/include
MU_EXTRA_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$(MU_EXTRA))
$$(eval $$(call PROGRAM_RULES,$(1),meter_mu_bringup))
OBJS_$(1)_meter_mu_bringup += $$(BSP_OBJS_$(1)) $$(MU_EXTRA_OBJS_$(1))
ALL_OBJS += $$(MU_EXTRA_OBJS_$(1))
$(OUT)/$(1)/meter_mu_bringup.elf: $$(BSP_OBJS_$(1)) $$(MU_EXTRA_OBJS_$(1))
sizes: $(OUT)/$(1)/meter_mu_bringup.size.txt
endef

$(foreach t,$(MU_TARGETS),$(eval $(call MU_RULES,$(t))))

.PHONY: meter_mu_bringup
meter_mu_bringup: $(foreach t,$(MU_TARGETS),$(OUT)/$(t)/meter_mu_bringup.elf $(OUT)/$(t)/meter_mu_bringup.bin $(OUT)/$(t)/meter_mu_bringup.size.txt)
	@cat $(foreach t,$(MU_TARGETS),$(OUT)/$(t)/meter_mu_bringup.size.txt)
