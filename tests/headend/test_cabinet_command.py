"""`metersim cabinet --server URL` runs the demo cabinet with a query manager that reports to a
head end: the command a user types beside `metersim headend serve`, here with the head end on
another address (127.0.0.2 stands for the PC server's machine). The readings of the cabinet's
rooms land in the head end's database under that cabinet."""

import subprocess
import sys

import pytest
from sqlalchemy import func, select

import metersim
from metersim._cli.commands import server_address
from metersim._errors import SetupError
from metersim._headend.models import Cabinet, Reading, Room

from .conftest import wait_for


def test_cabinet_command_reports_to_a_running_head_end(tmp_path):
    hs = metersim.Headend(f"sqlite:///{tmp_path / 'hs.db'}", cabinets={"block-A": 0},
                          host="127.0.0.2", api_port=0).start()
    try:
        port = hs.link_ports["block-A"]
        proc = subprocess.run([sys.executable, "-m", "metersim", "cabinet", "--hours", "0.004",
                               "--server", f"tcp://127.0.0.2:{port}"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"query manager reporting to 127.0.0.2:{port}" in proc.stdout

        def stored():
            with hs.sessions.begin() as s:
                cab = s.scalar(select(Cabinet).where(Cabinet.name == "block-A"))
                rooms = s.scalars(select(Room.room).where(Room.cabinet_id == cab.id)).all()
                readings = s.scalar(select(func.count(Reading.id))
                                    .where(Reading.cabinet_id == cab.id))
                return sorted(rooms), readings
        wait_for(lambda: stored()[1] >= 4, 10, "the cabinet's readings in the database")
        rooms, _ = stored()
        assert rooms == [0, 1, 2, 3]          # the demo's four rooms, as the query manager polled them
    finally:
        hs.stop()


def test_server_urls():
    assert server_address("5020") == ("127.0.0.1", 5020)
    assert server_address("pc.example:5020") == ("pc.example", 5020)
    assert server_address("tcp://10.0.0.7:5021/") == ("10.0.0.7", 5021)
    for bad in ("70000", "0", "tcp://pc.example", "http://pc.example:80", ":5020", "pc:x"):
        with pytest.raises(SetupError, match="--server takes"):
            server_address(bad)


def test_a_bad_server_is_a_usage_error_naming_it():
    proc = subprocess.run([sys.executable, "-m", "metersim", "cabinet", "--server", "70000"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "--server takes" in proc.stderr and "'70000'" in proc.stderr
