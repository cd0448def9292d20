*** Settings ***
Documentation     The prepaid cabinet's metering controller (STM32F103RB, ADE7753 x 4, relays,
...               EEPROM, RS-485 Modbus RTU): metering against the reference, prepaid trip and
...               top-up, a power cut. Firmware: build/fw/f103rb/metering_controller.elf.
Library           metersim.frontends.robot_library
Library           metersim.cabinet.robot_keywords

*** Test Cases ***
Heater Energy Over Modbus Matches The Reference
    Create Metering Controller    channels=4
    Console Should Contain        metering controller v1.0, 4 channels, addr 1
    Inject Load                   0    heater    2000
    Set Malicious Load Detection  0    false
    Top Up Room                   0    100000
    Run Cabinet For               60s
    Room Relay Should Be          0    closed
    ${wh}=    Read Room Energy Over Modbus    0
    Should Be True                ${wh} > 30
    Room Energy Should Match Reference    0

Zero Balance Trips And A Top Up Closes
    Create Metering Controller
    Inject Load                   0    motor    1500
    Top Up Room                   0    1
    Run Cabinet For               120s
    Console Should Contain        event trip room 0 value 1
    Room Relay Should Be          0    open
    Top Up Room                   0    500
    Run Cabinet For               1s
    Room Relay Should Be          0    closed

Energy Survives A Power Cut
    Create Metering Controller
    Inject Load                   0    heater    2000
    Set Malicious Load Detection  0    false
    Top Up Room                   0    100000
    Run Cabinet For               30s
    Power Cut At                  32s    holdup_ms=20    off_ms=1500
    Run Cabinet For               3s
    Room Energy Should Match Reference    0    percent=0.2    slack_Wh=3
