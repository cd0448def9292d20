*** Settings ***
Documentation     The prepaid cabinet's metering controller (STM32F103RB, ADE7753 x 4 or 32,
...               relays, EEPROM, RS-485 Modbus RTU): metering against the reference, prepaid
...               trip and top-up, a power cut, protection trips (malicious load, overload), the
...               32-channel board, malformed Modbus frames and exception replies (Modbus over
...               Serial Line v1.02 / Application Protocol v1.1b3 §7).
...               Firmware: build/fw/f103rb/metering_controller.elf.
Library           metersim.robot
Library           metersim.robot.cabinet

*** Variables ***
${LINE NOISE}     07 0a 0d 10 13 16 19 1c 1f 22 25 28 2b 2e 31 34 37 3a 3d 40 43

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

A Top Up Written Again With Its Token Is Credited Once
    Create Metering Controller
    ${token}=    Top Up Room              2    700
    Top Up Room                   2    700    token=${token}
    ${balance}=    Read Room Balance Over Modbus    2
    Should Be Equal As Integers   ${balance}    700
    Top Up Room                   2    300
    ${balance}=    Read Room Balance Over Modbus    2
    Should Be Equal As Integers   ${balance}    1000

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

Energies Stay Right When Another Room's Load Arrives Later
    Create Metering Controller
    Inject Load                   0    heater    2000
    Set Malicious Load Detection  0    false
    Top Up Room                   0    100000
    Run Cabinet For               20s
    Inject Load                   1    motor     1000    on_at=2s
    Top Up Room                   1    100000
    Run Cabinet For               40s
    Room Energy Should Match Reference    0
    Room Energy Should Match Reference    1

Heater Trips As Malicious Load, Motor And Computer Of Equal Power Do Not
    Create Metering Controller
    Inject Load                   0    heater      1500    on_at=5s
    Inject Load                   1    motor       1500    on_at=5s
    Inject Load                   2    computer    1500    on_at=5s
    FOR    ${room}    IN RANGE    3
        Set Malicious Load Detection    ${room}    true
        Top Up Room               ${room}    10000
    END
    Run Cabinet For               30s
    Room Should Be Tripped By     0    malicious load
    Room Status Flag Should Be Set    0    illegal_load_seen
    Console Should Contain        event trip room 0 value 5
    Room Should Not Be Tripped    1
    Room Should Not Be Tripped    2

Overload Trips After The Overload Delay
    Create Metering Controller
    Inject Load                   0    motor    1500    on_at=5s
    Set Room Protection           0    load_limit_W=1000    overload_delay_s=5    malicious_detect=false
    Top Up Room                   0    10000
    Run Cabinet For               30s
    Room Should Be Tripped By     0    overload
    Room Relay Should Open After  0    5s    tolerance=2s

A Load Within The Limit Does Not Trip For Overload
    Create Metering Controller
    Inject Load                   0    motor    900    on_at=5s
    Set Room Protection           0    load_limit_W=1000    overload_delay_s=5    malicious_detect=false
    Top Up Room                   0    10000
    Run Cabinet For               30s
    Room Should Not Be Tripped    0

32 Channel Board Boots, Reads Every Channel And Answers For All
    Create Metering Controller    channels=32
    Console Should Contain        32 channels
    Attach Constant Load To Every Room    first_A=0.5    step_A=0.25
    Run Cabinet For               3s
    ${info}=    Read Modbus Device Info
    Should Be Equal As Integers   ${info}[channels]    32
    Modbus Should Answer For Every Room
    Every Room Current Should Match Its Load    tolerance_A=0.01

Frames Not For This Slave Get No Reply
    Create Metering Controller
    Send Raw Modbus Frame         01 04 00 00 00 01    crc=bad
    No Modbus Reply Should Come
    Send Raw Modbus Frame         ${LINE NOISE}
    No Modbus Reply Should Come
    Send Raw Modbus Frame         07 04 00 00 00 01    crc=good
    No Modbus Reply Should Come
    Send Raw Modbus Frame         00 04 00 00 00 01    crc=good
    No Modbus Reply Should Come
    ${replies}=    Send Raw Modbus Frame    01 04 00 00 00 01    crc=good
    Length Should Be              ${replies}    1
    ${info}=    Read Modbus Device Info
    Should Be True                ${info}[crc_errors] >= 1
    Modbus Should Answer For Every Room

Bad Requests Get The Standard Exception Replies
    Create Metering Controller
    Modbus Request Should Fail With Exception    41 00 00                         1
    Modbus Request Should Fail With Exception    04 50 00 00 01                   2
    Modbus Request Should Fail With Exception    03 00 00 00                      3
    Modbus Request Should Fail With Exception    03 00 00 00 00                   3
    Modbus Request Should Fail With Exception    03 00 00 00 7E                   3
    Modbus Request Should Fail With Exception    10 00 08 00 01 04 00 01 00 02    3
    Modbus Should Answer For Every Room

Console Terminal Shows The Power Failure Save And The Reboot
    Create Metering Controller
    Create Terminal Tester        sysbus.usart1    timeout=5
    Inject Load                   0    heater    2000
    Set Malicious Load Detection  0    false
    Top Up Room                   0    100000
    Power Cut At                  8s    holdup_ms=20    off_ms=500
    Wait For Line On Uart         power failing: totals saved
    Wait For Line On Uart         reset cause: power-on; eeprom restored
    Room Energy Should Match Reference    0    percent=0.2    slack_Wh=3
