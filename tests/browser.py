"""Headless Chromium for the web page's tests: Debian's ``chromium`` and ``chromedriver``
(``make install-browser``) driven by selenium, with downloads saved to a test's directory.

Both programs are found on PATH and given to selenium, so it never looks for (or downloads) a
browser or a driver itself. Missing ones fail the test with one line saying what to run.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

T = TypeVar("T")
WINDOW = "1440,1000"


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found on PATH: run `make install-browser` (Debian's chromium "
                    "and chromium-driver)", pytrace=False)
    return found


@contextmanager
def chromium(downloads: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium that saves downloads in ``downloads``; quit afterwards."""
    options = webdriver.ChromeOptions()
    options.binary_location = _program("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={WINDOW}", "--lang=en-US"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads),
        "download.prompt_for_download": False,
        "download.directory_upgrade": True,
    })
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=_program("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


def poll(probe: Callable[[], T | None], within: float, what: str,
         every: float = 0.2) -> T:
    """``probe()``'s first true value, tried every ``every`` s; AssertionError naming ``what``
    (and the last WebDriverException, if any) after ``within`` s."""
    deadline = time.monotonic() + within
    last: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except WebDriverException as exc:  # a row replaced between two lookups, ...
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}"
                                 + (f" (last error: {last.msg})" if last else ""))
        time.sleep(every)


def downloaded(directory: Path, name: str, within: float = 20) -> bytes:
    """The bytes of ``directory/name`` once Chromium has finished writing it."""
    target = directory / name

    def complete() -> bytes | None:
        partial = list(directory.glob("*.crdownload"))
        return target.read_bytes() if target.exists() and not partial else None

    return poll(complete, within, f"the download {target}")
