"""Local web app: Flask test client for every path, Selenium in headless chromium."""

from __future__ import annotations

import gzip
import io
import threading
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("flask")

from brainlm_decode import CLIPDecoder
from brainlm_decode.report.app import create_app
from brainlm_decode.report.checks import MapCheckError, check_map


@pytest.fixture(scope="module")
def decoder():
    return CLIPDecoder.from_pretrained()


@pytest.fixture(scope="module")
def app(decoder):
    return create_app(decoder, max_upload_mb=2, model_name="niclip-test")


@pytest.fixture(scope="module")
def motor_path():
    from nilearn.datasets import load_sample_motor_activation_image

    return Path(load_sample_motor_activation_image())


def post(client, data: bytes | None = None, name="map.nii.gz", **form):
    fields = {"source": "upload", "level": "all", "tail": "positive", **form}
    if data is not None:
        fields["map"] = (io.BytesIO(data), name)
    return client.post("/decode", data=fields, content_type="multipart/form-data")


def test_index_has_form(app):
    page = app.test_client().get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for needle in ('type="file"', 'name="level"', 'name="tail"', "2 MB"):
        assert needle in text


def test_upload_gives_the_report(app, motor_path):
    response = post(app.test_client(), motor_path.read_bytes(), level="task")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'id="level-task"' in text and 'id="level-concept"' not in text
    assert "motor" in text.split('id="level-task"')[1][:3000].lower()
    assert "niclip-test" in text


def test_sample_and_options(app):
    response = post(app.test_client(), source="sample", percentile="10", top="3")
    assert response.status_code == 200
    assert "percentile=10.0" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "form", "status", "message"),
    [
        (b"hello, not a brain", {}, 400, "not a NIfTI"),
        (None, {}, 400, "No file"),
        (b"", {}, 400, "empty"),
        (None, {"percentile": "150", "source": "sample"}, 400, "threshold"),
        (None, {"level": "network", "source": "sample"}, 400, "Unknown level"),
        (b"x" * (3 * 1024 * 1024), {}, 413, "larger than the limit of 2 MB"),
    ],
)
def test_bad_requests_get_clear_error_pages(app, data, form, status, message):
    client = app.test_client()
    if data == b"":
        response = client.post(
            "/decode",
            data={"source": "upload", "map": (io.BytesIO(b""), "m.nii")},
            content_type="multipart/form-data",
        )
    else:
        response = post(client, data, **form)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def nifti_bytes(img) -> bytes:
    return gzip.compress(img.to_bytes())


def test_4d_and_non_mni_maps_are_refused(app, motor_path):
    img = nib.load(motor_path)
    data = np.asanyarray(img.dataobj)
    four_d = nib.Nifti1Image(np.stack([data, data], -1), img.affine)
    response = post(app.test_client(), nifti_bytes(four_d))
    assert response.status_code == 400 and "4D" in response.get_data(as_text=True)
    native = nib.Nifti1Image(data, np.diag([3.0, 3.0, 3.0, 1.0]))  # origin at a corner
    response = post(app.test_client(), nifti_bytes(native))
    assert response.status_code == 400
    assert "MNI space" in response.get_data(as_text=True)
    with pytest.raises(MapCheckError, match="no finite non-zero"):
        check_map(nib.Nifti1Image(np.zeros((5, 5, 5)), np.eye(4)))
    assert app.test_client().get("/nothing").status_code == 404


@pytest.fixture
def live_server(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_browser_upload_shows_a_motor_task(
    live_server, motor_path, chrome, screenshot_is_not_blank
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome()
    try:
        driver.set_page_load_timeout(240)
        driver.get(live_server + "/")
        driver.find_element(By.ID, "map").send_keys(str(motor_path))
        driver.find_element(By.ID, "submit").click()
        WebDriverWait(driver, 240).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, "#level-task td"))
        )
        first = driver.find_element(By.CSS_SELECTOR, "#level-task td").text
        assert "motor" in first.lower()
        assert driver.find_elements(By.CSS_SELECTOR, "#level-task rect.bar")
        assert screenshot_is_not_blank(driver.get_screenshot_as_png())
    finally:
        driver.quit()
