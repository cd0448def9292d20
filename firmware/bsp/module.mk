# BSP drivers (bsp/stm32: IP blocks F1 and F4 share; bsp/<family>: clocks, GPIO, RTC, flash),
# the msh console shell (shell/) and the programs built on them: targets/shell_demo and the
# BSP test firmware bsp/tests/bsp_test. They link the RTOS kernel (rtos/src) but not the RTOS
# test frame, and provide their own ms_kputc on the BSP console.

BSP_TARGETS      := $(filter f103rb f103rc f413rg,$(TARGETS))
BSP_PROGRAMS     := shell_demo bsp_test
BSP_SHARED_SRCS  := $(wildcard bsp/stm32/*.c) $(wildcard shell/*.c) \
                    $(wildcard rtos/src/*.c rtos/src/*.S)

$(eval _bsp_progdir_before = $(value progdir))
progdir = $(if $(filter shell_demo,$(1)),targets/shell_demo,$(if $(filter bsp_test,$(1)),bsp/tests/bsp_test,$(call _bsp_progdir_before,$(1))))

# $(1) = target
define BSP_TARGET_RULES
CFLAGS_$(1) += -Ibsp/include -Ibsp/stm32 -Irtos/include -Ishell
BSP_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$$(BSP_SHARED_SRCS) \
                   $$(wildcard bsp/$$(FAMILY_$(1))/*.c))
ALL_OBJS += $$(BSP_OBJS_$(1))
endef

# $(1) = target, $(2) = program
define BSP_PROGRAM_RULES
$$(eval $$(call PROGRAM_RULES,$(1),$(2)))
OBJS_$(1)_$(2) += $$(BSP_OBJS_$(1))
$(OUT)/$(1)/$(2).elf: $$(BSP_OBJS_$(1))
endef

$(foreach t,$(BSP_TARGETS),$(eval $(call BSP_TARGET_RULES,$(t))))
$(foreach t,$(BSP_TARGETS),$(foreach p,$(BSP_PROGRAMS),$(eval $(call BSP_PROGRAM_RULES,$(t),$(p)))))

.PHONY: bsp
bsp: $(foreach t,$(BSP_TARGETS),$(foreach p,$(BSP_PROGRAMS),$(OUT)/$(t)/$(p).elf $(OUT)/$(t)/$(p).bin $(OUT)/$(t)/$(p).size.txt))
	@cat $(foreach t,$(BSP_TARGETS),$(foreach p,$(BSP_PROGRAMS),$(OUT)/$(t)/$(p).size.txt))
