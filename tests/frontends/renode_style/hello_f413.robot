*** Comments ***
A suite in the style of Renode's tests/platforms/*.robot: no Settings section, no library
import. renode-test (or `metersim test`) adds the keywords resource and the set-up.
Run from the repository root: metersim test tests/frontends/renode_style/hello_f413.robot

*** Variables ***
${UART}                       sysbus.usart1
${PLATFORM}                   @platforms/cpus/stm32f413.repl
${BIN}                        @build/fw/f413rg/hello.elf

*** Keywords ***
Create Machine
    Execute Command           mach create
    Execute Command           machine LoadPlatformDescription ${PLATFORM}
    Execute Command           sysbus LoadELF ${BIN}
    Execute Command           showAnalyzer ${UART}
    Create Terminal Tester    ${UART}

*** Test Cases ***
Should Print The Banner
    Create Machine
    Start Emulation
    Wait For Line On Uart     metersim hello on STM32F413RG

Should Count Uptime
    Create Machine
    Start Emulation
    ${line}=  Wait For Line On Uart    uptime (\\w+) s    treatAsRegex=true
    Should Be Equal           ${line.Groups[0]}    1
    ${line}=  Wait For Line On Uart    uptime (\\w+) s    treatAsRegex=true
    Should Be Equal           ${line.Groups[0]}    2

Should Go Quiet After Pass
    Create Machine
    Start Emulation
    Wait For Line On Uart     PASS    timeout=6
    Test If Uart Is Idle      1
