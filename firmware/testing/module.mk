# mstest, the on-target unit-test framework (testing/mstest.[ch]), included by the firmware
# Makefile after rtos/module.mk:
# - every RTOS program named unit_* (rtos/tests/unit_*/main.c) links it, and its RTOS main()
#   (testing/mstest_rtos.c);
# - mstest_selftest (testing/selftest) and mstest_crash (testing/crash) are the framework's
#   own checks: passing, deliberately failing and faulting cases, run by metersim's tests of
#   its pytest collector.

MSTEST_TARGETS := $(filter f103rb f103rc f413rg,$(TARGETS))
MSTEST_UNITS   := $(filter unit_%,$(RTOS_TESTS))

$(eval _mstest_progdir_before = $(value progdir))
MSTEST_CHECKS  := mstest_selftest mstest_crash
progdir = $(if $(filter $(MSTEST_CHECKS),$(1)),testing/$(patsubst mstest_%,%,$(1)),$(call _mstest_progdir_before,$(1)))

# $(1) = target, $(2) = program
define MSTEST_LINK
CFLAGS_$(1) += -Itesting
OBJS_$(1)_$(2) += $(OUT)/$(1)/obj/testing/mstest.c.o
$(OUT)/$(1)/$(2).elf: $(OUT)/$(1)/obj/testing/mstest.c.o
ALL_OBJS += $(OUT)/$(1)/obj/testing/mstest.c.o
endef

# $(1) = target, $(2) = RTOS unit-test program
define MSTEST_RTOS_LINK
OBJS_$(1)_$(2) += $(OUT)/$(1)/obj/testing/mstest_rtos.c.o
$(OUT)/$(1)/$(2).elf: $(OUT)/$(1)/obj/testing/mstest_rtos.c.o
ALL_OBJS += $(OUT)/$(1)/obj/testing/mstest_rtos.c.o
endef

$(foreach t,$(MSTEST_TARGETS),$(foreach p,$(MSTEST_CHECKS),$(eval $(call PROGRAM_RULES,$(t),$(p)))))
$(foreach t,$(filter $(RTOS_TARGETS),$(MSTEST_TARGETS)),$(foreach p,$(MSTEST_UNITS),\
    $(eval $(call MSTEST_RTOS_LINK,$(t),$(p)))))
$(foreach t,$(MSTEST_TARGETS),$(foreach p,$(MSTEST_UNITS) $(MSTEST_CHECKS),\
    $(eval $(call MSTEST_LINK,$(t),$(p)))))
