"""The PC server's end of the query manager's link in tests: a connection on a host socket
whose lines are read, without waiting, while the emulation runs."""


class LinkPeer:
    def __init__(self, conn):
        self.conn = conn
        conn.setblocking(False)
        self.buf = b""

    def lines(self) -> list[str]:
        """Every complete line received so far."""
        try:
            while chunk := self.conn.recv(65536):
                self.buf += chunk
        except BlockingIOError:
            pass
        return self.buf.decode().split("\n")[:-1]

    def send(self, line: str) -> None:
        self.conn.sendall(line.encode() + b"\n")

    def close(self) -> None:
        self.conn.close()
