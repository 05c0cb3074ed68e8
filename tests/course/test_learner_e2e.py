"""End to end, as a self-study learner meets the course in JupyterLab (``make test-e2e``).

A headless Chromium drives a JupyterLab served from a small git repository made in a
temporary folder: chapter 1, its exercise notebook (tracked) and the learner's copy of it in
``workspace/`` (git-ignored, as ``make lab`` makes it). Three tests:

* opening the tracked exercise notebook and saving it (what Lab's autosave does) leaves
  ``git status`` clean: the notebook already carries the metadata Lab writes;
* the walk: the chapter -> its link to the exercises -> a wrong answer and its message -> a
  hint -> the right answer -> a reset (``minidl.exercises.workspace.reset``, which
  ``python -m minidl exercises reset 01`` runs) and the notebook reloaded as new;
* ``fit(verbose=1)`` in a notebook: the progress line moves batch by batch, with no warning.

Each step is photographed; the PNGs are kept in ``build/e2e/`` (``$MINIDL_E2E_ARTIFACTS``
to choose another folder), and each step asserts the page's text. Needs Chromium and the
``playwright`` package, as tests/course/test_lab_e2e.py explains (skipped without them).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minidl.exercises import workspace
from tests.course import test_lab_e2e
from tests.course.test_lab_e2e import (
    CHROMIUM_ARGS,
    SERVER_START_SECONDS,
    free_port,
    make_lab_settings_option,
    wait_for_server,
)

browser_tools = test_lab_e2e.browser_tools  # the fixture: (Chromium's path, playwright.sync_api)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "01_linear_models"
ARTIFACTS = Path(os.environ.get("MINIDL_E2E_ARTIFACTS", ROOT / "build" / "e2e"))
KERNEL_SECONDS = 120


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def course(tmp_path):
    """A git repository with chapter 1, its exercises and a workspace copy of them."""
    root = tmp_path / "course"
    for folder in ("notebooks", "exercises"):
        (root / folder).mkdir(parents=True)
        shutil.copy(ROOT / folder / f"{CHAPTER}.ipynb", root / folder)
    (root / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "course")
    workspace.copy(("01",), root / "exercises", root / "workspace")
    assert git(root, "status", "--porcelain") == ""  # the workspace is ignored
    return root


@pytest.fixture
def lab(course, tmp_path):
    """JupyterLab on a free port, serving ``course`` with the settings of ``make lab``."""
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    env.pop("MINIDL_PUBLIC_CHECK", None)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={course}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        make_lab_settings_option(),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=course)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, token, process, log)
        yield url, token, course
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


OPEN = """(path) => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    return Boolean(panel && panel.context && panel.sessionContext && panel.context.path === path
                   && panel.context.isReady);
}"""
IDLE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return Boolean(kernel && kernel.status === "idle" && kernel.connectionStatus === "connected");
}"""
SAVE = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    await panel.context.save();
    return panel.context.model.dirty;
}"""
# run the cell with this id (after setting its source, when one is given); returns its index
RUN = """async ([id, source]) => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    const cells = panel.content.model.cells;
    let index = -1;
    for (let i = 0; i < cells.length; i++) if (cells.get(i).id === id) index = i;
    if (index < 0) throw new Error("no cell " + id);
    if (source !== null) cells.get(index).sharedModel.setSource(source);
    panel.content.activeCellIndex = index;
    await app.commands.execute("notebook:run-cell");
    return index;
}"""
# insert a code cell after the cell with this id, with this source, and run it
INSERT_AND_RUN = """async ([id, source]) => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    const cells = panel.content.model.cells;
    let index = -1;
    for (let i = 0; i < cells.length; i++) if (cells.get(i).id === id) index = i;
    panel.content.activeCellIndex = index;
    await app.commands.execute("notebook:insert-cell-below");
    panel.content.activeCell.model.sharedModel.setSource(source);
    await app.commands.execute("notebook:run-cell");
    return panel.content.activeCellIndex;
}"""
# the same, without waiting for the run to end (Lab's run-cell resolves once the cell has run)
START = RUN.replace("await app.commands.execute", "app.commands.execute")
OUTPUT_TEXT = """(index) => {
    const cell = window.jupyterapp.shell.currentWidget.content.model.cells.get(index);
    return cell.outputs.toJSON().map(o => (o.text || (o.data && o.data["text/plain"]) || "")
        + (o.output_type === "error" ? o.ename + ": " + o.evalue : "")).join("");
}"""
RAN = """(index) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cell = panel.content.model.cells.get(index);
    const kernel = panel.sessionContext.session.kernel;
    return cell.executionCount !== null && kernel.status === "idle";
}"""
# the default of "shut down the kernel when the tab closes", as the server hands it to Lab
KERNEL_SHUTDOWN_DEFAULT = """async () => {
    const plugin = await window.jupyterapp.serviceManager.settings.fetch("@jupyterlab/notebook-extension:tracker");
    return plugin.schema.properties.kernelShutdown.default;
}"""
SCROLL_TO = """async (id) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    for (let i = 0; i < cells.length; i++) if (cells.get(i).id === id) {
        panel.content.activeCellIndex = i;
        await panel.content.scrollToItem(i, "center");
    }
}"""
SOURCE = """(id) => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) if (cells.get(i).id === id) return cells.get(i).sharedModel.getSource();
    return null;
}"""


class Walk:
    """A page in Lab, with a photograph and the page's text at every step."""

    def __init__(self, page, name: str):
        self.page, self.folder, self.step = page, ARTIFACTS / name, 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    def photo(self, what: str) -> Path:
        self.step += 1
        path = self.folder / f"{self.step:02d}_{what}.png"
        self.page.screenshot(path=str(path))
        return path

    def open(self, url: str, path: str) -> None:
        self.page.wait_for_function(OPEN, arg=path, timeout=SERVER_START_SECONDS * 1000, polling=250)
        self.page.wait_for_function(IDLE, timeout=KERNEL_SECONDS * 1000, polling=250)

    def run(self, cell_id: str, source: str | None = None, insert: bool = False) -> str:
        index = self.page.evaluate(INSERT_AND_RUN if insert else RUN, [cell_id, source])
        self.page.wait_for_function(RAN, arg=index, timeout=KERNEL_SECONDS * 1000, polling=250)
        return self.page.evaluate(OUTPUT_TEXT, index)

    def shows(self, text: str) -> None:
        """The page shows ``text`` (rendered, not only in the model)."""
        shown = self.page.locator(".jp-Notebook").get_by_text(text, exact=False).locator("visible=true")
        shown.first.wait_for(state="visible", timeout=30_000)


def browser(playwright_api, chromium):
    manager = playwright_api.sync_playwright().start()
    return manager, manager.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


def test_opening_and_saving_an_exercise_leaves_the_repository_clean(browser_tools, lab):
    chromium, playwright_api = browser_tools
    url, token, course = lab
    path = f"exercises/{CHAPTER}.ipynb"
    before = (course / path).read_bytes()
    manager, chrome = browser(playwright_api, chromium)
    try:
        page = chrome.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/lab/tree/{path}?token={token}")
        walk = Walk(page, "save")
        walk.open(url, path)
        assert page.evaluate(SAVE) is False  # saved: nothing left unsaved
        assert page.evaluate(KERNEL_SHUTDOWN_DEFAULT) is True  # overrides.json reached Lab
        walk.shows("Exercises for chapter 1 · Linear models")
        walk.photo("exercise_saved")
    finally:
        chrome.close()
        manager.stop()
    status = git(course, "status", "--porcelain")
    assert status == "", f"saving in Lab changed a tracked file:\n{status}\n{git(course, 'diff')[:3000]}"
    assert (course / path).read_bytes() == before


def test_chapter_to_exercises_wrong_answer_hint_right_answer_reset(browser_tools, lab):
    chromium, playwright_api = browser_tools
    url, token, course = lab
    mine = f"workspace/{CHAPTER}_exercises.ipynb"
    manager, chrome = browser(playwright_api, chromium)
    try:
        page = chrome.new_page(viewport={"width": 1400, "height": 900})
        page_errors: list[str] = []
        page.on("pageerror", lambda err: page_errors.append(str(err)))
        page.goto(f"{url}/lab/tree/notebooks/{CHAPTER}.ipynb?token={token}")
        walk = Walk(page, "walk")
        walk.open(url, f"notebooks/{CHAPTER}.ipynb")
        link = (
            page.get_by_role("link", name=re.compile(r"^1 · Linear models.* — exercises$"))
            .locator("visible=true")
            .first
        )
        link.wait_for(state="visible", timeout=30_000)
        walk.photo("chapter_with_its_exercises_link")

        link.click()  # Lab opens the learner's copy in a new tab
        walk.open(url, mine)
        walk.shows("Exercises for chapter 1 · Linear models")
        tabs = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
        assert (
            tabs.first.inner_text() == f"{CHAPTER}_exercises.ipynb"
        )  # Lab's tab tells it from the chapter's
        assert page.get_by_role("link", name="1 · Linear models and gradient descent").count() >= 1
        walk.photo("exercises_opened_from_the_chapter")

        assert "Error" not in walk.run("setup")
        out = walk.run("initial_loss_too_high", 'initial_loss_too_high = "a"')
        out = walk.run("initial_loss_too_high-check")
        assert out.startswith("✘ initial_loss_too_high: (a) is not right:"), out
        walk.shows("is not right")
        walk.photo("a_wrong_answer_and_why")

        out = walk.run(
            "initial_loss_too_high-check",
            'from minidl.exercises import hint\n\nhint("linear_regression_gradient")',
        )
        assert out.startswith("➜ linear_regression_gradient, hint 1 of 2"), out
        walk.shows("hint 1 of 2")
        walk.photo("a_hint")

        walk.run("initial_loss_too_high", 'initial_loss_too_high = "b"')
        out = walk.run("initial_loss_too_high-check", 'check("initial_loss_too_high", initial_loss_too_high)')
        assert out.startswith("✔ initial_loss_too_high"), out
        walk.shows("✔ initial_loss_too_high")
        walk.photo("the_right_answer")
        page.evaluate(SAVE)
        assert 'initial_loss_too_high = \\"b\\"' in (course / mine).read_text()
        assert git(course, "status", "--porcelain") == ""  # the work is the learner's, untracked

        # python -m minidl exercises reset 01, then File > Reload Notebook from Disk
        workspace.reset(("01",), course / "exercises", course / "workspace")
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:reload')")
        page.wait_for_function(
            "(id) => { const s = (" + SOURCE + ")(id); return s !== null && s.includes('...'); }",
            arg="initial_loss_too_high",
            timeout=30_000,
        )
        page.evaluate(SCROLL_TO, "initial_loss_too_high")
        walk.shows("# your answer here")
        walk.photo("reset_to_a_fresh_copy")
        assert (course / (mine + ".bak")).exists()
        assert json.loads((course / mine).read_text()) == json.loads(
            (course / "exercises" / f"{CHAPTER}.ipynb").read_text()
        )
    finally:
        chrome.close()
        manager.stop()
    assert not page_errors, page_errors


TRAIN = """import time
import numpy as np
import minidl as mdl
from minidl import callbacks, layers as L, losses, optim

class Slow(callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.15)

mdl.seed(0)
x = np.random.default_rng(0).standard_normal((640, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int64)
model = mdl.Sequential([L.Dense(8, activation="relu"), L.Dense(2)], input_shape=(4,))
model.compile(optimizer=optim.Adam(1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(x, y, epochs=2, batch_size=32, verbose=1, callbacks=[Slow()])
"""


def test_the_progress_bar_moves_in_lab(browser_tools, lab):
    chromium, playwright_api = browser_tools
    url, token, course = lab
    path = "progress.ipynb"
    notebook = json.loads((course / "exercises" / f"{CHAPTER}.ipynb").read_text())
    notebook["cells"] = [
        {
            "cell_type": "code",
            "id": "train",
            "metadata": {},
            "source": TRAIN,
            "outputs": [],
            "execution_count": None,
        }
    ]
    (course / path).write_text(json.dumps(notebook))
    manager, chrome = browser(playwright_api, chromium)
    try:
        page = chrome.new_page(viewport={"width": 1400, "height": 600})
        page.goto(f"{url}/lab/tree/{path}?token={token}")
        walk = Walk(page, "progress")
        walk.open(url, path)
        index = page.evaluate(START, ["train", None])
        seen, photographed = [], False
        for _ in range(400):  # every 0.1 s: the counts the line goes through
            text = page.evaluate(OUTPUT_TEXT, index)
            seen += re.findall(r"Epoch (\d)/2  (\d+)/20", text)
            if not photographed and seen and seen[-1][0] == "1" and 5 <= int(seen[-1][1]) <= 15:
                walk.photo("the_bar_moving")
                photographed = True
            if page.evaluate(RAN, index):
                break
            page.wait_for_timeout(100)
        walk.shows("Epoch 2/2  20/20")
        walk.photo("the_bar_at_the_end")
        final = page.evaluate(OUTPUT_TEXT, index)
    finally:
        chrome.close()
        manager.stop()
    counts = [int(n) for epoch, n in seen if epoch == "1"]
    assert len(set(counts)) >= 5 and 0 < min(c for c in counts if c) < 20, seen  # it moved in steps
    assert photographed, seen
    assert re.search(r"Epoch 1/2  20/20 \[#{20}\] loss: \d\.\d{4} - accuracy: \d\.\d{4} - \d+s", final), final
    assert "Warning" not in final and "IProgress" not in final, final
