"""The meter from its factory image (platforms/images/meter_mu.yaml): the bootloader starts the RTOS
image meter_mu, whose loader starts the extended app LOADID and the basic app BASIC from their
flashfs slots as unprivileged processes in their own windows; LOADID registers its identifiers
on the virtual bus at run time. The RTOS image itself holds neither: without the apps in flashfs
nobody owns LOADID's identifiers, and the rates are data the meter does not have."""

import pytest

import metersim
from metersim._cli import EXIT_OK, main
from metersim.dlt645 import Dlt645Abnormal
from metersim._image.pack import pack

from tests.meter.conftest import MANIFEST, started


def test_image_show_lists_the_rtos_and_the_apps(meter_image, capsys):
    assert main(["image", "show", str(meter_image)]) == EXIT_OK
    rows = {ln.split()[0]: ln.split() for ln in capsys.readouterr().out.splitlines()[2:]}
    assert list(rows) == ["bootloader", "rtos", "start.par", "LOADID", "BASIC"]
    assert rows["rtos"][1] == "(meter_mu)" and rows["rtos"][2] == "0x008000"
    loadid = rows["LOADID"]
    assert loadid[1:3] == ["0x060000", "0x08060000"] and "app" in loadid and "1.0.0" in loadid
    basic = rows["BASIC"]
    assert basic[1:3] == ["0x0a0000", "0x080a0000"] and "app" in basic and "1.0.0" in basic


def test_the_loader_starts_loadid_which_answers_its_identifier_over_dlt645(meter):
    m = meter()
    assert "loader: started LOADID 1.0.0 (window 0x20020000 16 KiB, prio 10)" in m.con.text
    assert "loader: started BASIC 1.0.0 (window 0x20030000 32 KiB, prio 9)" in m.con.text
    assert "meter: 2 apps from flashfs" in m.con.text
    assert m.master.read(0x04A10001) == bytes.fromhex("0000") + bytes([0]) + bytes(3)
    assert m.master.read(0x04A00001) == b"\x01"               # the platform sees it running
    m.emu.run_for("1.2s")                                       # the app's first reading
    m.unit.power_W = 3123.4                                     # a 2 kW appliance switches on
    m.con.expect("loadid: appliance on, 2.0000 kW step, class 3, count 1", timeout="1.5s")
    assert m.master.read(0x04A10001) == bytes.fromhex("0100") + bytes([3]) + \
        metersim.dlt645.bcd_encode("2.0000", 3, 4)


def test_without_the_app_in_flashfs_its_identifiers_have_no_owner(tmp_path, meter_image):
    text = MANIFEST.read_text().split("\napps:")[0]             # bootloader and RTOS only
    text = text.replace("../../build", str(MANIFEST.parents[2] / "build"))
    manifest = tmp_path / "no_apps.yaml"
    manifest.write_text(text + "\napps: []\nstart: []\n")
    image = tmp_path / "no_apps.bin"
    image.write_bytes(pack(manifest))
    emu = metersim.Emulation(seed=1)
    board = metersim.build_meter(emu, image, voltage_V=220.1).mu
    con = metersim.capture_uart(board)
    started(con, "meter: 0 apps from flashfs")
    master = metersim.dlt645.Master(emu, board["rs485Bus"].attach_host("r", baud=2400, parity="E"))
    assert master.read(0x04A00001) == b"\x00"
    with pytest.raises(Dlt645Abnormal) as e:
        master.read(0x04A10001)
    assert e.value.serr == 0x02                                 # no requested data
    with pytest.raises(Dlt645Abnormal) as e:
        master.read(0x00010100)                                 # rates: the basic app's
    assert e.value.serr == 0x02
    assert master.read(0x0001FF00) == metersim.dlt645.bcd_encode("0", 4, 2)   # the total only
