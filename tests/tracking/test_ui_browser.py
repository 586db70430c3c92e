"""The MLflow UI in a real browser: ``mlflow server`` on a free loopback port over the store of
a tiny pipeline run (:mod:`tests.tiny_pipeline`), opened in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by Selenium; ``.ci/run`` installs them).

Checks what a person sees: the experiment in the model-training layout with the runs listed
and their FID, IS and PPL values in the Leaderboard view, the run page's description, and a
run's sample grid served as a PNG. Screenshots land in the test's tmp dir."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run installs them)",
                allow_module_level=True)  # fmt: skip
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pinned in the dev extra: make install)")
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from genmodels.tracking.presentation import experiment_page
from genmodels.tracking.server import tracking_server
from tests.tiny_pipeline import EXPERIMENT, tiny_project

PNG = b"\x89PNG\r\n\x1a\n"
WAIT = 90  # seconds for a page to render on a busy 2-core machine


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Path, str]]:
    root = tiny_project()
    before = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        with tracking_server(root) as url:
            yield root, url
    finally:
        if before is not None:
            os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1800,900"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def api(url: str, path: str, **query: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}", timeout=30) as r:
        return json.loads(r.read())


def runs(url: str, experiment_id: str) -> dict[str, dict]:
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/runs/search", data=json.dumps({"experiment_ids": [experiment_id]}).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        found = json.loads(r.read())["runs"]
    return {r["info"]["run_name"]: r for r in found}


def metric(run: dict, key: str) -> float:
    return next(m["value"] for m in run["data"]["metrics"] if m["key"] == key)


def shown(value: float) -> list[str]:
    """How the runs table may print a value (it shows full precision; allow a rounded form too)."""
    return [repr(value), f"{value:.4g}", f"{value:.2f}", str(round(value, 4))]


def body_text(driver) -> str:
    """The page's text, including what sits in scrolled panes (columns the grid did not paint are absent)."""
    return driver.execute_script("return document.body.textContent")


def close_assistant(driver) -> None:
    """Close the MLflow Assistant side panel (it takes a third of the width from the runs table)."""
    for button in driver.find_elements("css selector", "button[aria-label='Close']"):
        if button.is_displayed():
            button.click()
            return


def test_the_runs_table_lists_the_runs_with_fid_is_and_ppl(server: tuple[Path, str], browser, tmp_path: Path) -> None:
    _root, url = server
    exp = api(url, "experiments/get-by-name", experiment_name=EXPERIMENT)["experiment"]
    assert {t["key"]: t["value"] for t in exp["tags"]}["mlflow.experimentKind"] == "custom_model_development"
    found = runs(url, exp["experiment_id"])
    browser.get(experiment_page(url, exp["experiment_id"]))
    WebDriverWait(browser, WAIT).until(lambda d: all(name in body_text(d) for name in ("vae", "gmm", "ref-holdout")) and "fid_ci_low" in body_text(d))
    close_assistant(browser)
    WebDriverWait(browser, WAIT).until(lambda d: "ppl" in body_text(d))
    time.sleep(1.0)  # let the grid finish painting before the screenshot
    browser.save_screenshot(str(tmp_path / "experiment.png"))
    text = body_text(browser)
    assert "Model training" in text and "Leaderboard" in text
    for column in ("fid", "fid_ci_low", "fid_ci_high", "is", "ppl"):
        assert column in text, column
    for name, keys in (("vae", ("fid", "is", "ppl")), ("gmm", ("fid", "is"))):
        for key in keys:
            value = metric(found[name], key)
            assert any(s in text for s in shown(value)), f"{name} {key}={value} not on the page"
    assert (tmp_path / "experiment.png").read_bytes()[:8] == PNG


def test_a_runs_page_shows_its_headline_and_serves_its_sample_grid(server: tuple[Path, str], browser, tmp_path: Path) -> None:
    root, url = server
    exp = api(url, "experiments/get-by-name", experiment_name=EXPERIMENT)["experiment"]
    vae = runs(url, exp["experiment_id"])["vae"]
    run_id = vae["info"]["run_id"]
    with urllib.request.urlopen(f"{url}/get-artifact?path=samples/vae.png&run_uuid={run_id}", timeout=30) as r:
        served = r.read()
    assert served[:8] == PNG and served == (root / "samples/vae.png").read_bytes()
    browser.get(f"{url}/#/experiments/{exp['experiment_id']}/runs/{run_id}?workflowType=machine_learning")
    WebDriverWait(browser, WAIT).until(lambda d: "FID" in body_text(d) and "PPL" in body_text(d))
    time.sleep(1.0)
    browser.save_screenshot(str(tmp_path / "run.png"))
    text = body_text(browser)
    assert f"FID {metric(vae, 'fid'):.4g}" in text  # the description: the headline metrics first
    # the browser fetches the artifact URL (the server sends it as a download) and decodes it as a picture of the grid's size
    browser.set_script_timeout(WAIT)
    decoded = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.blob()).then(b => createImageBitmap(b)).then(i => done([i.width, i.height])).catch(e => done(String(e)));",
        f"{url}/get-artifact?path=samples/vae.png&run_uuid={run_id}")  # fmt: skip
    assert decoded == list(Image.open(root / "samples/vae.png").size), decoded
