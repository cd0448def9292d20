"""The Quectel BG96 model at AT level: a host-side UART plays the MCU, the clock is driven by
hand, and an in-process echo service stands at the far end of the modem's sockets."""

import pytest

from metersim._engine.clock import Clock
from metersim._engine.network import EchoService, EmulatedNetwork
from metersim._units import PS_PER_MS
from metersim.peripherals.base import Context
from metersim.peripherals.quectel_bg96 import QuectelBG96
from metersim.peripherals.uart_endpoint import UartEndpoint


class Dte:
    """The MCU's side of the modem's UART, at 115200 8N1."""

    def __init__(self, modem: QuectelBG96, clock: Clock):
        self.clock = clock
        self.modem = modem
        self.port = UartEndpoint(Context.standalone("dte", clock), baud=115200)
        modem.tx.connect(self.port.on_frame)
        self.port.tx.connect(modem.on_frame)

    def run_ms(self, ms: float) -> None:
        self.clock.run_for(int(ms * PS_PER_MS))

    def read(self) -> bytes:
        return self.port.read()

    def at(self, line: str, wait_ms: float = 20) -> str:
        self.port.send(line.encode() + b"\r")
        self.run_ms(wait_ms + len(line) * 0.1)
        return self.read().decode("latin-1")


@pytest.fixture
def rig():
    clock = Clock()
    modem = QuectelBG96(Context.standalone("bg96", clock), boot_time_ms=100, latency_ms=20)
    modem.network = EmulatedNetwork()
    modem.network.add_service("netEcho", EchoService("192.0.2.1", 4242))
    dte = Dte(modem, clock)
    return modem, dte


def booted(rig):
    modem, dte = rig
    modem.on_gpio(0, True)
    modem.on_gpio(0, False)          # PWRKEY pulled low: power on
    dte.run_ms(150)
    assert dte.read() == b"\r\nRDY\r\n"
    assert dte.at("ATE0") == "ATE0\r\r\nOK\r\n"      # echoed while echo was still on
    return modem, dte


def test_off_until_pwrkey_then_rdy_after_the_boot_time(rig):
    modem, dte = rig
    assert dte.at("AT") == ""                        # unpowered: nothing answers
    assert not modem.VDD_EXT.level
    modem.on_gpio(0, False)                          # already low: no edge
    modem.on_gpio(0, True)
    modem.on_gpio(0, False)
    assert modem.VDD_EXT.level
    dte.run_ms(90)
    assert dte.read() == b""
    dte.run_ms(20)
    assert dte.read() == b"\r\nRDY\r\n"
    assert dte.at("AT") == "AT\r\r\nOK\r\n"


def test_reset_pin_holds_the_module_off(rig):
    modem, dte = booted(rig)
    modem.on_gpio(1, False)
    assert not modem.powered and not modem.VDD_EXT.level
    modem.on_gpio(0, True)
    modem.on_gpio(0, False)                          # PWRKEY ignored while in reset
    assert not modem.powered
    modem.on_gpio(1, True)                           # released: boots again, echo back on
    dte.run_ms(150)
    assert dte.read() == b"\r\nRDY\r\n"
    assert dte.at("AT") == "AT\r\r\nOK\r\n"


def test_identification_and_sim(rig):
    modem, dte = booted(rig)
    assert dte.at("AT+CGMI") == "\r\nQuectel\r\n\r\nOK\r\n"
    assert dte.at("AT+CGMM") == "\r\nBG96\r\n\r\nOK\r\n"
    assert dte.at("AT+CGSN") == "\r\n866818039921444\r\n\r\nOK\r\n"
    assert dte.at("AT+CGSN=2") == "\r\n+CGSN: 8668180399214431\r\n\r\nOK\r\n"   # IMEISV
    assert dte.at("AT+CGSN=0") == "\r\n+CGSN: <serial number>\r\n\r\nOK\r\n"
    modem.iccid_number = "89014103211118510720"
    assert dte.at("AT+QCCID") == "\r\n+QCCID: 89014103211118510720\r\n\r\nOK\r\n"
    assert dte.at("AT+CIMI") == "\r\n001010123456789\r\n\r\nOK\r\n"
    assert dte.at("AT+CPIN?") == "\r\n+CPIN: READY\r\n\r\nOK\r\n"
    assert dte.at("AT+CFUN?") == "\r\n+CFUN: 1\r\n\r\nOK\r\n"


def test_registration_signal_and_urcs(rig):
    modem, dte = booted(rig)
    assert dte.at("AT+CREG?") == "\r\n+CREG: 0,0\r\n\r\nOK\r\n"
    assert dte.at("AT+CEREG=1") == "\r\nOK\r\n"
    modem.network_registration_state = "RegisteredHomeNetwork"   # as the .resc sets it
    dte.run_ms(3)
    assert dte.read() == b"\r\n+CEREG: 1\r\n"
    assert modem.NETLIGHT.level
    assert dte.at("AT+CMEE=1;+CEREG?") == "\r\n+CEREG: 1,1\r\n\r\nOK\r\n"
    modem.rssi = -73
    assert dte.at("AT+CSQ") == "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert dte.at("AT+CFUN=4", wait_ms=60) == "\r\nOK\r\n"
    assert dte.at("AT+CEREG?") == "\r\n+CEREG: 1,0\r\n\r\nOK\r\n"     # radio off
    with pytest.raises(ValueError, match="RegisteredHomeNetwork"):
        modem.network_registration_state = "Registered"


def test_errors_follow_cmee(rig):
    modem, dte = booted(rig)
    assert dte.at("AT+QIACT=1", wait_ms=300) == "\r\n+CME ERROR: 561\r\n"   # not registered
    assert dte.at("AT+CMEE=2") == "\r\nOK\r\n"
    assert dte.at("AT+QIACT=1", wait_ms=300) == "\r\n+CME ERROR: open PDP context failed\r\n"
    assert dte.at("AT+CMEE=0") == "\r\nOK\r\n"
    assert dte.at("AT+QIACT=1", wait_ms=300) == "\r\nERROR\r\n"
    assert dte.at("AT+NOSUCH") == "\r\nERROR\r\n"
    assert dte.at("AT+CMEE=7") == "\r\nERROR\r\n"


def test_override_response_for_command(rig):
    modem, dte = booted(rig)
    modem.network_registration_state = "RegisteredHomeNetwork"
    modem.override_response_for_command("AT+QIACT=1", "ERROR")
    assert dte.at("AT+QIACT=1", wait_ms=300) == "\r\nERROR\r\n"
    modem.clear_overrides()
    assert dte.at("AT+QIACT=1", wait_ms=300) == "\r\nOK\r\n"


def activated(rig):
    modem, dte = booted(rig)
    modem.network_registration_state = "RegisteredHomeNetwork"
    assert dte.at('AT+QICSGP=1,1,"internet","","",1') == "\r\nOK\r\n"
    assert dte.at("AT+QIACT=1", wait_ms=240) == ""      # a network round trip: not yet
    dte.run_ms(20)
    assert dte.read() == b"\r\nOK\r\n"
    assert dte.at("AT+QIACT?") == '\r\n+QIACT: 1,1,1,"10.0.0.2"\r\n\r\nOK\r\n'
    return modem, dte


def test_tcp_echo_through_the_emulated_network(rig):
    modem, dte = activated(rig)
    assert dte.at('AT+QIOPEN=1,0,"TCP","192.0.2.1",4242,0,0', wait_ms=5) == "\r\nOK\r\n"
    dte.run_ms(50)
    assert dte.read() == b"\r\n+QIOPEN: 0,0\r\n"
    assert dte.at("AT+QISEND=0,5", wait_ms=5) == "\r\n> "
    dte.port.send(b"he\r\nl")                        # binary data, CR LF included
    dte.run_ms(5)
    assert dte.read() == b"\r\nSEND OK\r\n"
    dte.run_ms(40)                                   # there and back: 2 x 20 ms
    assert dte.read() == b'\r\n+QIURC: "recv",0\r\n'
    assert dte.at("AT+QIRD=0,3") == "\r\n+QIRD: 3\r\nhe\r\r\n\r\nOK\r\n"
    assert dte.at("AT+QIRD=0,1500") == "\r\n+QIRD: 2\r\n\nl\r\n\r\nOK\r\n"
    assert dte.at("AT+QIRD=0,1500") == "\r\n+QIRD: 0\r\n\r\nOK\r\n"
    assert dte.at("AT+QIRD=0,0") == "\r\n+QIRD: 5,5,0\r\n\r\nOK\r\n"
    assert dte.at("AT+QISEND=0,0") == "\r\n+QISEND: 5,5,0\r\n\r\nOK\r\n"
    assert dte.at("AT+QISTATE?") == ('\r\n+QISTATE: 0,"TCP","192.0.2.1",4242,0,2,1,0,0,"uart1"'
                                     '\r\n\r\nOK\r\n')
    assert dte.at('AT+QIOPEN=1,0,"TCP","192.0.2.1",4242,0,0') == "\r\n+CME ERROR: 563\r\n"
    assert dte.at("AT+QICLOSE=0") == "\r\nOK\r\n"
    assert dte.at("AT+QISEND=0,5") == "\r\nERROR\r\n"
    assert modem.network.services["netEcho"].echoed_bytes == 5


def test_variable_length_send_and_direct_push(rig):
    modem, dte = activated(rig)
    dte.at('AT+QIOPEN=1,3,"UDP","192.0.2.1",4242,0,1', wait_ms=60)
    assert dte.read() == b""
    assert dte.at("AT+QISEND=3", wait_ms=5) == "\r\n> "
    dte.port.send(b"ping\x1a")
    dte.run_ms(50)
    assert dte.read() == b'\r\nSEND OK\r\n\r\n+QIURC: "recv",3,4\r\nping\r\n'


def test_socket_to_nowhere_and_before_activation(rig):
    modem, dte = booted(rig)
    modem.network_registration_state = "RegisteredHomeNetwork"
    assert dte.at('AT+QIOPEN=1,0,"TCP","192.0.2.1",4242', wait_ms=60) == \
        "\r\nOK\r\n\r\n+QIOPEN: 0,561\r\n"            # no PDP context active
    dte.at("AT+QIACT=1", wait_ms=300)
    assert dte.at('AT+QIOPEN=1,0,"TCP","192.0.2.9",80', wait_ms=60) == \
        "\r\nOK\r\n\r\n+QIOPEN: 0,566\r\n"            # nobody listens there
    assert dte.at('AT+QIOPEN=1,0,"TCP","echo.example",80', wait_ms=60) == \
        "\r\nOK\r\n\r\n+QIOPEN: 0,565\r\n"            # no DNS modelled
