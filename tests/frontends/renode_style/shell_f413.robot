*** Comments ***
In the style of Renode's tests/platforms/STM32F072b.robot (its echo and blinky tests), on the
msh shell demo built here: no Settings section, an LED added from a string, Renode's
keywords only. Run from the repository root:
metersim test tests/frontends/renode_style/shell_f413.robot

*** Variables ***
${UART}                       sysbus.usart1
${LED}                        sysbus.gpioPortA.led
${BIN}                        @build/fw/f413rg/shell_demo.elf
${LED_DELAY}                  1

*** Keywords ***
Create Machine
    Execute Command          mach create
    Execute Command          machine LoadPlatformDescription @platforms/cpus/stm32f413.repl
    Execute Command          machine LoadPlatformDescriptionFromString "led: Miscellaneous.LED @ gpioPortA"
    Execute Command          machine LoadPlatformDescriptionFromString "gpioPortA: { 5 -> led@0 }"
    Execute Command          sysbus LoadELF ${BIN}

*** Test Cases ***
Should Echo Typed Lines
    Create Machine
    Create Terminal Tester   ${UART}
    Start Emulation

    Wait For Prompt On Uart  msh>
    Write Line To Uart       echo working?      waitForEcho=true
    Wait For Line On Uart    working?
    Wait For Prompt On Uart  msh>

Should Answer Commands Typed Key By Key
    Create Machine
    Create Terminal Tester   ${UART}
    Start Emulation

    Wait For Prompt On Uart  msh>
    Write To Uart            uptim
    Write Char On Uart       e
    Send Key To Uart         0xD
    ${up}=  Wait For Line On Uart    up (\\d+) ticks    treatAsRegex=true
    Should Be True           400 < ${up.Groups[0]} < 1000

Should Blink The LED
    Create Machine
    Create LED Tester        ${LED}  defaultTimeout=${LED_DELAY}
    Start Emulation

    Assert LED State         true
    Assert LED State         false
    Assert LED Is Blinking   testDuration=2  onDuration=0.25  offDuration=0.25  tolerance=0.05
    Assert LED Duty Cycle    testDuration=2  expectedDutyCycle=0.5
