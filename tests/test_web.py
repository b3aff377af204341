"""The web page (``GET /``) in a real browser: headless Chromium (``make install-browser``)
against a live ``ingest api`` and real consumers.

The dirty customers sample is uploaded through the page's form; the job is seen waiting (no
consumer runs yet), then, once consumers run, its bar reaches 100 % and its state becomes
``succeeded_with_rejects``; the rejects CSV downloaded from the page is checked line by line
against the independent checker, and the database too. Numbers, states and progress text are
each on one line at 1440 px and at a phone's width (where the table scrolls in its box). The
screenshots are kept for humans at ``volumes/screenshots/web-jobs.png`` and
``web-jobs-narrow.png``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests import checker, pipeline
from tests.apiserver import TERMINAL, TOKEN, Api, start_api, start_consumer
from tests.browser import chromium, downloaded, poll

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "customers_sample.csv"
SCREENSHOT = ROOT / "volumes" / "screenshots" / "web-jobs.png"
SCREENSHOT_NARROW = ROOT / "volumes" / "screenshots" / "web-jobs-narrow.png"
NARROW = (420, 1000)
# What never breaks inside: numbers, states, progress groups, reason counts, the CSV link.
WHOLE = "td.num .nowrap, .state, .progress-text .nowrap, ul.reasons li, a.rejects-csv"
# A 200-character file name in the first row: the table still fits its box (the name breaks).
LONG_NAME_JS = """
const span = document.querySelector("#jobs td.file > span");
const kept = span.textContent;
span.textContent = arguments[0];
const fits = document.getElementById("jobs").offsetWidth
  <= document.querySelector(".table-box").clientWidth;
span.textContent = kept;
return fits;
"""
LINES_JS = """
const lines = (node) => {
  const range = document.createRange();
  range.selectNodeContents(node);
  return new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size;
};
return Array.from(document.querySelectorAll(arguments[0]))
  .filter((node) => lines(node) > 1).map((node) => node.textContent);
"""
BATCH_SIZE = 10  # the sample's 40 records in 4 batches: the bar moves in steps


@pytest.fixture
def api(service_env: dict[str, str], clean_tables: None, tmp_path: Path) -> Iterator[Api]:
    """A live ``ingest api`` with a token (tests/apiserver.py); stopped after."""
    server = start_api(tmp_path, service_env)
    yield server
    server.stop()


def _row(driver: webdriver.Chrome, job_id: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{job_id}"]')


def _bar(driver: webdriver.Chrome, job_id: str) -> tuple[str, float, float]:
    """The row's state and its <progress> value and max, read in one go."""
    row = _row(driver, job_id)
    bar = row.find_element(By.TAG_NAME, "progress")
    return (str(row.get_attribute("data-state")), float(bar.get_property("value")),
            float(bar.get_property("max")))


def _give_token(driver: webdriver.Chrome) -> None:
    dialog = driver.find_element(By.ID, "token-dialog")
    poll(lambda: dialog.get_attribute("open") is not None, 20, "the page to ask for the token")
    driver.find_element(By.ID, "token-input").send_keys(TOKEN)
    driver.find_element(By.ID, "token-submit").click()


def _upload(driver: webdriver.Chrome, path: Path, dataset: str, batch_size: int) -> str:
    """Submit ``path`` for ``dataset`` through the form; the job id the page announces."""
    select = Select(driver.find_element(By.ID, "upload-dataset"))
    poll(lambda: dataset in [o.get_attribute("value") for o in select.options], 20,
         f"dataset {dataset} in the form")
    select.select_by_value(dataset)
    driver.find_element(By.ID, "upload-file").send_keys(str(path))
    driver.find_element(By.ID, "upload-batch-size").send_keys(str(batch_size))
    driver.find_element(By.ID, "upload-submit").click()
    status = driver.find_element(By.ID, "upload-status")
    job_id = poll(lambda: status.get_attribute("data-job-id")
                  or ("failed" in status.text and pytest.fail(status.text)), 60,
                  "the upload to be accepted")
    return str(job_id)


def _expected_rejects(path: Path) -> list[list[str]]:
    """The rejects CSV's rows as the checker sees the file: line, reason, the record's fields
    as read (``_detail`` left out: its wording is the product's)."""
    exp = checker.expected([path])
    with path.open("rb") as handle:
        records = dict(checker.iter_records(iter(handle)))
    rows = []
    for (_, line), reason in sorted(exp.rejects.items()):
        rows.append([str(line), reason,
                     *checker.split_fields(checker.decode(records[line]))])
    return rows


def _check_rejects_csv(data: bytes, path: Path) -> None:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    with path.open("rb") as handle:
        header = checker.split_fields(checker.decode(next(iter(handle)).rstrip(b"\r\n")))
    assert rows[0] == ["_line", "_reason", "_detail", *header]
    assert [[line, reason, *fields] for line, reason, _, *fields in rows[1:]] == \
        _expected_rejects(path)


def _broken_tokens(driver: webdriver.Chrome) -> list[str]:
    """The texts of ``WHOLE`` elements laid out on more than one line."""
    assert driver.find_elements(By.CSS_SELECTOR, WHOLE)
    found: list[str] = driver.execute_script(LINES_JS, WHOLE)
    return found


def _browser_errors(driver: webdriver.Chrome) -> list[str]:
    """Console errors other than the one 401 that made the page ask for the token."""
    entries = driver.get_log("browser")
    return [e["message"] for e in entries
            if e["level"] == "SEVERE" and "401 (Unauthorized)" not in e["message"]]


def _when(driver: webdriver.Chrome, job_id: str, ready: Callable[[tuple[str, float, float]], bool],
          within: float, what: str) -> tuple[str, float, float]:
    """The job's (state, value, max) on the page once ``ready`` holds for it."""
    def probe() -> tuple[str, float, float] | None:
        bar = _bar(driver, job_id)
        return bar if ready(bar) else None
    return poll(probe, within, what)


def _cell(row: WebElement, column: int) -> str:
    return str(row.find_element(By.CSS_SELECTOR, f"td:nth-of-type({column})").text)


def test_upload_watch_and_download_rejects(api: Api, service_env: dict[str, str],
                                           database_url: str, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with chromium(downloads) as driver:
        driver.get(api.url + "/")
        _give_token(driver)
        job_id = _upload(driver, SAMPLE, "customers", BATCH_SIZE)

        # No consumer runs yet: the job is listed, sealed with its 40 records, none loaded.
        waiting = _when(driver, job_id, lambda bar: bar[2] == 40, 60, "the job's 40 records")
        assert waiting == ("loading", 0, 40)
        row = _row(driver, job_id)
        assert (_cell(row, 1), _cell(row, 2)) == ("customers", SAMPLE.name)
        assert "0 of 40 (0 %)" in row.find_element(By.CLASS_NAME, "progress-text").text

        consumers = [start_consumer(tmp_path, service_env) for _ in range(2)]
        ended = _when(driver, job_id, lambda bar: bar[0] in TERMINAL, 120, "the job to end")
        assert ended == ("succeeded_with_rejects", 40, 40)
        row = _row(driver, job_id)
        assert "40 of 40 (100 %)" in row.find_element(By.CLASS_NAME, "progress-text").text
        reasons = [li.text for li in row.find_elements(By.CSS_SELECTOR, "ul.reasons li")]
        want = checker.expected([SAMPLE]).reasons()
        assert sorted(reasons) == sorted(f"{reason}: {n}" for reason, n in want.items())
        rate = row.find_element(By.CSS_SELECTOR, "td.num").text
        assert rate.replace(",", "").replace(".", "", 1).isdigit(), rate

        row.find_element(By.CSS_SELECTOR, "a.rejects-csv").click()
        _check_rejects_csv(downloaded(downloads, f"{job_id}.rejects.csv"), SAMPLE)

        assert TOKEN not in driver.page_source  # typed once, never put in the page
        assert driver.execute_script("return document.querySelectorAll('dialog[open]').length") == 0
        assert _browser_errors(driver) == []
        assert _broken_tokens(driver) == []
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOT))
        assert driver.execute_script(LONG_NAME_JS, "x" * 200), "a long file name widens the table"
        driver.set_window_size(*NARROW)  # a phone: the table scrolls in its box, not the page
        assert _broken_tokens(driver) == []
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth")
        assert driver.save_screenshot(str(SCREENSHOT_NARROW))

    for consumer in consumers:
        consumer.send_signal(signal.SIGTERM)
        assert pipeline.finish(consumer, timeout=60).rc == 0
    asyncio.run(pipeline.assert_loaded_exactly(database_url, [SAMPLE], [job_id]))
