"""The classroom playground in a real headless Chromium (Debian's chromium via Playwright), by accessible names:
every lesson page reaches its outcome, tables of 5 features and a regression table train and render, an exported
model comes back with the same predictions, the doctor names a divergence and a vanishing gradient, and the page
fits 1024×768 and 1280×720 (screenshots in a temporary folder)."""
import json
import re
from urllib.parse import quote

import numpy as np
import pytest

from mlplab.playground.lessons import lesson_names
from test_playground_browser import browser, open_page, url  # noqa: F401  (the fixtures: Chromium and a server)

pytestmark = pytest.mark.slow


def csv_table(n_features, task, n_rows=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n_rows, n_features))
    y = (x[:, 0] + x[:, 1] > 0).astype(int) if task == "binary" else np.sin(2 * x[:, 0])
    header = ",".join([f"col{i}" for i in range(n_features)] + ["target"])
    rows = [",".join(f"{v:.4f}" for v in [*r, t]) for r, t in zip((x * 20 + 100).tolist(), y.tolist())]
    return (header + "\n" + "\n".join(rows)).encode()


def upload(page, name, content):
    page.get_by_label("Upload CSV", exact=False).set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content}])


def play_until(page, condition, timeout=90_000):
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function(condition, timeout=timeout)
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_function("document.body.dataset.state === 'paused'")


@pytest.mark.parametrize("name", lesson_names())
def test_each_lesson_page_runs_and_reaches_its_outcome(browser, url, name, tmp_path):  # noqa: F811
    page, errors = open_page(browser, url + "#" + quote(json.dumps({"lesson": name})), width=1280, height=720)
    page.wait_for_function("window.playground.lesson && window.playground.data.config.lesson")
    title = page.evaluate("window.playground.lesson.title")
    assert page.get_by_role("region", name=title).is_visible() and page.get_by_label("Lesson", exact=True).input_value() == name
    steps = page.evaluate("window.playground.lesson.steps.length")
    for index in range(steps):
        page.wait_for_function(f"window.playground.data && window.playground.data.config.lesson_step === {index} "
                               "&& window.playground.last && window.playground.last.epoch === 0")
        assert page.locator("#lesson-step-label").text_content() == f"Step {index + 1} of {steps}"
        hidden = page.evaluate("window.playground.lesson.hide")
        if "schedule" in hidden:
            assert not page.get_by_label("Schedule", exact=True).is_visible()  # controls the lesson does not need
        if "features" in hidden:
            assert not page.get_by_role("group", name="Input features").is_visible()
        play_until(page, "document.getElementById('lesson-outcome').dataset.reached === 'yes'")
        assert page.get_by_role("status", name="Lesson outcome").text_content().startswith("Outcome reached")
        table = page.get_by_role("table", name="The lecture's numbers and the live ones")
        assert table.locator("tbody tr").count() >= 1
        if index + 1 < steps:
            page.get_by_role("button", name="Next step", exact=True).click()
    if name == "logic-gates-xor":  # the lecture's printed numbers beside the live ones
        assert "0.001413" in table.text_content()
    page.screenshot(path=str(tmp_path / f"lesson-{name}.png"))
    page.get_by_role("button", name="Leave the lesson").click()
    page.wait_for_function("window.playground.data.config.lesson === null")
    assert page.get_by_label("Schedule", exact=True).is_visible()
    assert not errors, errors
    page.context.close()


def test_a_five_feature_table_and_a_regression_table_train_and_render(browser, url, tmp_path):  # noqa: F811
    page, errors = open_page(browser, url, width=1280, height=720)
    upload(page, "five.csv", csv_table(5, "binary"))
    page.wait_for_function("window.playground.data.table && window.playground.data.features.length === 5")
    horizontal = page.get_by_label("Horizontal axis")
    assert horizontal.is_visible() and horizontal.locator("option").count() == 5
    assert not page.get_by_role("group", name="Input features").is_visible()  # a table brings its own columns
    play_until(page, "Number(document.getElementById('train-accuracy').textContent) > 0.9")
    before = page.evaluate("document.getElementById('heatmap').toDataURL()")
    horizontal.select_option(label="col2")
    page.wait_for_function("window.playground.data.view.x === 2")
    page.wait_for_timeout(300)
    assert page.evaluate("document.getElementById('heatmap').toDataURL()") != before  # another slice
    page.screenshot(path=str(tmp_path / "table-5.png"))

    upload(page, "curve.csv", csv_table(1, "regression"))
    page.wait_for_function("window.playground.data.task === 'regression' && window.playground.data.features.length === 1")
    assert page.get_by_label("Loss", exact=True).input_value() == "mean_squared_error"  # the loss reset with the data
    first = page.evaluate("Number(document.getElementById('train-loss').textContent)")
    play_until(page, f"Number(document.getElementById('train-loss').textContent) < {first / 3}")
    assert len(page.evaluate("window.playground.last.output")) == 120  # the fitted curve along the one feature
    page.screenshot(path=str(tmp_path / "table-regression.png"))
    assert not errors, errors
    page.context.close()


def test_an_exported_model_imported_back_restores_the_same_predictions(browser, url, tmp_path):  # noqa: F811
    settings = {"dataset": "spirals", "layers": [{"units": 6, "activation": "relu"}, {"units": 4, "activation": "tanh"}]}
    page, errors = open_page(browser, url + "#" + quote(json.dumps(settings)))
    for _ in range(3):
        page.get_by_role("button", name="Step", exact=True).click()
    page.wait_for_function("document.getElementById('epoch').textContent === '3'")
    exported = page.evaluate("window.playground.last.output")
    with page.expect_download() as download_info:
        page.get_by_label("Export model", exact=True).click()
    path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(path)
    page.get_by_label("Seed", exact=True).fill("7")
    page.get_by_label("Seed", exact=True).dispatch_event("change")
    page.wait_for_function("window.playground.data.config.seed === 7 && window.playground.last.epoch === 0")
    page.get_by_label("Seed", exact=True).fill("0")
    page.get_by_label("Seed", exact=True).dispatch_event("change")  # the same data, a fresh network
    page.wait_for_function("window.playground.data.config.seed === 0 && window.playground.last.epoch === 0")
    assert page.evaluate("window.playground.last.output") != exported
    page.get_by_label("Import model", exact=False).set_input_files(str(path))
    page.wait_for_function(f"window.playground.data.config.optimizer === 'adam' && {json.dumps(exported)}"
                           ".every((v, i) => Math.abs(v - window.playground.last.output[i]) < 1e-9)")
    assert page.get_by_role("alert").text_content() == ""
    page.get_by_role("button", name="Explain one step").click()  # with the page's own optimizer, Adam
    page.wait_for_function("document.getElementById('explain-text').textContent.startsWith('Optimizer on this page: Adam')")
    assert "m̂ = [" in page.locator("#explain-text").text_content()
    page.get_by_role("button", name="Close").click()
    assert not errors, errors
    page.context.close()


def test_the_doctor_names_a_divergence_and_a_vanishing_gradient(browser, url):  # noqa: F811
    settings = {"dataset": "cubic", "optimizer": "sgd", "learning_rate": 10}
    page, errors = open_page(browser, url + "#" + quote(json.dumps(settings)))
    page.get_by_role("button", name="Step", exact=True).click()
    doctor = page.get_by_role("list", name="Training doctor")
    page.wait_for_function("document.getElementById('doctor').textContent.includes('Divergence')")
    assert "learning rate of 10" in doctor.text_content()
    assert "diverged" in page.get_by_role("alert").text_content()
    page.context.close()

    deep = {"dataset": "circle", "optimizer": "sgd", "learning_rate": 0.1,
            "layers": [{"units": 6, "activation": "sigmoid"}] * 8}
    page, errors_2 = open_page(browser, url + "#" + quote(json.dumps(deep)))
    page.get_by_role("button", name="Step", exact=True).click()
    page.wait_for_function("document.getElementById('doctor').textContent.includes('Vanishing gradient')")
    assert "ReLU" in page.get_by_role("list", name="Training doctor").text_content()
    assert not errors and not errors_2, errors + errors_2
    page.context.close()


OVERFLOW = """() => {
  const width = document.documentElement.clientWidth, bad = [];
  for (const element of document.querySelectorAll('body *')) {
    const box = element.getBoundingClientRect();
    if (box.width && (box.right > width + 0.5 || box.left < -0.5) && !element.closest('dialog')) bad.push(element.id || element.tagName);
  }
  return bad;
}"""


@pytest.mark.parametrize("width, height", [(1024, 768), (1280, 720)])
def test_the_page_fits_the_screen_with_the_largest_network(browser, url, width, height, tmp_path):  # noqa: F811
    largest = {"dataset": "spiral", "layers": [{"units": 32, "activation": "tanh"}] * 8}
    page, errors = open_page(browser, url + "#" + quote(json.dumps(largest)), width=width, height=height)
    for mode in ("normal", "presentation"):
        if mode == "presentation":
            page.get_by_label("Presentation mode").check()
            page.wait_for_timeout(200)
        assert page.evaluate(OVERFLOW) == [], mode  # nothing sticks out of the viewport
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no horizontal scrolling
        heatmap = page.get_by_role("img", name="Output heatmap").bounding_box()
        assert heatmap["y"] >= 0 and heatmap["y"] + heatmap["height"] <= height, mode  # the output is in view
        diagram = page.locator("#diagram").bounding_box()
        nodes = page.locator("#diagram canvas.node")
        assert nodes.count() == 2 + 8 * 32 + 1
        for index in (0, nodes.count() - 1):  # the first input and the output neuron are drawn inside
            box = nodes.nth(index).bounding_box()
            assert diagram["x"] <= box["x"] and box["x"] + box["width"] <= diagram["x"] + diagram["width"] + 0.5
        last = nodes.nth(2 + 8 * 32 - 1).bounding_box()  # the lowest neuron of the last hidden layer: on screen
        assert last["y"] + last["height"] <= height, mode
        page.screenshot(path=str(tmp_path / f"playground-{width}x{height}-{mode}.png"))
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("s")  # keyboard operable: S steps, P plays and pauses
    page.wait_for_function("document.getElementById('epoch').textContent === '1'")
    node = page.locator("#diagram canvas.node").nth(2 + 8 * 32)  # the output neuron: its formula on hover/focus
    assert re.match(r"output = sigmoid\(", node.get_attribute("aria-label"))
    assert not errors, errors
    page.context.close()
