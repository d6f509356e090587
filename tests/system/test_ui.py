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


def _airflow_env(home: Path, smtp: dict) -> dict[str, str]:
    """The embedded default (dev.env), in ``home``: nothing of the caller's Airflow settings leaks in;
    mail goes to the test's own SMTP sink (``smtp``: its connection)."""
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
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp),
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
def ui_mail(tmp_path_factory):
    """The SMTP sink the UI's Airflow sends to (the control room resends through it)."""
    from recruitment_devkit.mailsink import MailSink

    with MailSink(tmp_path_factory.mktemp("ui-mail"), port=0) as sink:
        yield sink


@pytest.fixture(scope="module")
def airflow_ui(chrome, ui_mail, tmp_path_factory) -> Iterator[AirflowUI]:
    """Airflow on the embedded default in a fresh home: migrated, serving the UI, the DAGs parsed."""
    run = tmp_path_factory.mktemp("airflow-ui")
    home, logs = run / "home", run / "logs"
    home.mkdir()
    logs.mkdir()
    env = _airflow_env(home, ui_mail.connection)
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
    service = ChromeService(
        executable_path=driver_path,
        log_output=str(airflow_ui.logs / "chromedriver.log"),
        env={**os.environ, "FONTCONFIG_FILE": str(_fontconfig_with_cjk(airflow_ui.logs))},
    )
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


def _fontconfig_with_cjk(folder: Path) -> Path:
    """A fontconfig file adding the CJK font the project's environment ships (the one the summary's
    charts use) to the system's fonts, so that Chinese pages render in screenshots on any machine."""
    from importlib.util import find_spec

    spec = find_spec("noto_cjk_sans_otc")
    fonts = Path(spec.origin).parent if spec and spec.origin else None
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        + (f"  <dir>{fonts}</dir>\n" if fonts else "")
        + f"  <cachedir>{folder / 'fontcache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


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


# ---------------------------------------------------------------------------------------------------
# The campaign control room (docs/control-room.md), a page of the UI served by the project's plugin

CONTROL_ROOM_WEEKS = 2  # the campaign replayed up to the second week's deadline


@dataclass
class ControlRoomCampaign:
    engine: object
    sink: object
    stopped_at: object  # the second week's deadline: the next reminder step is its first follow-up


@pytest.fixture(scope="module")
def control_room(airflow_ui, ui_mail) -> Iterator[ControlRoomCampaign]:
    """The UI's own warehouse (the embedded default's SQLite file) filled by the pipeline as the DAGs
    would have left it at the second week's deadline; mail to the UI's sink."""
    from recruitment_devkit.campaign_replay import replay
    from recruitment_month import config, warehouse

    campaign = config.campaign()
    data = airflow_ui.home / "data"
    patch = pytest.MonkeyPatch()
    patch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(data / "warehouse.db")})
    )
    patch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(ui_mail.connection))
    patch.setenv("RECRUITMENT_INBOX", str(data / "inbox"))
    patch.setenv("RECRUITMENT_ARCHIVE", str(data / "archive" / "reports"))
    try:
        url = warehouse.warehouse_url()
        warehouse.migrate(url)
        warehouse.load_reference_data(url)
        engine = warehouse.engine(url)
        deadline = campaign.deadline(campaign.weeks[CONTROL_ROOM_WEEKS - 1])
        _manifest, stopped_at = replay(engine, data / "inbox", weeks=CONTROL_ROOM_WEEKS, until=deadline)
        yield ControlRoomCampaign(engine, ui_mail, stopped_at)
    finally:
        patch.undo()


def _control_room_frame(browser, ready: str):
    """The control room's page inside the UI (its external view, an iframe): switch into it and wait
    until ``ready`` (a CSS selector) is shown."""
    browser.driver.switch_to.default_content()
    frame = browser.wait("the control room's frame in the UI", lambda d: browser.css("main iframe, iframe"))
    browser.driver.switch_to.frame(frame[0])
    browser.wait(f"the control room's {ready}", lambda d: browser.css(ready))


def _narrow_screenshot(browser, path: str, name: str) -> None:
    """The control room's page alone on a 390 px wide phone screen, then the window as it was."""
    metrics = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    browser.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        browser.open(path)
        browser.wait(f"{path} at 390 px", lambda d: browser.css("main#content h1"))
        browser.screenshot(name)
    finally:
        browser.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False},
        )


def _cells(browser) -> dict[tuple[str, str], str]:
    return {
        (c.get_attribute("data-unit"), c.get_attribute("data-week")): c.get_attribute("data-status")
        for c in browser.css("td[data-status]")
    }


def _latest_summary_status(engine, week) -> dict[str, str]:
    from sqlalchemy import func, select

    from recruitment_month.schema import mart_summary_unit as mu
    from recruitment_month.schema import mart_weekly_summary as ms

    with engine.connect() as conn:
        version = conn.execute(select(func.max(ms.c.version)).where(ms.c.week_ending == week)).scalar_one()
        return dict(
            conn.execute(
                select(mu.c.unit_code, mu.c.status).where(mu.c.week_ending == week, mu.c.version == version)
            ).all()
        )


def test_control_room_board_and_a_units_week(browser, airflow_ui, control_room):
    from sqlalchemy import select

    from recruitment_month import config
    from recruitment_month.schema import audit_inbox_file as f
    from recruitment_month.schema import audit_report_problem as p

    week1 = config.campaign().weeks[0]
    browser.open("/")
    link = browser.wait(
        "the control room in the navigation", lambda d: browser.css("a[href$='plugin/control-room']")
    )
    assert "Campaign" in link[0].text
    link[0].click()
    _control_room_frame(browser, "table[data-board] td[data-status]")
    cells = _cells(browser)
    expected = _latest_summary_status(control_room.engine, week1)
    sample = sorted(expected)[::4]  # every fourth unit
    assert {u: cells[(u, str(week1))] for u in sample} == {u: expected[u] for u in sample}
    browser.driver.switch_to.default_content()
    browser.wait("the board laid out", lambda d: browser.settled())
    browser.screenshot("control_room_board.png")
    _narrow_screenshot(browser, "/control-room/", "control_room_board_390.png")
    browser.open("/plugin/control-room")

    with control_room.engine.connect() as conn:
        unit, message = conn.execute(
            select(f.c.unit_folder, p.c.message)
            .join(p, p.c.file_id == f.c.file_id)
            .where(f.c.status == "rejected", p.c.severity == "reject", f.c.week_ending == week1)
            .order_by(f.c.file_id, p.c.seq)
        ).first()
    _control_room_frame(browser, "table[data-board]")
    browser.css(f"td[data-unit='{unit}'][data-week='{week1}'] a")[0].click()
    browser.wait("the unit's week with its files", lambda d: browser.css("[data-file]"))
    assert message in browser.text(), f"the problem of {unit}'s rejected file is not shown"
    browser.driver.switch_to.default_content()
    browser.wait("the unit's week laid out", lambda d: browser.settled())
    browser.screenshot("control_room_unit_week.png")
    _narrow_screenshot(browser, f"/control-room/units/{unit}/weeks/{week1}", "control_room_unit_week_390.png")


def test_control_room_exemption_changes_the_board_and_the_next_reminder(browser, airflow_ui, control_room):
    from recruitment_month import config, reminders

    campaign = config.campaign()
    week2 = campaign.weeks[1]
    browser.open("/plugin/control-room")
    _control_room_frame(browser, "table[data-board] td[data-status]")
    cells = {u: s for (u, w), s in _cells(browser).items() if w == str(week2)}
    missing = sorted(u for u, s in cells.items() if s == "missing")
    assert missing, "the demo has units missing at the second week's deadline"
    unit = missing[0]
    others = {u for u, s in cells.items() if s in ("missing", "rejected") and u != unit}
    assert others, "and other units with nothing accepted, to be reminded"
    browser.css(f"td[data-unit='{unit}'][data-week='{week2}'] a")[0].click()
    browser.wait("the exemption form", lambda d: browser.css("#exempt"))
    browser.css("#reason")[0].send_keys("因疫情封控，经学生司同意本周免报")
    browser.css("#exempt")[0].click()
    browser.wait("the unit shown exempt", lambda d: browser.css("[data-unit-status=exempt]"))
    assert "因疫情封控" in browser.text()
    browser.open("/plugin/control-room")
    _control_room_frame(browser, f"td[data-unit='{unit}'][data-week='{week2}'][data-status=exempt]")

    # The next step of the ladder (the first follow-up) reminds the other missing units, not this one.
    follow_up = next(s for s in reminders.steps(campaign) if s.week == week2 and s.kind == "follow_up")
    before = len(control_room.sink.files())
    reminders.run(control_room.engine, follow_up.at)
    keys = [m["X-Recruitment-Message-Key"] for m in control_room.sink.messages()[before:]]
    reminded = {k.rsplit("/", 1)[1] for k in keys if k.startswith("reminder/")}
    assert unit not in reminded
    assert others <= reminded


def test_control_room_resend_sends_exactly_one_message(browser, airflow_ui, control_room, closed_port):
    from recruitment_month import notifications

    mail = notifications.Mail(
        key="receipt/control-room-ui-test/110000",
        kind="receipt",
        subject_ref="control-room-ui-test",
        recipients=["beijing@example.org"],
        subject="【校园招聘月】重发测试",
        text="重发测试",
    )
    with control_room.engine.begin() as conn:
        notifications.enqueue(conn, [mail], owner="provincial_reports")
    with pytest.MonkeyPatch.context() as outage:  # the mail server is down when the DAG delivers
        outage.setenv(
            "AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({**control_room.sink.connection, "port": closed_port})
        )
        with pytest.raises(notifications.DeliveryError):
            notifications.deliver(control_room.engine, ["provincial_reports"])

    before = len(control_room.sink.files())
    browser.open("/plugin/control-room")
    _control_room_frame(browser, "nav")
    browser.css("nav a[href=outbox]")[0].click()
    browser.wait(
        "the failed message with its resend button", lambda d: browser.css(f"[data-resend='{mail.key}']")
    )
    browser.css(f"[data-resend='{mail.key}']")[0].click()
    browser.wait("the message gone from the outbox", lambda d: not browser.css(f"tr[data-key='{mail.key}']"))
    sent = control_room.sink.messages()[before:]
    assert [m["X-Recruitment-Message-Key"] for m in sent] == [mail.key]
    assert "admin" in browser.text("[data-actions]")
    browser.driver.switch_to.default_content()
