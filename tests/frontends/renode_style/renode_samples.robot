*** Comments ***
The keywords and monitor commands of Renode's STM32 suites (STM32F103, STM32F4_Discovery,
STM32F072b in Renode's tests/platforms), on metersim's firmware/targets/renode_samples: the
binaries are named by URL, with Renode's -s_<size>-<sha1> suffix, and `metersim test
--binaries build/fw/renode_samples/binaries` replaces them. Platforms come from Renode's tree
(METERSIM_SEARCH_PATH). Run by tests/frontends/test_renode_samples.py.

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
    Execute Command           sysbus.gpioPortC.button Release
    ${line}=                  Wait For Line On Uart    Button pressed at (\\d+)    treatAsRegex=true
    Should Be True            1000 <= ${line.Groups[0]} <= 1010
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
