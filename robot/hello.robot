*** Comments ***
The hello firmware on the STM32F413RG, written the way a Renode suite is: the same keywords,
the same monitor commands. Run from the repository root:
.venv/bin/python -m robot --outputdir build/robot robot

*** Settings ***
Documentation     hello.elf on the STM32F413RG platform: banner, CPUID, one uptime line per
...               virtual second, then PASS.
Library           metersim.robot

*** Variables ***
${PLATFORM}       @platforms/cpus/stm32f413.repl
${ELF}            @build/fw/f413rg/hello.elf
${UART}           sysbus.usart1

*** Keywords ***
Create Machine
    Execute Command           mach create "f413"
    Execute Command           machine LoadPlatformDescription ${PLATFORM}
    Execute Command           sysbus LoadELF ${ELF}
    Create Terminal Tester    ${UART}    timeout=2

*** Test Cases ***
Prints The Banner And The Core
    Create Machine
    Start Emulation
    Wait For Line On Uart     metersim hello on STM32F413RG (Cortex-M4F)
    ${cpuid}=                 Wait For Line On Uart    cpuid 0x([0-9a-f]{8})    treatAsRegex=true
    # Cortex-M4 r0p1: implementer 0x41, variant 0, part 0xC24, revision 1.
    Should Be Equal           ${cpuid.groups}[0]    410fc241

Counts Uptime In Virtual Seconds
    Create Machine
    Start Emulation
    ${line}=                  Wait For Line On Uart    uptime 3 s    timeout=4    pauseEmulation=true
    # The line ends just after the third SysTick second (1 ms ticks from HCLK).
    Should Be True            3000 < ${line.timestamp} < 3010
    ${time}=                  Get Virtual Time
    Should Be Equal As Numbers    ${time}    ${line.timestamp / 1000}
    ${next}=                  Wait For Next Line On Uart
    Should Be Equal           ${next.line}    uptime 4 s

Lines Are Consumed In Order
    Create Machine
    Start Emulation
    Wait For Line On Uart     uptime 5 s    timeout=6
    Wait For Line On Uart     bye
    Wait For Line On Uart     PASS
    # "uptime 1 s" came before "uptime 5 s" and was consumed with it.
    Run Keyword And Expect Error    *did not appear*    Wait For Line On Uart    uptime 1 s    timeout=0.5

Stays Silent After PASS
    Create Machine
    Start Emulation
    Wait For Line On Uart     PASS    timeout=6
    Should Not Be On Uart     uptime    timeout=2

Runs From A Monitor Script
    Execute Script            ${CURDIR}/hello_f413.resc
    Create Terminal Tester    sysbus.usart1
    Wait For Line On Uart     uptime 2 s    timeout=3

Power Cut Reboots The Firmware
    Create Machine
    Create Log Tester         1
    Start Emulation
    Wait For Line On Uart     uptime 1 s
    Power Cut
    Run For                   500ms
    Should Not Be On Uart     uptime 2 s    timeout=1
    Power Restore
    Wait For Log Entry        reset (por)
    Wait For Line On Uart     metersim hello on STM32F413RG    timeout=0.1
    ${line}=                  Wait For Line On Uart    uptime 1 s    timeout=1.1
    # Cut at 1.006 s, restored 1.5 s later: the new "uptime 1 s" comes 1 s after the reboot.
    Should Be True            3500 < ${line.timestamp} < 3520

Uptime Two Provides
    Create Machine
    Start Emulation
    Wait For Line On Uart     uptime 2 s    timeout=3
    Provides                  uptime-2

Requires Continues Where Provides Stopped
    Requires                  uptime-2
    ${t}=                     Get Virtual Time
    Should Be True            2.0 < ${t} < 2.01
    ${line}=                  Wait For Next Line On Uart
    Should Be Equal           ${line.line}    uptime 3 s
