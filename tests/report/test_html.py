"""Self-contained HTML report: content, no external assets, CLI, browser render."""

from __future__ import annotations

import re
import shutil
import warnings

import pytest

from brainlm_decode import CLIPDecoder
from brainlm_decode.cli import main

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def decoder():
    return CLIPDecoder.from_pretrained()


@pytest.fixture(scope="module")
def motor_path(tmp_path_factory):
    from nilearn.datasets import load_sample_motor_activation_image

    source = load_sample_motor_activation_image()
    target = tmp_path_factory.mktemp("maps") / "motor.nii.gz"
    shutil.copy(source, target)
    return target


@pytest.fixture(scope="module")
def report_html(decoder, motor_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return decoder.report(motor_path, n_explain=1, model_name="niclip-test")


def test_report_holds_viewer_charts_gallery_and_provenance(report_html, motor_path):
    import hashlib

    assert "<iframe" in report_html and "srcdoc=" in report_html
    assert report_html.count("<svg") >= 3
    assert 'id="level-task"' in report_html and 'id="level-domain"' in report_html
    assert report_html.count('<img alt="explanation map') == 3  # task, concept, domain
    digest = hashlib.sha256(motor_path.read_bytes()).hexdigest()
    assert digest in report_html
    assert "niclip-test" in report_html and "model checksum" in report_html
    assert "tail=positive" in report_html
    first_task = re.search(r'id="level-task".*?<td>(.*?)</td>', report_html, re.S)
    assert "motor" in first_task.group(1).lower()


def test_report_needs_no_network(report_html):
    assert not EXTERNAL.search(report_html)
    # the viewer's page inside srcdoc is escaped: check it unescaped too
    import html

    assert not EXTERNAL.search(html.unescape(report_html))


def test_cli_writes_report(motor_path, tmp_path, capsys):
    out = tmp_path / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["decode", str(motor_path), "--top", "5", "--html", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "Provenance" in text
    assert "Report written" in capsys.readouterr().err


def test_report_of_a_sparse_map(decoder):
    """An MKDA map is zero in most voxels: nilearn's "auto" threshold would be
    negative there and view_img refuses it; the viewer shows the non-zero voxels."""
    from brainlm_decode.imaging import mkda_map

    img = mkda_map([[-38, -22, 56], [38, -22, 56]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = decoder.report(img, n_explain=0)
    assert "<iframe" in page and 'id="level-task"' in page


def test_bad_options(decoder, motor_path):
    with pytest.raises(ValueError, match="top"):
        decoder.report(motor_path, top=0)
    with pytest.raises(ValueError, match="n_explain"):
        decoder.report(motor_path, n_explain=-1)


def test_report_renders_offline_in_headless_chromium(
    report_html, tmp_path, chrome, screenshot_is_not_blank
):
    page = tmp_path / "report.html"
    page.write_text(report_html)
    driver = chrome()
    try:
        driver.get(page.as_uri())
        from selenium.webdriver.common.by import By

        bars = driver.find_elements(By.CSS_SELECTOR, "#level-task rect.bar")
        assert len(bars) == 10
        first = driver.find_element(By.CSS_SELECTOR, "#level-task td").text
        assert "motor" in first.lower()
        driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
        assert driver.find_elements(By.TAG_NAME, "canvas")  # brainsprite viewer
        driver.switch_to.default_content()
        assert screenshot_is_not_blank(driver.get_screenshot_as_png())
    finally:
        driver.quit()
