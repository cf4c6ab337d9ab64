"""The timbre map page in a real browser: Debian's chromium driven by selenium.

The page is opened from disk (``file://``), as a user opens it.  These tests skip, saying
why, where selenium, chromium or chromedriver is missing (``.ci/run`` installs them where
it can); every other test of the map runs without them (``test_timbre_map.py``).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from musicnn.store import FeatureStore
from musicnn.timbre import Descriptors, TimbreMap, build_map
from musicnn.timbre.page import write_page

CHROMEDRIVER = os.environ.get("MUSICNN_CHROMEDRIVER", "/usr/bin/chromedriver")
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_LABEL = "<b onmouseover=alert(2)>brass & co"


def _browser_or_skip():
    try:
        from selenium import webdriver  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium): the page's browser tests are skipped")
    if not Path(CHROMEDRIVER).is_file():
        pytest.skip(f"{CHROMEDRIVER} is missing (Debian: apt-get install chromium chromium-driver): "
                    "the page's browser tests are skipped")
    if not (shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")):
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium): the page's browser tests are skipped")


@pytest.fixture(scope="module")
def driver():
    _browser_or_skip()
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager stays off the network
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files"):
        opts.add_argument(arg)
    try:
        drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except WebDriverException as exc:
        pytest.skip(f"chromium did not start ({str(exc).splitlines()[0]}): the page's browser tests are skipped")
    drv.set_window_size(1400, 900)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def page(note_paths, tmp_path_factory) -> Path:
    """A map of real notes, two of them with hostile names under a hostile label, audio linked."""
    root = tmp_path_factory.mktemp("page")
    sounds = root / "sounds"
    seen: dict[str, int] = {}
    for p in note_paths:
        if seen.get(p.parent.name, 0) < 4:
            seen[p.parent.name] = seen.get(p.parent.name, 0) + 1
            (sounds / p.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(p, sounds / p.parent.name / p.name)
    (sounds / HOSTILE_LABEL).mkdir()
    shutil.copy(note_paths[0], sounds / HOSTILE_LABEL / f"{HOSTILE}.wav")
    shutil.copy(note_paths[1], sounds / HOSTILE_LABEL / "plain & simple.wav")
    res = build_map(sounds, root / "map", grid="4x3", title=f"{HOSTILE} map", store=FeatureStore(root / "cache"),
                    progress=False, log=lambda msg: None)
    return res.files["map.html"]


def _open(driver, path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return document.documentElement.getAttribute('data-ready') === '1'"))


def _hover(driver, unit: int, click: bool = False) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, "grid")
    x, y = driver.execute_script("return window.timbreMap.centre(arguments[0])", unit)
    size = canvas.size  # selenium offsets are from the element's centre
    chain = ActionChains(driver).move_to_element_with_offset(canvas, int(x - size["width"] / 2),
                                                            int(y - size["height"] / 2))
    (chain.click() if click else chain).perform()


def _pixel(driver, unit: int) -> list[int]:
    return driver.execute_script(
        "var c = document.getElementById('grid'), p = window.timbreMap.centre(arguments[0]);"
        "var r = window.devicePixelRatio || 1;"
        "return Array.from(c.getContext('2d').getImageData(Math.round(p[0] * r), Math.round(p[1] * r), 1, 1).data);",
        unit)


def _data(driver) -> dict:
    return driver.execute_script("return JSON.parse(document.getElementById('map-data').textContent)")


def _no_alert(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def _wait_playing(driver, timeout: float = 10.0) -> list:
    deadline = time.time() + timeout
    state = None
    while time.time() < deadline:
        state = driver.execute_script("var a = document.getElementById('player');"
                                      "return [a.paused, a.currentTime, a.error && a.error.code, a.src];")
        if not state[0] and state[1] > 0.05:
            return state
        time.sleep(0.1)
    raise AssertionError(f"the audio element did not play: paused, currentTime, error, src = {state}")


def test_the_grid_is_drawn_in_label_colours(driver, page):
    _open(driver, page)
    data = _data(driver)
    assert driver.execute_script("return window.timbreMap.units") == 12
    for unit in range(12):
        label = data["unitLabel"][unit]
        want = data["colours"][label] if label >= 0 else "#dcdcdc"
        got = "#" + "".join(f"{v:02x}" for v in _pixel(driver, unit)[:3])
        assert got == want, (unit, got, want)


def test_hovering_a_unit_lists_its_sounds_and_neighbours(driver, page):
    from selenium.webdriver.common.by import By

    _open(driver, page)
    data = _data(driver)
    sounds = data["sounds"]
    unit = max(range(12), key=lambda u: sounds["unit"].count(u))
    _hover(driver, unit)
    title = driver.find_element(By.ID, "unit-title").text
    assert f"row {unit // 4}, column {unit % 4}" in title
    rows = driver.find_elements(By.CSS_SELECTOR, "#unit-sounds tr")
    own = [i for i, u in enumerate(sounds["unit"]) if u == unit]
    assert len(rows) == len(own)
    shown = [r.find_element(By.CSS_SELECTOR, "button").text for r in rows]
    assert sorted(shown) == sorted(sounds["name"][i] for i in own)
    dists = [float(r.find_elements(By.TAG_NAME, "td")[2].text) for r in rows]
    assert dists == sorted(dists)  # nearest the unit's prototype first
    near = driver.find_elements(By.CSS_SELECTOR, "#unit-neighbours button")
    assert len(near) == 5 and not {b.text for b in near} & set(shown)


def test_clicking_a_sound_plays_it(driver, page):
    from selenium.webdriver.common.by import By

    _open(driver, page)
    _hover(driver, 0)
    button = driver.find_element(By.CSS_SELECTOR, "#unit-sounds button, #unit-neighbours button")
    name = button.text
    button.click()
    state = _wait_playing(driver)
    assert state[2] is None and state[3].startswith("file://")
    assert name in driver.find_element(By.ID, "now-playing").text


def test_toggle_between_label_colours_and_the_u_matrix(driver, page):
    from selenium.webdriver.common.by import By

    _open(driver, page)
    data = _data(driver)
    driver.find_element(By.ID, "mode-umatrix").click()
    assert driver.execute_script("return window.timbreMap.mode()") == "umatrix"
    for unit in (0, 5, 11):
        r, g, b, _ = _pixel(driver, unit)
        assert r == g == b  # grey levels
        assert abs(r - round(250 - 215 * data["umatrix"][unit])) <= 1
    darkest = int(np.argmax(data["umatrix"]))
    assert _pixel(driver, darkest)[0] == min(_pixel(driver, u)[0] for u in range(12))
    driver.find_element(By.ID, "mode-labels").click()
    assert driver.execute_script("return window.timbreMap.mode()") == "labels"


def test_search_finds_a_sound_by_name(driver, page):
    from selenium.webdriver.common.by import By

    _open(driver, page)
    box = driver.find_element(By.ID, "search")
    box.send_keys("plain &")
    results = driver.find_elements(By.CSS_SELECTOR, "#search-results button")
    assert [b.text for b in results] == [f"{HOSTILE_LABEL}/plain & simple.wav"]
    assert "1 sound matches" in driver.find_element(By.ID, "search-count").text
    results[0].click()
    _wait_playing(driver)
    assert "(pinned)" in driver.find_element(By.ID, "unit-title").text


def test_hostile_names_show_as_text_and_run_nothing(driver, page):
    from selenium.webdriver.common.by import By

    _open(driver, page)
    _no_alert(driver)
    assert driver.find_elements(By.TAG_NAME, "img") == [] and driver.find_elements(By.TAG_NAME, "b") == []
    assert driver.title == f"{HOSTILE} map"
    assert driver.find_element(By.TAG_NAME, "h1").text == f"{HOSTILE} map"
    driver.find_element(By.ID, "search").send_keys("onerror")
    results = driver.find_elements(By.CSS_SELECTOR, "#search-results button")
    assert [b.text for b in results] == [f"{HOSTILE_LABEL}/{HOSTILE}.wav"]
    labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#legend li")]
    assert any(t.startswith(HOSTILE_LABEL) for t in labels)
    results[0].click()  # its link is percent-encoded: it plays
    _wait_playing(driver)
    unit = driver.execute_script("return JSON.parse(document.getElementById('map-data').textContent)"
                                 ".sounds.unit[window.timbreMap.playing()]")
    _hover(driver, unit)
    assert driver.find_elements(By.TAG_NAME, "img") == []
    _no_alert(driver)


def test_embedded_audio_plays_without_the_files(driver, note_paths, tmp_path):
    from selenium.webdriver.common.by import By

    sounds = tmp_path / "sounds"
    for p in note_paths[:6]:
        (sounds / p.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, sounds / p.parent.name / p.name)
    res = build_map(sounds, tmp_path / "map", grid="3x2", embed_audio=True, store=FeatureStore(tmp_path / "c"),
                    progress=False, log=lambda msg: None)
    shutil.rmtree(sounds)  # the page carries its sounds
    _open(driver, res.files["map.html"])
    _hover(driver, int(res.map.units[0]))
    driver.find_element(By.CSS_SELECTOR, "#unit-sounds button").click()
    state = _wait_playing(driver)
    assert state[3].startswith("data:audio/ogg;base64,")


def _synthetic_map(n: int, a_path: str, rng) -> TimbreMap:
    """``n`` sounds on a 20 x 18 map (random vectors; every sound links the same real note)."""
    rows, cols, d = 18, 20, 16
    W = rng.standard_normal((rows * cols, d)).astype(np.float32)
    X = rng.standard_normal((n, d)).astype(np.float32)
    tmap = TimbreMap(rows=rows, cols=cols, topology="hexagonal", descriptors=Descriptors.features(),
                     mean=np.zeros(d), scale=np.ones(d), weights=W, paths=[a_path] * n,
                     names=[f"family{i % 20:02d}/sound_{i:05d}.wav" for i in range(n)],
                     labels=[f"family{i % 20:02d}" for i in range(n)], units=np.zeros(n, np.int64),
                     distances=np.zeros(n), vectors=X, quantization_error=1.0, topographic_error=0.1)
    tmap.units, tmap.distances = tmap.locate(X)
    return tmap


def test_the_page_stays_usable_with_5000_sounds(driver, a_note, tmp_path, rng):
    from selenium.webdriver.common.by import By

    tmap = _synthetic_map(5000, str(a_note), rng)
    page = write_page(tmap, tmp_path / "map.html", title="5000 sounds", progress=False)
    t0 = time.perf_counter()
    _open(driver, page)
    assert time.perf_counter() - t0 < 10.0
    assert driver.execute_script("return window.timbreMap.sounds") == 5000
    busiest = int(np.argmax(tmap.hits()))
    t0 = time.perf_counter()
    _hover(driver, busiest)
    rows = driver.find_elements(By.CSS_SELECTOR, "#unit-sounds tr")
    assert len(rows) == min(int(tmap.hits()[busiest]), 300) and time.perf_counter() - t0 < 5.0
    box = driver.find_element(By.ID, "search")
    box.send_keys("sound_0421")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#search-results button")) == 10  # 04210-04219
    labels = driver.find_elements(By.CSS_SELECTOR, "#legend li")
    assert len(labels) == 20
