*** Comments ***
The new-generation meter's management unit with its bring-up firmware, as a board bring-up
suite would check it. Run from the repository root:
.venv/bin/python -m robot --outputdir build/robot robot/meter_management_unit.robot

*** Settings ***
Documentation     meter_mu_bringup.elf on platforms/boards/meter_management_unit.repl: every
...               device reports on the console; a power cut with hold-up gives the PVD
...               message and the RTC keeps running on its battery.
Library           metersim.robot

*** Keywords ***
Boot The Management Unit
    Execute Script            ${CURDIR}/../platforms/scenes/meter_management_unit.resc
    Create Terminal Tester    sysbus.usart1

*** Test Cases ***
Every Device Reports Ok
    Boot The Management Unit
    Wait For Line On Uart     eeprom: wrote and read back 16 bytes at 0x7f00: ok    timeout=1
    Wait For Line On Uart     nor: jedec ef 40 17    timeout=1
    Wait For Line On Uart     esam: atr 3b 68 00 00    timeout=1
    Wait For Line On Uart     esam: challenge    timeout=1
    Wait For Line On Uart     relay: close, feedback closed: ok    timeout=1
    Wait For Line On Uart     bringup: done    timeout=1

Power Cut With Hold-Up Keeps The Clock
    Boot The Management Unit
    Wait For Line On Uart     bringup: done    timeout=3
    Run For                   2s
    Power Cut                 holdup=20ms
    Wait For Line On Uart     pvd: supply below threshold, power failures 1    timeout=0
    Run For                   10s
    Power Restore
    Wait For Line On Uart     rtc: running on the battery, 2026-12-06 10:00:1    timeout=3
