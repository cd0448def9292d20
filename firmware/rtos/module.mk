# RTOS kernel (rtos/src) and its emulated test programs (rtos/tests/<name>/main.c),
# included by the firmware Makefile after its own program rules.
#
# Each test program links the kernel, rtos/tests/common and the shared engine
# test frame (tests/common). `rtos_kernel.size.txt` per target reports the
# kernel's own flash and RAM (sum of its objects; RAM = .data + .bss, which
# includes the kernel heap), next to each program's size report.

RTOS_SRCS    := $(wildcard rtos/src/*.c rtos/src/*.S rtos/tests/common/*.c)
RTOS_KSRCS   := $(wildcard rtos/src/*.c rtos/src/*.S)
RTOS_TESTS   := $(sort $(notdir $(patsubst %/main.c,%,$(wildcard rtos/tests/*/main.c))))
RTOS_TARGETS := $(filter f103rb f103rc f413rg,$(TARGETS))
SIZE         := $(CROSS)size

$(eval _rtos_progdir_before = $(value progdir))
progdir = $(if $(filter $(RTOS_TESTS),$(1)),rtos/tests/$(1),$(call _rtos_progdir_before,$(1)))

# $(1) = target
define RTOS_TARGET_RULES
CFLAGS_$(1) += -Irtos/include -Irtos/tests/common
RTOS_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$$(RTOS_SRCS))
RTOS_KOBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$$(RTOS_KSRCS))
ALL_OBJS += $$(RTOS_OBJS_$(1))

$(OUT)/$(1)/rtos_kernel.size.txt: $$(RTOS_KOBJS_$(1))
	@echo "  SIZE    $$(call show,$$@)"
	$$(Q)$$(SIZE) -t $$^ | awk -v name="rtos kernel $(1)" \
	    'END { printf "%s: flash %d B, ram %d B (objects: text+data, data+bss)\n", name, $$$$1 + $$$$2, $$$$2 + $$$$3 }' > $$@

all: $(OUT)/$(1)/rtos_kernel.size.txt
sizes: $(OUT)/$(1)/rtos_kernel.size.txt
SIZE_REPORTS += $(OUT)/$(1)/rtos_kernel.size.txt
endef

# $(1) = target, $(2) = program
define RTOS_PROGRAM_RULES
$$(eval $$(call PROGRAM_RULES,$(1),$(2)))
OBJS_$(1)_$(2) += $$(RTOS_OBJS_$(1))
$(OUT)/$(1)/$(2).elf: $$(RTOS_OBJS_$(1))
sizes: $(OUT)/$(1)/$(2).size.txt
endef

$(foreach t,$(RTOS_TARGETS),$(eval $(call RTOS_TARGET_RULES,$(t))))
$(foreach t,$(RTOS_TARGETS),$(foreach p,$(RTOS_TESTS),$(eval $(call RTOS_PROGRAM_RULES,$(t),$(p)))))

.PHONY: rtos
rtos: $(foreach t,$(RTOS_TARGETS),$(foreach p,$(RTOS_TESTS),$(OUT)/$(t)/$(p).elf $(OUT)/$(t)/$(p).size.txt) $(OUT)/$(t)/rtos_kernel.size.txt)
