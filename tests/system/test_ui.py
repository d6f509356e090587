"""The Airflow UI in a real browser (issue 6): what a data engineer sees after ``make airflow``.

Starts Airflow on the embedded default (``include/config/dev.env``: SQLite metadata, the project's DAGs
and plugins) in a fresh AIRFLOW_HOME, as ``airflow db migrate``, ``airflow api-server`` on a free port and
``airflow dag-processor``; waits until the DAGs are parsed; then headless Chromium, driven by Selenium,
logs in as ``admin`` (SimpleAuthManager) and checks the home page, the DAG list and each DAG's page and
Docs. Screenshots go to ``docs/screenshots/``. Everything started is stopped at the end, and the test
checks that no process of it is left.

Run: ``pytest -m ui tests/system/test_ui.py`` (about a minute). Needs ``/usr/bin/chromium`` and
``/usr/bin/chromedriver`` (Debian: ``apt-get install chromium chromium-driver``); without them the test
is skipped, or fails with CI=true.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from recruitment_devkit import environment
from recruitment_devkit.airflow_processes import Processes, free_port, tail

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
EXPECTED_DAG_IDS = ("friday_consolidation", "job_feeds", "provincial_reports", "report_reminders")
IN_CI = os.environ.get("CI", "").lower() == "true"

CHROMIUM = os.environ.get("UI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("UI_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
WINDOW = (1400, 1000)

STARTUP_TIMEOUT = 120  # `airflow db migrate`; the api-server answering /api/v2/monitor/health
PARSE_TIMEOUT = 180  # the dag-processor has written the four DAGs (or an import error)
PAGE_TIMEOUT = 60  # a page of the UI has rendered what is asserted
STOP_TIMEOUT = 30  # SIGINT, then SIGTERM, then SIGKILL to each process group, this long apart
AIRFLOW = (sys.executable, "-m", "airflow")
RESERVED_PORTS = {8080, *range(28080, 28091)}  # `make airflow` and the distributed stack use these


# ---------------------------------------------------------------------------------------------------
# Processes


def _live_processes(match: Callable[[int, str], bool]) -> list[str]:
    """Processes (not zombies) for which ``match(pgid, cmdline)`` holds, as "pid cmdline" lines."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # exited meanwhile
            continue
        state, _ppid, pgid = stat[stat.rindex(")") + 2 :].split()[:3]
        if state != "Z" and match(int(pgid), cmdline):
            found.append(f"{proc.name} {cmdline}")
    return found


@dataclass
class AirflowUI:
    base_url: str
    home: Path
    logs: Path
    password: str
    processes: Processes
    token: str = ""

    def api(self, path: str, body: dict | None = None) -> dict:
        """A call to the REST API as admin (JSON in, JSON out)."""
        method = "POST" if body is not None else "GET"
        request = urllib.request.Request(self.base_url + path, method=method)  # noqa: S310 - http://127.0.0.1
        request.add_header("Accept", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, data=data, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def diagnostics(self) -> str:
        return self.processes.diagnostics()


def _airflow_env(home: Path) -> dict[str, str]:
    """The embedded default (dev.env), in ``home``: nothing of the caller's Airflow settings leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECRUITMENT_"))}
    env.update(environment.read())
    data = home / "data"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "RECRUITMENT_DATA_DIR": str(data),
            "RECRUITMENT_INBOX": str(data / "inbox"),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(data / "warehouse.db")}),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "plugins"), env.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        }
    )
    (data / "inbox").mkdir(parents=True, exist_ok=True)
    return env


def _wait_until(what: str, timeout: float, check: Callable[[], object], diagnostics: Callable[[], str]):
    """Poll ``check`` until it returns something truthy; fail naming ``what`` and showing the logs."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:  # not up yet
            last_error, result = exc, None
        if result:
            return result
        time.sleep(1)
    pytest.fail(
        f"{what}: not reached within {timeout:.0f} s (last error: {last_error!r})\n{diagnostics()}",
        pytrace=False,
    )


def _start_api_server(ui: AirflowUI) -> None:
    """``airflow api-server`` on a free port; another port if the chosen one was taken meanwhile."""
    passwords = ui.home / "simple_auth_manager_passwords.json.generated"
    for attempt in range(3):
        port = free_port(RESERVED_PORTS)
        server = ui.processes.start(
            f"api-server-{port}", ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        )
        ui.base_url = f"http://127.0.0.1:{port}"

        def up(server=server) -> bool:
            if not server.running():
                raise ChildProcessError(f"{server.name} exited with {server.popen.returncode}")
            health = ui.base_url + "/api/v2/monitor/health"
            with urllib.request.urlopen(health, timeout=5) as response:  # noqa: S310 - http://127.0.0.1
                return response.status == 200 and passwords.exists()

        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if up() and server.running():
                    return
            except ChildProcessError:
                break
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(1)
        if server.running():
            pytest.fail(
                f"the api-server did not answer on {ui.base_url} within {STARTUP_TIMEOUT} s\n{ui.diagnostics()}",
                pytrace=False,
            )
        if "address already in use" not in tail(server.log).lower() or attempt == 2:
            pytest.fail(f"the api-server exited at start\n{ui.diagnostics()}", pytrace=False)


def _interrupt(signum, _frame):
    """SIGTERM (a cancelled CI job) as Ctrl-C: pytest then tears the fixtures down, stopping Airflow."""
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def chrome() -> tuple[str, str]:
    """The browser and its driver, or skip (fail with CI=true: the UI test must run in CI)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        message = (
            f"{' and '.join(missing)} not found; install with "
            "`apt-get install -y --no-install-recommends chromium chromium-driver`"
        )
        if IN_CI:
            pytest.fail(message + " (CI=true: the UI test must not be skipped)", pytrace=False)
        pytest.skip(message)
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="module")
def airflow_ui(chrome, tmp_path_factory) -> Iterator[AirflowUI]:
    """Airflow on the embedded default in a fresh home: migrated, serving the UI, the DAGs parsed."""
    run = tmp_path_factory.mktemp("airflow-ui")
    home, logs = run / "home", run / "logs"
    home.mkdir()
    logs.mkdir()
    env = _airflow_env(home)
    ui = AirflowUI(base_url="", home=home, logs=logs, password="", processes=Processes(logs, env, cwd=home))
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    try:
        migrate = subprocess.run(
            [*AIRFLOW, "db", "migrate"],
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT,
        )
        assert migrate.returncode == 0, f"airflow db migrate failed:\n{migrate.stdout}\n{migrate.stderr}"

        _start_api_server(ui)
        processor = ui.processes.start("dag-processor", ["dag-processor"])

        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        ui.password = passwords["admin"]
        ui.token = ui.api("/auth/token", {"username": "admin", "password": ui.password})["access_token"]

        def parsed() -> bool:
            if not processor.running():
                pytest.fail(f"the dag-processor exited\n{ui.diagnostics()}", pytrace=False)
            dags = {d["dag_id"] for d in ui.api("/api/v2/dags?limit=100")["dags"]}
            return set(EXPECTED_DAG_IDS) <= dags or ui.api("/api/v2/importErrors")["total_entries"] > 0

        _wait_until("the DAGs parsed (GET /api/v2/dags)", PARSE_TIMEOUT, parsed, ui.diagnostics)
        yield ui
    finally:
        _how, leftovers = ui.processes.stop(STOP_TIMEOUT)
        signal.signal(signal.SIGTERM, previous_sigterm)
        assert not leftovers, "processes of the UI test survived SIGKILL:\n" + "\n".join(leftovers)


# ---------------------------------------------------------------------------------------------------
# Browser


@pytest.fixture(scope="module")
def browser(chrome, airflow_ui):
    """Headless Chromium logged into the UI as admin (the SimpleAuthManager's login page)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService

    binary, driver_path = chrome
    profile = Path(tempfile.mkdtemp(prefix="ui-test-chromium-", dir=airflow_ui.logs))
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (*CHROME_ARGS, f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(argument)
    service = ChromeService(executable_path=driver_path, log_output=str(airflow_ui.logs / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        # The page itself is 1400x1000 (the window's frame would otherwise take part of it).
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False},
        )
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        page = Page(driver, airflow_ui)
        page.login()
        yield page
    finally:
        driver.quit()
        # Chromium runs with its profile, chromedriver with its log, both under the run's logs folder.
        leftovers = _wait_for_exit(lambda _g, cmdline: str(airflow_ui.logs) in cmdline)
        assert not leftovers, "Chromium or chromedriver survived driver.quit():\n" + "\n".join(leftovers)


def _wait_for_exit(match: Callable[[int, str], bool], timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    while (alive := _live_processes(match)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


class Page:
    """The UI in the browser, with explicit waits that fail with what was expected and what is shown."""

    def __init__(self, driver, ui: AirflowUI):
        self.driver = driver
        self.ui = ui
        self.failures = 0

    def open(self, path: str) -> None:
        self.driver.get(self.ui.base_url + path)

    def wait(self, what: str, condition: Callable, timeout: float = PAGE_TIMEOUT):
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(lambda d: condition(d))
        except TimeoutException:
            self.failures += 1
            stem = self.ui.logs / f"failure-{self.failures}"
            self.driver.save_screenshot(f"{stem}.png")
            Path(f"{stem}.html").write_text(self.driver.page_source, encoding="utf-8")
            pytest.fail(
                f"UI: {what} — not seen within {timeout} s on {self.driver.current_url}\n"
                f"(screenshot and page source: {stem}.png/.html)\n--- page text:\n{self.text()[:3000]}",
                pytrace=False,
            )

    def css(self, selector: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def text(self, selector: str = "body") -> str:
        elements = self.css(selector)
        return "\n".join(e.text for e in elements)

    def settled(self) -> bool:
        """The page has rendered, no part of it is still loading (Chakra skeletons, spinners) and no
        transition is running (a dialog fading in), so a screenshot shows the page as it stays."""
        return (
            bool(self.css("[data-testid=main-content]"))
            and not self.css(".chakra-skeleton, .chakra-spinner")
            and self.driver.execute_script(
                "return document.getAnimations().every(a => a.playState !== 'running'"
                " || a.effect.getComputedTiming().iterations === Infinity)"
            )
        )

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        assert self.driver.save_screenshot(str(path)), f"could not save {path}"
        return path

    def login(self) -> None:
        self.open("/")
        self.wait("the login form (redirect to /auth/login)", lambda d: self.css("input[name=username]"))
        self.css("input[name=username]")[0].send_keys("admin")
        self.css("input[name=password]")[0].send_keys(self.ui.password)
        submit = self.wait("the enabled Sign in button", lambda d: self.css("button[type=submit]:enabled"))
        submit[0].click()
        self.wait(
            "the UI after signing in as admin",
            lambda d: "/auth/login" not in d.current_url and self.css("[data-testid=nav-sidebar]"),
        )


# ---------------------------------------------------------------------------------------------------
# What the DAG files say


def _doc_md(dag_id: str) -> str:
    """The DAG's doc_md: its module docstring (read without importing Airflow)."""
    source = (ROOT / "dags" / f"{dag_id}.py").read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source))
    assert doc, f"dags/{dag_id}.py has no module docstring (its doc_md)"
    return doc


def _heading(doc: str) -> str:
    headings = [line[4:].strip() for line in doc.splitlines() if line.startswith("### ")]
    assert headings, "the doc_md has no '### ' heading"
    return headings[0]


# ---------------------------------------------------------------------------------------------------
# Tests


def test_dag_list_shows_the_four_dags_and_no_import_errors(browser, airflow_ui):
    errors = airflow_ui.api("/api/v2/importErrors")
    assert errors["total_entries"] == 0, "DAG import errors:\n" + "\n".join(
        f"{e['filename']}: {e['stack_trace']}" for e in errors["import_errors"]
    )

    # Home: the stats render a "Dag Import Error(s)" badge when there are any.
    browser.open("/")
    browser.wait("the home page's stats", lambda d: browser.settled() and "Failed Dags" in browser.text())
    assert "Dag Import Error" not in browser.text(), "the home page shows DAG import errors"

    browser.open("/dags")

    def listed(_d) -> set[str] | None:
        shown = {e.text.strip() for e in browser.css("[data-testid=dag-card] [data-testid=dag-id]")}
        return shown if browser.settled() and len(shown) >= len(EXPECTED_DAG_IDS) else None

    shown = browser.wait(f"the DAG list with {len(EXPECTED_DAG_IDS)} DAG cards", listed)
    assert shown == set(EXPECTED_DAG_IDS)
    assert f"{len(EXPECTED_DAG_IDS)} Dags" in browser.text("h2"), browser.text("h2")
    # Next to the count, the list shows a red "Dag Import Error" badge when a DAG file fails to import.
    badge = browser.css("[aria-label^='Dag Import Error'], [title^='Dag Import Error']")
    assert not badge, "the DAG list shows a DAG import-error badge"
    browser.screenshot("dags.png")


@pytest.mark.parametrize("dag_id", EXPECTED_DAG_IDS)
def test_dag_page_shows_its_graph_and_docs(browser, airflow_ui, dag_id):
    tasks = {t["task_id"] for t in airflow_ui.api(f"/api/v2/dags/{dag_id}/tasks")["tasks"]}
    doc = _doc_md(dag_id)
    heading = _heading(doc)

    browser.open(f"/dags/{dag_id}")
    browser.wait(
        f"the page of {dag_id} (its docs button)",
        lambda d: browser.settled() and browser.css("[data-testid=markdown-button]"),
    )
    assert dag_id in browser.text("h2"), f"the page title is {browser.text('h2')!r}"
    assert "data-engineering" in browser.text(), "the owner is not shown"

    # The graph: one node per task, laid out (the viewport stops moving once the layout is fitted).
    graph_button = browser.wait("the Graph view button", lambda d: browser.css("[aria-label^='Show Graph']"))
    graph_button[0].click()
    viewport: list[str] = []

    def graph_drawn(_d) -> bool:
        nodes = {n.get_attribute("data-id") for n in browser.css(".react-flow__node")}
        transform = "".join(v.get_attribute("style") or "" for v in browser.css(".react-flow__viewport"))
        viewport.append(transform)
        return nodes == tasks and browser.settled() and len(viewport) >= 3 and len(set(viewport[-3:])) == 1

    browser.wait(f"the graph of {dag_id} with the tasks {sorted(tasks)}", graph_drawn)
    browser.screenshot(f"{dag_id}.png")

    # Docs: the doc_md rendered as Markdown in the "Dag Documentation" dialog.
    browser.css("[data-testid=markdown-button]")[0].click()
    dialog = "[role=dialog][data-state=open]"
    browser.wait(
        f"the Docs of {dag_id} with the heading {heading!r}",
        lambda d: heading in browser.text(f"{dialog} h3") and browser.settled(),
    )
    docs = browser.text(dialog)
    assert "Dag Documentation" in docs
    for phrase in ("Rerun.", "When it fails.", "Owner", "data-engineering"):
        assert phrase in docs, f"the Docs of {dag_id} lack {phrase!r}"
    assert "###" not in docs, "the Docs show raw Markdown"
    assert "**" not in docs, "the Docs show raw Markdown"
    assert browser.css(f"{dialog} table"), "the Docs' table is not rendered as a table"

    if dag_id == "friday_consolidation":
        # As an engineer reads it: the dialog (resizable, 500x400 at first) dragged to fit the text.
        browser.driver.execute_script(
            """
            const box = document.querySelector(arguments[0]).firstElementChild;
            const header = box.querySelector('.chakra-dialog__header');
            const body = box.querySelector('.chakra-dialog__body');
            box.style.width = '960px';
            const fit = header.offsetHeight + body.scrollHeight + 4;
            box.style.height = Math.min(fit, window.innerHeight - 140) + 'px';
            """,
            dialog,
        )
        browser.wait(
            "the enlarged Docs dialog",
            lambda d: browser.css(dialog)[0].size["width"] > 900 and browser.settled(),
        )
        browser.screenshot("friday_consolidation_docs.png")


def test_no_plugin_import_errors(browser, airflow_ui):
    """Airflow imports every .py file under the plugins folder not excluded by plugins/.airflowignore."""
    errors = airflow_ui.api("/api/v2/plugins/importErrors")
    browser.open("/")
    browser.wait("the home page's stats", lambda d: browser.settled() and "Failed Dags" in browser.text())
    shown = "Plugin Import Error" in browser.text()
    why = "the home page shows 'Plugin Import Error'; GET /api/v2/plugins/importErrors: " + json.dumps(
        errors["import_errors"], ensure_ascii=False
    )
    assert errors["total_entries"] == 0, why
    assert not shown, why
