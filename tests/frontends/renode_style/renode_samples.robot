*** Comments ***
The keywords and monitor commands of Renode's STM32 suites (STM32F103, STM32F4_Discovery,
STM32F072b in Renode's tests/platforms), on metersim's firmware/targets/renode_samples: the
binaries are named by URL, with Renode's -s_<size>-<sha1> suffix, and `metersim test
--binaries build/fw/renode_samples/binaries` replaces them. Platforms come from Renode's tree
(METERSIM_SEARCH_PATH, from a folder without platforms/ of its own). Run by
tests/frontends/test_renode_samples.py.

*** Variables ***
${URL}          @https://dl.example.invalid/renode
${SHA}          0123456789abcdef0123456789abcdef01234567
${F4_RTC}       SEPARATOR=\n
...             """
...             using "platforms/cpus/stm32f4.repl"
...             rtc:
...             ${SPACE*4}wakeupTimerFrequency: 32000
...             """

*** Keywords ***
F072 Discovery With
    [Arguments]    ${name}
    Execute Command           mach create
    Execute Command           machine LoadPlatformDescription @platforms/boards/stm32f072b_discovery.repl
    Execute Command           sysbus LoadELF ${URL}/${name}-s_100-${SHA}

*** Test Cases ***
F103 Button Prints On The Falling Edge
    Execute Command           mach create
    Execute Command           machine LoadPlatformDescription @platforms/cpus/stm32f103.repl
    Execute Command           machine LoadPlatformDescriptionFromString "button: Miscellaneous.Button @ gpioPortC 13 { IRQ -> gpioPortC@13 }"
    Execute Command           sysbus LoadELF ${URL}/zephyr-stm32f103-button.elf-s_100-${SHA}
    Create Terminal Tester    sysbus.usart2
    Start Emulation
    Wait For Line On Uart     Press the user defined button on the board
    Execute Command           sysbus.gpioPortC.button Press
    Test If Uart Is Idle      1
    ${pressed}=               Get Virtual Time
    Execute Command           sysbus.gpioPortC.button Release
    # printed at the release (Renode's stm32f103.repl ticks SysTick at 72 MHz: the printed
    # count is the firmware's, the line's time the emulation's)
    ${line}=                  Wait For Line On Uart    Button pressed at (\\d+)    treatAsRegex=true
    Should Be True            0 < ${line.timestamp} / 1000 - ${pressed} < 0.005
    Execute Command           sysbus.gpioPortC.button PressAndRelease
    Wait For Line On Uart     Button pressed at

F4 Timer Counts Down Through An Included Scene
    Execute Command           set bin ${URL}/stm32f4disco-timer-downcount.elf-g2d98d1b-s_100-${SHA}
    Execute Command           include @${CURDIR}/../renode_scenes/disco_url_bin.resc
    Execute Command           showAnalyzer sysbus.usart2
    Create Terminal Tester    sysbus.usart2
    Start Emulation
    Wait For Line On Uart     *** Timer2 Downcount Overflow Example ***
    Wait For Line On Uart     Tim2 started
    ${first}=                 Wait For Line On Uart    period elapsed callback
    ${second}=                Wait For Line On Uart    period elapsed callback
    Should Be True            99 < ${second.timestamp} - ${first.timestamp} < 101

F4 PWM Input Capture Through A Wire Added To The Platform
    Execute Command           mach create
    Execute Command           machine LoadPlatformDescription @platforms/cpus/stm32f4.repl
    Execute Command           sysbus LoadELF ${URL}/stm32f4disco-pwm-capture.elf-s_100-${SHA}
    Create Terminal Tester    sysbus.usart2
    # without the wire from PA6 (TIM3 PWM out) to PD12 (TIM4 capture in) nothing arrives
    Start Emulation
    Wait For Line On Uart     no signal
    Execute Command           machine LoadPlatformDescriptionFromString "gpioPortA: { 6 -> gpioPortD@12 }"
    ${line}=                  Wait For Line On Uart    freq=(\\w+) duty=(\\w+)    treatAsRegex=true
    Should Be Equal           ${line.Groups}    ${{ ["1000", "33"] }}

F4 RTC Alarm Every Two Seconds
    Execute Command           mach create
    Execute Command           machine LoadPlatformDescriptionFromString ${F4_RTC}
    Execute Command           sysbus LoadELF ${URL}/stm32f4_discovery--riot-tests_periph_rtc.elf-s_100-${SHA}
    Create Terminal Tester    sysbus.usart2
    Start Emulation
    Wait For Line On Uart     Help: Press s to start test
    Write Char On Uart        r
    Wait For Line On Uart     ready
    Write Char On Uart        s
    Wait For Line On Uart     every 2 seconds for 4 times
    FOR    ${seconds}    IN    02    04    06    08
        Wait For Line On Uart     Alarm!
        ${info}=                  Execute Command    emulation GetTimeSourceInfo
        Should Contain            ${info}    Elapsed Virtual Time: 00:00:${seconds}
    END
    Test If Uart Is Idle      3

F072 Echo, Blinky And Button
    F072 Discovery With       stm32f072b_disco--zephyr-echo.elf
    Create Terminal Tester    sysbus.usart1
    Start Emulation
    Wait For Line On Uart     Start typing characters
    Write Line To Uart        metersim echoes    waitForEcho=true
    Reset Emulation
    F072 Discovery With       stm32f072b_disco--zephyr-blinky.elf
    Create LED Tester         sysbus.gpioPortC.led    defaultTimeout=0.6
    Start Emulation
    Assert LED State          true
    Assert LED State          false
    Assert LED State          true
    Reset Emulation
    F072 Discovery With       stm32f072b_disco--zephyr-button.elf
    Create Terminal Tester    sysbus.usart1
    Start Emulation
    Execute Command           sysbus.gpioPortA.button Press
    Sleep                     0.25
    Execute Command           sysbus.gpioPortA.button Release
    ${line}=                  Wait For Line On Uart    Button pressed at (\\d+)    treatAsRegex=true
    Should Be True            249 <= ${line.Groups[0]} <= 251
    Create LED Tester         sysbus.gpioPortC.led
    Execute Command           sysbus.gpioPortA.button Press
    Assert And Hold LED State    false    0.5    0.5
    Execute Command           sysbus.gpioPortA.button Release
    Assert And Hold LED State    true    0.5    0.5

F746 Command Server And L072 Shell On LPUART1
    Execute Command           mach create
    Execute Command           machine LoadPlatformDescription @platforms/boards/stm32f7_discovery-bb.repl
    Execute Command           sysbus LoadELF ${URL}/stm32f746--cube_mx-freertos_cli.elf-s_100-${SHA}
    Create Terminal Tester    sysbus.usart1
    Start Emulation
    Wait For Prompt On Uart   >
    Write Line To Uart        echo-parameters first second
    Wait For Line On Uart     1: first
    Wait For Line On Uart     2: second
    Wait For Prompt On Uart   >
    Write Line To Uart        ${EMPTY}
    Wait For Line On Uart     2: second
    Reset Emulation
    Execute Command           mach create
    Execute Command           machine LoadPlatformDescription @platforms/cpus/stm32l072.repl
    Execute Command           sysbus LoadELF ${URL}/bl072z_lrwan1--zephyr-shell_module_lpuart.elf-s_100-${SHA}
    Create Terminal Tester    sysbus.lpuart1
    Start Emulation
    Wait For Prompt On Uart   $
    Write Line To Uart        version
    Wait For Line On Uart     Zephyr version

Peripherals Export Into A Temporary File
    Execute Command           mach create
    Execute Command           machine LoadPlatformDescription @platforms/cpus/stm32f4.repl
    ${file}=                  Allocate Temporary File
    Execute Command           peripherals export @${file}
    File Should Not Be Empty  ${file}
    ${map}=                   Get File    ${file}
    Should Contain            ${map}    Peripheral Map 1.0
    Should Contain            ${map}    rtc\tTimers.STM32F4_RTC\t<0x40002800, 0x40002BFF>
