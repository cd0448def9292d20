# The polled hello for each newer STM32 family, one ELF per part Renode has a .repl for:
# $(OUT)/families/hello_<family>.elf (built by `make`, a few seconds in all).
# family : part : core (metersim's name) : gcc -mcpu
HF_DIR   := targets/hello_families
HF_PARTS := f0:STM32F072RB:cortex-m0:cortex-m0 g0:STM32G071RB:cortex-m0:cortex-m0plus \
            l0:STM32L071RB:cortex-m0+:cortex-m0plus l1:STM32L151CB:cortex-m3:cortex-m3 \
            l5:STM32L552ZE:cortex-m33:cortex-m33 f7:STM32F746NG:cortex-m7:cortex-m7 \
            h7:STM32H743ZI:cortex-m7:cortex-m7 wba:STM32WBA52CG:cortex-m33:cortex-m33
HF_SRCS  := $(HF_DIR)/hello.c $(HF_DIR)/startup.c bsp/cortex_m/reset_min.c $(HF_DIR)/family.h \
            $(HF_DIR)/hello.ld

hf_word = $(word $(2),$(subst :, ,$(1)))
HF_ELFS := $(foreach p,$(HF_PARTS),$(OUT)/families/hello_$(call hf_word,$(p),1).elf)
all: $(HF_ELFS)

# $(1) = family:part:core:mcpu
define HF_RULE
$(OUT)/families/hello_$(call hf_word,$(1),1).elf: $(HF_SRCS) mk/target_note.S $(HF_DIR)/hello_families.mk
	@mkdir -p $$(@D)
	@echo "  CC/LD   $$(call show,$$@)"
	$$(Q)$$(CC) -mthumb -mcpu=$(call hf_word,$(1),4) -mfloat-abi=soft $$(CSTD) $$(WARN) $$(OPT) \
	    -DFAMILY_$(shell echo $(call hf_word,$(1),1) | tr a-z A-Z) $$(LDFLAGS) -T$(HF_DIR)/hello.ld \
	    -Wl,-Map=$$(@:.elf=.map) -o $$@ $(HF_DIR)/hello.c $(HF_DIR)/startup.c bsp/cortex_m/reset_min.c mk/target_note.S \
	    -DMETERSIM_TARGET='"$(call hf_word,$(1),1)"' -DMETERSIM_PART='"$(call hf_word,$(1),2)"' \
	    -DMETERSIM_CORE='"$(call hf_word,$(1),3)"'
endef
$(foreach p,$(HF_PARTS),$(eval $(call HF_RULE,$(p))))
