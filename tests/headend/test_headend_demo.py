"""The head end's part of `make demo` (metersim._headend.demo): into a log (stdout not a
terminal) it runs the emulated cabinet against a head end, ends with the dashboard's address
and a screenshot of it taken in Debian's headless Chromium, and stops by itself."""

import io
import re

import httpx
import pytest

from metersim._headend.demo import run_headend_demo
from metersim._headend.screenshot import chromium_available


def test_demo_ends_with_the_address_and_a_screenshot_and_stops_by_itself(tmp_path):
    if not chromium_available():
        pytest.skip("Debian's chromium and chromium-driver are absent (make setup installs them)")
    out = io.StringIO()                       # not a terminal: no serving until Ctrl-C
    shot = tmp_path / "img" / "headend_demo.png"
    got = run_headend_demo(out=out, virtual_s=2.0, screenshot=shot, api_port=0)
    last = out.getvalue().splitlines()[-2:]
    m = re.fullmatch(r"dashboard: (http://127\.0\.0\.1:\d+)/  \(user demo, password (\S+)\)",
                     last[0])
    assert m and m.group(1) == got["url"], last
    assert last[1] == f"screenshot: {shot}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert got["readings"] >= 4               # a report of the four rooms at least
    with pytest.raises(httpx.ConnectError):   # the head end stopped with the demo
        httpx.get(got["url"] + "/api/me", timeout=2)
