"""The emulation's network: services at IP addresses that emulated modems and MACs reach.

Renode's `emulation CreateEmulatedNetworkService "name" "<type>" "<address>" <port> "<args>"`
puts a host-side service (an echo server ...) at an address and port of an emulated network;
a cellular modem model's sockets connect to it. Here that network lives in-process, one per
`Emulation`: no host sockets, no wall time, so a run is deterministic. A connection is a pair
of byte queues; the service answers through `Connection.deliver`, and the modem model decides
when the bytes reach the firmware (its own latency, in virtual time).

    net = network_of(emulation)
    net.add_service("netEcho", EchoService("192.0.2.1", 4242))
    conn = net.connect("TCP", "192.0.2.1", 4242, on_data=lambda b: ...)
    conn.send(b"hello")      # the echo service calls on_data(b"hello")
"""

from __future__ import annotations

import ipaddress
from typing import Callable

from metersim._errors import MetersimError


class NetworkError(MetersimError):
    """A service that cannot be created, or a connection nobody answers."""


PROTOCOLS = ("TCP", "UDP")


class Connection:
    """One socket between a client (a modem) and a service."""

    def __init__(self, protocol: str, address: str, port: int,
                 on_data: Callable[[bytes], None], on_close: Callable[[], None] | None = None):
        self.protocol = protocol
        self.address = address
        self.port = port
        self._on_data = on_data
        self._on_close = on_close
        self.service: "NetworkService | None" = None
        self.open = True
        self.sent_bytes = 0
        self.received_bytes = 0

    def send(self, data: bytes) -> None:
        """Client -> service."""
        if not self.open:
            raise NetworkError(f"{self.protocol} {self.address}:{self.port}: connection closed")
        self.sent_bytes += len(data)
        assert self.service is not None
        self.service.on_data(self, bytes(data))

    def deliver(self, data: bytes) -> None:
        """Service -> client."""
        if self.open and data:
            self.received_bytes += len(data)
            self._on_data(bytes(data))

    def close(self) -> None:
        """The client closes its socket."""
        if self.open:
            self.open = False
            if self.service is not None:
                self.service.on_close(self)


class NetworkService:
    """A host-side service at `address:port`. Subclasses answer `on_data`."""

    #: Renode's type names this class stands for
    renode_types: tuple[str, ...] = ()

    def __init__(self, address: str, port: int, args: str = ""):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise NetworkError(f"{type(self).__name__}: {address!r} is not an IP address") from None
        if not isinstance(port, int) or not 0 < port < 65536:
            raise NetworkError(f"{type(self).__name__}: port must be 1..65535, got {port!r}")
        self.address = address
        self.port = port
        self.args = args
        self.connections: list[Connection] = []

    def on_connect(self, conn: Connection) -> None:
        self.connections.append(conn)

    def on_data(self, conn: Connection, data: bytes) -> None:
        raise NotImplementedError

    def on_close(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)


class EchoService(NetworkService):
    """Sends back every byte it receives, on TCP and UDP alike (Renode's EchoService)."""

    renode_types = ("Antmicro.Renode.Peripherals.Network.EchoService", "EchoService")

    def __init__(self, address: str, port: int, args: str = ""):
        super().__init__(address, port, args)
        self.echoed_bytes = 0

    def on_data(self, conn: Connection, data: bytes) -> None:
        self.echoed_bytes += len(data)
        conn.deliver(data)


SERVICE_TYPES: dict[str, type[NetworkService]] = {
    name: cls for cls in (EchoService,) for name in cls.renode_types}


class EmulatedNetwork:
    """Named services by (address, port); `connect` reaches one or raises NetworkError."""

    def __init__(self) -> None:
        self.services: dict[str, NetworkService] = {}

    def add_service(self, name: str, service: NetworkService) -> NetworkService:
        if name in self.services:
            raise NetworkError(f"a network service named {name!r} exists already")
        for other_name, other in self.services.items():
            if (other.address, other.port) == (service.address, service.port):
                raise NetworkError(f"{service.address}:{service.port} is taken by {other_name!r}")
        self.services[name] = service
        return service

    def create_service(self, name: str, type_name: str, address: str, port: int,
                       args: str = "") -> NetworkService:
        """Renode's CreateEmulatedNetworkService arguments, in Renode's order."""
        cls = SERVICE_TYPES.get(type_name)
        if cls is None:
            known = sorted(t for t in SERVICE_TYPES if "." in t)
            raise NetworkError(f"no emulated network service type {type_name!r}; metersim has: "
                               f"{', '.join(known)}")
        return self.add_service(name, cls(address, port, args))

    def find(self, address: str, port: int) -> NetworkService | None:
        for service in self.services.values():
            if service.address == address and service.port == port:
                return service
        return None

    def connect(self, protocol: str, address: str, port: int,
                on_data: Callable[[bytes], None],
                on_close: Callable[[], None] | None = None) -> Connection:
        protocol = protocol.upper()
        if protocol not in PROTOCOLS:
            raise NetworkError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        service = self.find(address, port)
        if service is None:
            there = ", ".join(f"{s.address}:{s.port} ({n})" for n, s in self.services.items())
            raise NetworkError(f"{protocol} {address}:{port}: no service listens there "
                               f"(services: {there or 'none'})")
        conn = Connection(protocol, address, port, on_data, on_close)
        conn.service = service
        service.on_connect(conn)
        return conn


def network_of(emulation) -> EmulatedNetwork:
    """The network of an Emulation, created on first use."""
    net = getattr(emulation, "network", None)
    if net is None:
        net = EmulatedNetwork()
        emulation.network = net
    return net
