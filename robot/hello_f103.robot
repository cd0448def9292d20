*** Settings ***
Documentation     The STM32F103RB (Cortex-M3, 8 MHz HSI after reset): the hello firmware and
...               the SysTick rate test, with Renode's keywords. Console on USART1 (0x40013800).
Library           metersim.robot

*** Keywords ***
Load
    [Arguments]    ${elf}
    Execute Command           mach create "f103"
    Execute Command           machine LoadPlatformDescription @platforms/cpus/stm32f103rb.repl
    Execute Command           sysbus LoadELF @build/fw/f103rb/${elf}
    Create Terminal Tester    sysbus.usart1    timeout=2
    Register Failing Uart String    FAIL
    Start Emulation

*** Test Cases ***
Hello Names The Cortex-M3
    Load    hello.elf
    Wait For Line On Uart     metersim hello on STM32F103RB (Cortex-M3)
    # Cortex-M3 r1p1: implementer 0x41, variant 1, part 0xC23, revision 1.
    Wait For Line On Uart     cpuid 0x411fc231    matchNextLine=true

Hello Counts Five Seconds Then Passes
    Load    hello.elf
    ${first}=                 Wait For Line On Uart    uptime 1 s
    ${last}=                  Wait For Line On Uart    uptime 5 s    timeout=5
    ${span}=                  Evaluate    ${last.timestamp} - ${first.timestamp}
    Should Be Equal As Numbers    ${span}    4000
    Wait For Line On Uart     PASS

SysTick Ticks Every Millisecond
    Load    systick_rate.elf
    ${t100}=                  Wait For Line On Uart    tick 100
    ${t1000}=                 Wait For Line On Uart    tick 1000    pauseEmulation=true
    ${ms}=                    Evaluate    ${t1000.timestamp} - ${t100.timestamp}
    # 900 ticks, plus one character time (~87 us at 115200 baud): "tick 1000" is one longer.
    Should Be True            900 < ${ms} < 900.1
    ${r}=                     Wait For Line On Uart    core (\\d+) cycles/tick    treatAsRegex=true
    # HCLK is the 8 MHz HSI: 8000 core cycles per 1 ms tick.
    Should Be Equal           ${r.groups}[0]    8000
    Wait For Line On Uart     ext 80000 cycles/tick
    Wait For Line On Uart     PASS

A Wrong Expectation Says What Was Seen
    Load    hello.elf
    ${err}=    Run Keyword And Expect Error    *
    ...    Wait For Line On Uart    uptime 7 s    timeout=1.5
    Should Contain            ${err}    >>uptime 7 s<< did not appear on f103:usart1 within 1.500000 s
    Should Contain            ${err}    uptime 1 s
    Should Contain            ${err}    full log:
