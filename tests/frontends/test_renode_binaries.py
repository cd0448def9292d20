"""Binaries named by URL in monitor paths, as Renode's suites name them: a replacement file
from the binaries folders, else a download checked against the URL's `-s_<size>-<sha1>` and
kept in the cache, else an error naming the URL, the names looked for and the folders."""

import hashlib
import http.server
import threading
from functools import partial

import pytest

from metersim._frontends.monitor import Monitor
from metersim._frontends.renode_binaries import (BINARIES_ENV, BinaryNotFound, resolve_binary,
                                                 split_renode_suffix)

SHA = "1bf32c99bbb3c01d81e13ca68118eaf08b2a815f"


def renode_url(name: str, data: bytes, base="https://dl.example.invalid/renode") -> str:
    return f"{base}/{name}-s_{len(data)}-{hashlib.sha1(data).hexdigest()}"


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/served; yields (base URL, folder)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served, httpd
    httpd.shutdown()
    httpd.server_close()


def test_renode_suffix_is_split_off():
    assert split_renode_suffix(f"zephyr-button.elf-s_276760-{SHA}") == \
        ("zephyr-button.elf", 276760, SHA)
    assert split_renode_suffix("stm32f0-crc-test") == ("stm32f0-crc-test", None, None)


def test_a_file_named_as_the_url_or_without_the_suffix_replaces_the_download(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (second / "button.elf").write_bytes(b"bare name")
    url = f"https://dl.example.invalid/renode/button.elf-s_276760-{SHA}"
    # nothing is downloaded or checked: the replacement is a build of its own
    assert resolve_binary(url, dirs=[first, second], cache=tmp_path / "cache").read_bytes() \
        == b"bare name"
    (first / f"button.elf-s_276760-{SHA}").write_bytes(b"full name")
    assert resolve_binary(url, dirs=[first, second], cache=tmp_path / "cache").read_bytes() \
        == b"full name"


def test_download_is_checked_against_size_and_sha1_then_cached(tmp_path, server):
    base, served, httpd = server
    data = b"\x7fELF firmware bytes" * 100
    good = renode_url("fw.elf", data, base)
    cache = tmp_path / "cache"
    # the server has the file under the suffixed name, as Renode's download site does
    (served / good.rsplit("/", 1)[1]).write_bytes(data)
    got = resolve_binary(good, dirs=[], cache=cache)
    assert got == cache / good.rsplit("/", 1)[1] and got.read_bytes() == data
    httpd.shutdown()                                     # from now on only the cache answers
    assert resolve_binary(good, dirs=[], cache=cache).read_bytes() == data


def test_a_download_that_does_not_match_the_url_is_refused_and_not_kept(tmp_path, server):
    base, served, _ = server
    data = b"the firmware"
    wrong_sha = renode_url("fw.elf", b"other firmware", base).rsplit("-", 1)[1]
    name = f"fw.elf-s_{len(data)}-{wrong_sha}"
    (served / name).write_bytes(data)
    with pytest.raises(BinaryNotFound, match=r"does not match: SHA-1 [0-9a-f]{40}, the URL says"):
        resolve_binary(f"{base}/{name}", dirs=[], cache=tmp_path / "cache")
    name = f"fw.elf-s_{len(data) + 1}-{hashlib.sha1(data).hexdigest()}"
    (served / name).write_bytes(data)
    with pytest.raises(BinaryNotFound, match=rf"{len(data)} bytes, the URL says {len(data) + 1}"):
        resolve_binary(f"{base}/{name}", dirs=[], cache=tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


def test_no_replacement_and_no_download_names_the_url_the_names_and_the_folders(tmp_path, server):
    base, _, _ = server
    folder = tmp_path / "mine"
    folder.mkdir()
    url = f"{base}/zephyr-button.elf-s_276760-{SHA}"
    with pytest.raises(BinaryNotFound) as err:
        resolve_binary(url, dirs=[folder], cache=tmp_path / "cache")
    text = str(err.value)
    assert text.startswith(url + ": no replacement file and the download failed (HTTPError")
    assert f"'zephyr-button.elf-s_276760-{SHA}' or 'zephyr-button.elf'" in text
    assert str(folder) in text and BINARIES_ENV in text


def test_monitor_loads_an_url_elf_from_the_binaries_folder(tmp_path, monkeypatch, firmware):
    elf = firmware("f413rg", "hello")
    (tmp_path / "hello.elf").symlink_to(elf)
    monkeypatch.setenv(BINARIES_ENV, str(tmp_path))
    lines = []
    mon = Monitor(out=lines.append)
    try:
        mon.execute("mach create")
        mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
        mon.execute(f"$bin=@https://dl.example.invalid/hello.elf-s_10-{SHA}")
        mon.execute("sysbus LoadELF $bin")
        mon.execute("showAnalyzer sysbus.usart1")
        mon.execute('emulation RunFor "00:00:01.1"')
        assert any("uptime 1 s" in line for line in lines), lines
    finally:
        mon.close()
