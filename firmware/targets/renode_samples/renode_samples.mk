# Firmware standing in for the binaries of Renode's STM32 Robot suites (tests/platforms/*.robot
# in Renode's repository), built here to do what each suite checks with the same peripherals.
#   $(OUT)/renode_samples/<program>.elf             the programs
#   $(OUT)/renode_samples/binaries/<file name>      each named as the binary it replaces (the
#                                                   suite's URL without Renode's -s_<size>-<sha1>)
# `metersim test SUITE.robot --binaries build/fw/renode_samples/binaries` runs a suite with them.
RS_DIR  := targets/renode_samples
RS_OUT  := $(OUT)/renode_samples
RS_COMMON := $(RS_DIR)/startup.c $(RS_DIR)/console.c bsp/cortex_m/reset_min.c
RS_DEPS := $(RS_COMMON) $(RS_DIR)/sample.h $(RS_DIR)/samples.ld mk/target_note.S $(RS_DIR)/renode_samples.mk

# program : family : part : core (metersim's name) : gcc flags : sources : extra defines
RS_F1 := F1:STM32F103RB:cortex-m3:-mcpu=cortex-m3
RS_F4 := F4:STM32F407VG:cortex-m4f:-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard
RS_F0 := F0:STM32F072RB:cortex-m0:-mcpu=cortex-m0 -mfloat-abi=soft

# $(1) = program, $(2) = family, $(3) = part, $(4) = core, $(5) = cpu flags, $(6) = sources,
# $(7) = defines
define RS_RULE
$(RS_OUT)/$(1).elf: $(addprefix $(RS_DIR)/,$(6)) $(RS_DEPS)
	@mkdir -p $$(@D)
	@echo "  CC/LD   $$(call show,$$@)"
	$$(Q)$$(CC) -mthumb $(5) $$(CSTD) $$(WARN) $$(OPT) -DFAMILY_$(2) $(7) -I$(RS_DIR) $$(LDFLAGS) \
	    -T$(RS_DIR)/samples.ld -Wl,-Map=$$(@:.elf=.map) -o $$@ $(addprefix $(RS_DIR)/,$(6)) \
	    $(RS_COMMON) mk/target_note.S -DMETERSIM_TARGET='"renode_samples"' \
	    -DMETERSIM_PART='"$(3)"' -DMETERSIM_CORE='"$(4)"'
all: $(RS_OUT)/$(1).elf
endef

# $(1) = file name the suite's URL gives, $(2) = program
define RS_LINK
$(RS_OUT)/binaries/$(1): $(RS_OUT)/$(2).elf
	@mkdir -p $$(@D)
	$$(Q)ln -sf ../$(2).elf $$@
all: $(RS_OUT)/binaries/$(1)
endef

rs_rule = $(eval $(call RS_RULE,$(1),$(word 1,$(subst :, ,$(2))),$(word 2,$(subst :, ,$(2))),$(word 3,$(subst :, ,$(2))),$(wordlist 4,9,$(subst :, ,$(2))),$(3),$(4)))

$(call rs_rule,f103_button,$(RS_F1),f103_button.c,-DTICK_MS=10u)

# STM32F103.robot
$(eval $(call RS_LINK,zephyr-stm32f103-button.elf,f103_button))
$(call rs_rule,f4_hello,$(RS_F4),f4_hello.c)
$(call rs_rule,f4_cube_hello,$(RS_F4),f4_cube_hello.c)
$(call rs_rule,f4_cube_hello_latency,$(RS_F4),f4_cube_hello.c,-DFLASH_LATENCY_WS=5u)
$(call rs_rule,f4_timer_upcount,$(RS_F4),f4_timer.c)
$(call rs_rule,f4_timer_downcount,$(RS_F4),f4_timer.c,-DCOUNT_DOWN)
$(call rs_rule,f4_rtc_alarm,$(RS_F4),f4_rtc_alarm.c)

# STM32F4_Discovery.robot
$(eval $(call RS_LINK,stm32f4_discovery--zephyr-hello_world.elf,f4_hello))
$(eval $(call RS_LINK,stm32f4--cube_mx-hello_world.elf,f4_cube_hello))
$(eval $(call RS_LINK,stm32f4disco-timer-upcount.elf-g2d98d1b,f4_timer_upcount))
$(eval $(call RS_LINK,stm32f4disco-timer-downcount.elf-g2d98d1b,f4_timer_downcount))
$(eval $(call RS_LINK,stm32f4_discovery--riot-tests_periph_rtc.elf,f4_rtc_alarm))
# Same file name as the CubeMX hello, told apart by the full name with its size and SHA-1.
$(eval $(call RS_LINK,stm32f4--cube_mx-hello_world.elf-s_625992-119d2b1d81ef6bb85498d1024c61736bb53cee4c,f4_cube_hello_latency))
$(call rs_rule,f4_faultmask,$(RS_F4),f4_faultmask.c)
$(call rs_rule,f4_faultmask_in_handler,$(RS_F4),f4_faultmask.c,-DSET_IN_HANDLER)
$(call rs_rule,f4_rtc_writes,$(RS_F4),f4_rtc_writes.c)
$(eval $(call RS_LINK,stm32f4disco-faultmask.elf,f4_faultmask))
$(eval $(call RS_LINK,stm32f4disco-faultmask-noclearing.elf,f4_faultmask_in_handler))
$(eval $(call RS_LINK,stm32f4disco-rtc-modified-test.elf,f4_rtc_writes))


$(call rs_rule,f0_hello,$(RS_F0),f0_hello.c)
$(call rs_rule,f0_echo,$(RS_F0),f0_echo.c)
$(call rs_rule,f0_blinky,$(RS_F0),f0_blinky.c)
$(call rs_rule,f0_button,$(RS_F0),f0_button.c)

# STM32F072b.robot
$(eval $(call RS_LINK,stm32f072b_disco--zephyr-hello_world.elf,f0_hello))
$(eval $(call RS_LINK,stm32f072b_disco--zephyr-echo.elf,f0_echo))
$(eval $(call RS_LINK,stm32f072b_disco--zephyr-blinky.elf,f0_blinky))
$(eval $(call RS_LINK,stm32f072b_disco--zephyr-button.elf,f0_button))

RS_F7 := F7:STM32F746NG:cortex-m7:-mcpu=cortex-m7 -mfloat-abi=soft
RS_L0 := L0:STM32L072CZ:cortex-m0+:-mcpu=cortex-m0plus -mfloat-abi=soft
$(call rs_rule,f7_hello,$(RS_F7),f7_hello.c)
$(call rs_rule,f7_cli,$(RS_F7),f7_cli.c)
$(call rs_rule,l0_shell,$(RS_L0),l0_shell.c)
$(call rs_rule,l0_shell_lpuart,$(RS_L0),l0_shell.c,-DCONSOLE_LPUART1)

# STM32F7.robot
$(eval $(call RS_LINK,renode-mbed-pipeline-helloworld.elf-ga2ede71,f7_hello))
$(eval $(call RS_LINK,stm32f746--cube_mx-freertos_cli.elf,f7_cli))
# (its scene, stm32f746_modem.resc, adds the BG96 modem on usart2 and the echo service)
$(call rs_rule,f7_modem,$(RS_F7),f7_modem.c,-DTICK_MS=10u)
$(eval $(call RS_LINK,stm32f746g_disco--zephyr-quectel_bg9x_echo_client.elf,f7_modem))
# STM32L072.robot (its scene loads the shell first)
$(eval $(call RS_LINK,stm32l07--zephyr-shell_module.elf,l0_shell))
$(eval $(call RS_LINK,bl072z_lrwan1--zephyr-shell_module_lpuart.elf,l0_shell_lpuart))
$(call rs_rule,f4_pwm_capture,$(RS_F4),f4_pwm_capture.c)
$(call rs_rule,f4_pwm_capture_free_running,$(RS_F4),f4_pwm_capture.c,-DFREE_RUNNING)
$(eval $(call RS_LINK,stm32f4disco-pwm-capture.elf,f4_pwm_capture))
$(eval $(call RS_LINK,stm32f4disco-pwm-capture-four-channel-capture-support.elf,f4_pwm_capture_free_running))
$(call rs_rule,f4_qdec,$(RS_F4),f4_qdec.c)
$(eval $(call RS_LINK,stm32f4disco-qdec.elf,f4_qdec))
