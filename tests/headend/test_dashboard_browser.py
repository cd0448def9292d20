"""The dashboard in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver. It logs in, sees a room's power and balance change as the cabinet
reports, tops a room up through the form and opens a room's relay with its button; both reach
the cabinet's link."""

import os
import shutil

from metersim._headend import Headend, domain

from .conftest import OPERATOR, PASSWORD, FakeQueryManager, log_in_page, r_line, wait_for


def hs_rooms(b):
    """The rooms as the API gives them to the page (with the page's own token)."""
    return b.execute_script(
        "return fetch('/api/cabinets', {headers: {Authorization: 'Bearer ' + "
        "sessionStorage.getItem('token')}}).then(r => r.json())")[0]["rooms"]


T0 = 1_780_000_000          # 2026-05-28 20:26:40 UTC: the cabinet's clock of the first report


def report(qm, seq, rooms):
    """One report: rooms = [(power_100mW, energy_Wh, balance_cents, relay_closed)], taken by the
    cabinet's clock 10 s after the one before."""
    lines = [f"T {T0 + 10 * (seq // len(rooms))}"]
    for room, (p, e, b, closed) in enumerate(rooms):
        lines.append(r_line(seq + room, room=room, power_100mW=p, energy_Wh=e, balance=b,
                            status=1 if closed else 2, reason=0 if closed else 1))
    qm.send(*lines, "END")
    return seq + len(rooms)


def test_dashboard_shows_live_values_and_takes_a_top_up(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    hs = Headend(f"sqlite:///{tmp_path / 'headend.db'}", cabinets={"block-A": 0}, api_port=0)
    with hs.sessions.begin() as s:
        domain.add_user(s, OPERATOR, PASSWORD, "operator", domain.now_utc())
    hs.start()
    try:
        qm = FakeQueryManager(hs.link_ports["block-A"])
        qm.send("HELLO query-manager 1.0")
        seq = report(qm, 1, [(20000, 1500, 4200, True), (0, 800, -150, False),
                             (9000, 300, 2500, True), (0, 0, 0, False)])
        wait_for(lambda: hs.links.readings_in == 4, what="4 readings")
        b = browser
        log_in_page(b, hs.url(), OPERATOR)

        def cell(room_label, cls):
            """The text of a room row's cell, read in one script (the table is redrawn each
            second, so element handles go stale)."""
            return b.execute_script(
                "for (const tr of document.querySelectorAll('#cabinets tr')) {"
                "  const td = tr.querySelector('td');"
                "  if (td && td.textContent === arguments[0]) {"
                "    const c = tr.querySelector('.' + arguments[1]); return c && c.textContent; } }"
                "return null;", room_label, cls)

        wait_for(lambda: cell("1-0", "power") == "2000.0", what="room 1-0's power shown")
        assert cell("1-0", "balance") == "42.00" and cell("1-1", "balance") == "-1.50"
        assert "arrears: room 1-1 owes 1.50" in b.find_element(By.ID, "alarms").text
        assert cell("1-0", "read-at") == "20:26:40"             # the cabinet's clock
        # the cabinet reports again: the page follows without a reload
        seq = report(qm, seq, [(31000, 1510, 4150, True), (0, 800, -150, False),
                               (9000, 302, 2500, True), (0, 0, 0, False)])
        wait_for(lambda: cell("1-0", "power") == "3100.0", what="the new power")
        assert cell("1-0", "balance") == "41.50" and cell("1-0", "energy") == "1.510"
        assert cell("1-0", "read-at") == "20:26:50"
        # a top-up of room 1-1 from the form reaches the cabinet's link, and is confirmed
        room_id = next(r["id"] for r in hs_rooms(b) if r["label"] == "1-1")
        Select(b.find_element(By.ID, "topup-room")).select_by_value(str(room_id))
        b.find_element(By.ID, "topup-amount").send_keys("12.50")
        b.find_element(By.ID, "topup-button").click()
        assert qm.read_line() == "TOPUP 1 1 1250"
        qm.send("OK TOPUP")
        seq = report(qm, seq, [(31000, 1520, 4100, True), (0, 800, 1100, True),
                               (9000, 304, 2500, True), (0, 0, 0, False)])
        wait_for(lambda: "done" in b.find_element(By.ID, "topup-result").text,
                 what="the top-up confirmed on the page")
        wait_for(lambda: cell("1-1", "balance") == "11.00", what="the new balance")
        assert cell("1-1", "closed") == "closed"
        # the room's relay button: an operator opens room 1-0's relay from the page
        assert cell("1-0", "relay-btn") == "open"
        b.execute_script("document.querySelector('#room-' + arguments[0] + ' .relay-btn').click()",
                         next(r["id"] for r in hs_rooms(b) if r["label"] == "1-0"))
        assert qm.read_line() == "RELAY 1 0 0"
        qm.send("OK RELAY")
        wait_for(lambda: b.find_element(By.ID, "relay-result").text == "relay open 1-0: done",
                 what="the relay command confirmed on the page")
        # a click on a room shows its energy curve (a PNG drawn by the server from the readings)
        b.execute_script("document.getElementById('room-' + arguments[0]).click()",
                         next(r["id"] for r in hs_rooms(b) if r["label"] == "1-0"))
        wait_for(lambda: b.execute_script("const i = document.getElementById('curve');"
                                          "return i.complete && i.naturalWidth") == 600,
                 what="the curve image")
        b.save_screenshot(str(tmp_path / "headend_dashboard.png"))
        assert (tmp_path / "headend_dashboard.png").stat().st_size > 10_000
        if os.environ.get("METERSIM_SCREENSHOTS"):     # docs/img/ is refreshed this way
            shutil.copy(tmp_path / "headend_dashboard.png", os.environ["METERSIM_SCREENSHOTS"])
        qm.close()
    finally:
        hs.stop()
