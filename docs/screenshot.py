"""Screenshots of running pages in headless Chromium, for the README and for looking at the UI.

    python docs/screenshot.py http://127.0.0.1:8050/traffic docs/traffic.png [--size 1920x1080] [--wait 6]
    python docs/screenshot.py "http://127.0.0.1:8050/wall?views=emergency&interval=600" docs/wall-4k.png --size 3840x2160

Every page needs a signed-in screen: give a kiosk link (``...?kiosk=TOKEN``, from
``python -m feeds kiosk add NAME``); the screen signs in and is sent on to the page.
``--size`` is the page's viewport (the screen a wall shows it on), exactly: 3840x2160 is a 4K screen at
100 % scaling. Console errors of the page are printed, so a shot also checks the page is clean.
"""
from __future__ import annotations

import argparse
import time

from selenium import webdriver


def shoot(url: str, out: str, size: str = "1920x1080", wait: float = 6.0, click: str | None = None) -> None:
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                f"--window-size={size.replace('x', ',')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts)
    try:
        width, height = (int(v) for v in size.split("x"))
        # The window's size includes the browser's own frame: set the page's viewport itself.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        driver.get(url)
        time.sleep(wait)
        # Software WebGL on a busy machine can take seconds: wait for a map to have painted, if any.
        driver.execute_script("return document.querySelectorAll('.maplibregl-canvas').length") and time.sleep(wait / 2)
        if click:
            driver.find_element("css selector", click).click()
            time.sleep(wait)
        driver.save_screenshot(out)
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                print("console:", entry.get("message"))
    finally:
        driver.quit()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("out")
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--wait", type=float, default=6.0)
    p.add_argument("--click", help="CSS selector to click before the shot")
    a = p.parse_args()
    shoot(a.url, a.out, a.size, a.wait, a.click)
