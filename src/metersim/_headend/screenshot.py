"""A picture of the dashboard: Debian's Chromium, headless, driven by Selenium through Debian's
chromedriver (the browser the tests use), logged in, with one room's curve open."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .._errors import SetupError

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


@contextmanager
def headless_chromium():
    """A Selenium driver of Debian's Chromium, headless, on a fresh profile that is removed
    afterwards, with the flags a machine without outside network needs."""
    if not chromium_available():
        raise SetupError("Debian's chromium and chromium-driver are absent "
                         "(make setup installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="metersim-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,720"):
        opts.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def dashboard_screenshot(url: str, user: str, password: str, path: Path,
                         room_id: int | None = None, timeout_s: float = 30.0) -> Path:
    """Log in at `url`, wait for the cabinets' table (and `room_id`'s curve), save a PNG."""
    if not chromium_available():
        raise SetupError("no screenshot: Debian's chromium and chromium-driver are absent "
                         "(make setup installs them)")
    from selenium.webdriver.common.by import By

    with headless_chromium() as driver:
        driver.get(url + "/")
        driver.find_element(By.ID, "login-name").send_keys(user)
        driver.find_element(By.ID, "login-password").send_keys(password)
        driver.find_element(By.ID, "login-button").click()

        def until(script: str, what: str, *args):
            end = time.monotonic() + timeout_s
            while not driver.execute_script(script, *args):
                if time.monotonic() > end:
                    raise SetupError(f"no screenshot: the dashboard did not show {what} "
                                     f"within {timeout_s:g} s")
                time.sleep(0.1)

        until("return document.querySelectorAll('#cabinets td').length > 0", "its rooms")
        if room_id is not None:
            driver.execute_script("document.getElementById('room-' + arguments[0]).click()",
                                  room_id)
            until("const i = document.getElementById('curve');"
                  "return i.complete && i.naturalWidth > 0", "the room's curve")
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    return path
