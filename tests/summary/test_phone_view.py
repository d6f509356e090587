"""The weekly summary on a phone: in headless Chromium at 390 px wide (a common phone's CSS width), the
first screen shows the headline — the lead sentence and the submission-rate tiles — and nothing makes
the page scroll sideways (wide tables scroll inside their own box).

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (as the UI test); without them the test is
skipped, or fails with CI=true. A few seconds: it runs in ``make test``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from recruitment_month.summary.render import preview_html

CHROMIUM = os.environ.get("UI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("UI_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run")


@pytest.fixture(scope="module")
def phone():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        message = f"Chromium or chromedriver missing: {', '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="phone-view-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (*ARGS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        yield driver
    finally:
        driver.quit()


def _layout(driver, html: str, tmp_path: Path) -> dict:
    page = tmp_path / "summary.html"
    page.write_text(html, encoding="utf-8")
    driver.get(page.as_uri())
    return driver.execute_script(
        """
        const box = (id) => { const r = document.getElementById(id).getBoundingClientRect();
                              return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
        return {viewport: window.innerWidth, height: window.innerHeight,
                scroll: document.documentElement.scrollWidth,
                headline: box("headline"), rates: box("kpi-rates")};
        """
    )


# The revised version opens with what changed, so only the start of its lead need be on the first screen.
@pytest.mark.parametrize(("mail", "whole_lead"), [("preliminary_mail", True), ("revised_mail", False)])
def test_the_summary_reads_on_a_390px_phone(phone, mail, whole_lead, request, tmp_path):
    layout = _layout(phone, preview_html(request.getfixturevalue(mail)), tmp_path)
    assert layout["viewport"] == PHONE["width"]
    assert layout["scroll"] <= layout["viewport"], "the page scrolls sideways"
    for part in ("headline", "rates"):
        assert layout[part]["left"] >= 0, part
        assert layout[part]["right"] <= layout["viewport"], part
    assert layout["headline"]["top"] < layout["height"]  # the lead starts on the first screen
    if whole_lead:
        assert layout["headline"]["bottom"] <= layout["height"]


def test_wide_screens_keep_four_tiles_in_a_row(phone, preliminary_mail, tmp_path):
    phone.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**PHONE, "width": 800, "mobile": False})
    try:
        page = tmp_path / "wide.html"
        page.write_text(preview_html(preliminary_mail), encoding="utf-8")
        phone.get(page.as_uri())
        tops = phone.execute_script(
            "return [...document.querySelectorAll('#kpi-rates > div')].map(d => d.getBoundingClientRect().top);"
        )
    finally:
        phone.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    assert len(tops) == 4
    assert len(set(tops)) == 1
