# Image formats of the management unit (image/: ms_image, ms_flashfs; docs/meter_flash_layout.md)
# and their test program image/tests/img_flashfs, which links a flashfs packed at build time
# by metersim's Python packer (image/tests/mk_test_flashfs.py) at 0x08040000.

IMG_TARGETS := $(filter f413rg,$(TARGETS))
IMG_SRCS    := image/ms_image.c image/ms_flashfs.c
IMG_PYTHON  ?= $(firstword $(wildcard ../.venv/bin/python) python3)
IMG_PY_SRCS := $(wildcard ../src/metersim/image/*.py)

$(eval _img_progdir_before = $(value progdir))
progdir = $(if $(filter img_flashfs,$(1)),image/tests/$(1),$(call _img_progdir_before,$(1)))

# $(1) = target
define IMG_TARGET_RULES
CFLAGS_$(1) += -Iimage
IMG_OBJS_$(1) := $$(patsubst %,$(OUT)/$(1)/obj/%.o,$$(IMG_SRCS))
ALL_OBJS += $$(IMG_OBJS_$(1))

$(OUT)/$(1)/gen/test_flashfs.bin: image/tests/mk_test_flashfs.py $(IMG_PY_SRCS)
	@mkdir -p $$(@D)
	@echo "  PACK    $$(call show,$$@)"
	$$(Q)$(IMG_PYTHON) $$< $$@

$(OUT)/$(1)/obj/image/tests/img_flashfs/blob.S.o: $(OUT)/$(1)/gen/test_flashfs.bin
$(OUT)/$(1)/obj/image/tests/img_flashfs/blob.S.o: CFLAGS_$(1) += -Wa,-I$(OUT)/$(1)/gen
$(OUT)/$(1)/img_flashfs.elf: LDFLAGS_$(1) += -Wl,--section-start=.flashfs=0x08040000
endef

# $(1) = target, $(2) = program
define IMG_PROGRAM_RULES
$$(eval $$(call PROGRAM_RULES,$(1),$(2)))
OBJS_$(1)_$(2) += $$(IMG_OBJS_$(1))
$(OUT)/$(1)/$(2).elf: $$(IMG_OBJS_$(1))
image: $(OUT)/$(1)/$(2).elf $(OUT)/$(1)/$(2).size.txt
endef

.PHONY: image
$(foreach t,$(IMG_TARGETS),$(eval $(call IMG_TARGET_RULES,$(t))))
$(foreach t,$(IMG_TARGETS),$(eval $(call IMG_PROGRAM_RULES,$(t),img_flashfs)))
