"""The playground (GET / for a browser, /playground/*): its HTTP answers, and
the page itself driven in Debian's headless Chromium through python3-selenium
and chromium-driver.

Without chromium, chromedriver or selenium the browser cases skip, except
under CI=true, where they fail.  Each browser case saves a screenshot into
$CE_ARTIFACTS_DIR/playground/ (else <the server's build dir>/artifacts/playground/)
and checks from Chromium's performance log that the page asked nothing of
any host but the server.  The page's size and load time are printed as
FIGURE: lines.

The plot case needs a python3 bundle with matplotlib (bundles/python3 as
branch files builds it): against an older bundle it fails, naming the
missing module.
"""

import base64
import json
import os
import shutil
import tempfile
import time
import unittest
import urllib.parse

import ce
from ce import CETestCase

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
    SELENIUM = None
except ImportError as e:  # python3-selenium missing
    SELENIUM = str(e)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CI = os.environ.get("CI") == "true"
WAIT_S = 120
# What the page's stdin case types, and what its program prints.
STDIN_TEXT = "hello from stdin 42"
ASSETS = {
    "/playground/index.html": "text/html; charset=utf-8",
    "/playground/playground.js": "text/javascript; charset=utf-8",
    "/playground/playground.css": "text/css; charset=utf-8",
    "/playground/codemirror/lib/codemirror.js": "text/javascript; charset=utf-8",
    "/playground/codemirror/lib/codemirror.css": "text/css; charset=utf-8",
    "/playground/codemirror/mode/python/python.js": "text/javascript; charset=utf-8",
    "/playground/codemirror/mode/clike/clike.js": "text/javascript; charset=utf-8",
}
INTERNAL = ("chrome://", "chrome-untrusted://", "chrome-extension://", "devtools://")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def artifacts_dir():
    base = os.environ.get("CE_ARTIFACTS_DIR")
    if base:
        d = os.path.join(base, "playground")
    else:
        d = os.path.join(os.path.dirname(ce.SERVER), "artifacts", "playground")
    os.makedirs(d, exist_ok=True)
    return d


def browser_missing():
    """Why the browser cases cannot run here, or None."""
    if SELENIUM:
        return "python3-selenium missing (%s)" % SELENIUM
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return "%s missing (%s)" % (pkg, path)
    return None


def figure(text):
    print("\nFIGURE: %s" % text, flush=True)


class PlaygroundHTTPTest(CETestCase):
    """What the server answers, without a browser."""

    def test_root_html_has_csp(self):
        status, headers, body = self.server.request("GET", "/", headers={"Accept": BROWSER_ACCEPT})
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        csp = headers.get("Content-Security-Policy", "")
        self.assertIn("default-src 'self'", csp)
        self.assertIn("img-src 'self' data: blob:", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertTrue(headers.get("ETag"), dict(headers))
        self.assertIn("Accept", headers.get("Vary", ""))
        self.assertIn(b"<title>CodeEngine playground</title>", body)
        # No inline script: every <script> has a src on the server.
        text = body.decode()
        self.assertEqual(text.count("<script"), text.count("<script src=\"/playground/"), text)
        self.assertNotIn("http://", text)
        self.assertNotIn("https://", text)

    def test_root_json_unchanged(self):
        _, _, version = self.server.request("GET", "/version")
        for accept in (None, "application/json", "*/*", "text/html;q=0, application/json"):
            with self.subTest(accept=accept):
                status, headers, body = self.server.request(
                    "GET", "/", headers={"Accept": accept} if accept else {})
                self.assertEqual(status, 200)
                self.assertEqual(headers["Content-Type"], "application/json")
                self.assertEqual(body, version, "GET / must stay GET /version's JSON")

    def test_asset_types_and_etags(self):
        for path, ctype in ASSETS.items():
            with self.subTest(path=path):
                status, headers, body = self.server.request("GET", path)
                self.assertEqual(status, 200, body[:200])
                self.assertEqual(headers["Content-Type"], ctype)
                self.assertEqual(headers["Cache-Control"], "no-cache")
                self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
                self.assertGreater(len(body), 0)
                etag = headers["ETag"]
                self.assertRegex(etag, r'^"[0-9a-f]{32}"$')
                status, _, body = self.server.request("GET", path, headers={"If-None-Match": etag})
                self.assertEqual((status, body), (304, b""))
        for path in ("/playground/nope.js", "/playground/../src/http.c", "/playground/"):
            with self.subTest(path=path):
                status, headers, body = self.server.request_json("GET", path)
                self.assertEqual(status, 404)
                self.assertIn("error", body)
        status, headers, _ = self.server.request("POST", "/playground/index.html", b"")
        self.assertEqual(status, 405)

    def test_page_is_public_with_a_token(self):
        tmp = tempfile.mkdtemp(prefix="ce-it-token-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "token")
        with open(path, "w") as f:
            f.write("s3cret-token\n")
        server = self.start_server("--auth-token-file", path)
        status, _, body = server.request("GET", "/", headers={"Accept": BROWSER_ACCEPT})
        self.assertEqual(status, 200, body[:200])
        status, _, _ = server.request("GET", "/playground/playground.js")
        self.assertEqual(status, 200)
        # The API is not: GET / for others, /languages, /execute.
        for method, p in (("GET", "/"), ("GET", "/languages"), ("POST", "/execute")):
            status, _, _ = server.request(method, p, b"{}" if method == "POST" else None)
            self.assertEqual(status, 401, "%s %s" % (method, p))
        status, _, _ = server.request("GET", "/languages",
                                      headers={"Authorization": "Bearer s3cret-token"})
        self.assertEqual(status, 200)


class PlaygroundBrowserTest(CETestCase):
    """The page in headless Chromium against the class's server."""

    driver = None
    profile = None

    @classmethod
    def setUpClass(cls):
        cls.missing = browser_missing()
        if cls.missing:
            if CI:
                raise AssertionError("the playground's browser tests need chromium, chromium-driver "
                                     "and python3-selenium (CI=true): " + cls.missing)
            raise unittest.SkipTest(cls.missing)
        super().setUpClass()
        cls.profile = tempfile.mkdtemp(prefix="ce-it-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--user-data-dir=" + cls.profile, "--window-size=1200,800",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        try:
            cls.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        except BaseException:
            shutil.rmtree(cls.profile, ignore_errors=True)
            super().tearDownClass()
            raise
        cls.base = "http://%s:%d" % (ce.HOST, cls.server.port)
        cls.shots = artifacts_dir()
        print("\nplayground screenshots in %s" % cls.shots, flush=True)

    @classmethod
    def tearDownClass(cls):
        if cls.driver is not None:
            cls.driver.quit()
            cls.driver = None
        if cls.profile:
            shutil.rmtree(cls.profile, ignore_errors=True)
        super().tearDownClass()

    # -- helpers ------------------------------------------------------------

    def setUp(self):
        super().setUp()
        self.driver.get_log("performance")  # only this test's requests from here

    def open(self, fragment=""):
        self.driver.get(self.base + "/" + fragment)
        WebDriverWait(self.driver, 30).until(
            lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))

    def by_name(self, role, name):
        """The one element of that ARIA role and accessible name, as Chromium computes them."""
        tags = {"combobox": "select", "textbox": "textarea, input, [role=textbox]", "button": "button",
                "region": "[role=region], section"}[role]
        found = [e for e in self.driver.find_elements(By.CSS_SELECTOR, tags)
                 if e.is_displayed() and e.aria_role == role and e.accessible_name == name]
        self.assertEqual(len(found), 1, "want one %s named %r, found %d" % (role, name, len(found)))
        return found[0]

    def pick(self, lang):
        Select(self.by_name("combobox", "Language")).select_by_value(lang)

    def type_code(self, src):
        box = self.by_name("textbox", "Code")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        box.send_keys(src)
        self.assertEqual(self.editor_value(), src, "what was typed should be the editor's text")

    def editor_value(self):
        return self.driver.execute_script(
            "return document.querySelector('.CodeMirror').CodeMirror.getValue()")

    def run_and_wait(self):
        self.by_name("button", "Run").click()
        WebDriverWait(self.driver, WAIT_S).until(
            lambda d: d.find_element(By.ID, "status").text not in ("idle", "running", "compiling"))
        return self.driver.find_element(By.ID, "status").text

    def output(self):
        return self.by_name("region", "Output")

    def shot(self, name):
        path = os.path.join(self.shots, name + ".png")
        self.driver.save_screenshot(path)
        return path

    def assert_only_own_requests(self):
        """Every request the page made (Chromium's performance log) went to the server."""
        urls = []
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") != "Network.requestWillBeSent":
                continue
            url, doc = msg["params"]["request"]["url"], msg["params"].get("documentURL", "")
            # Chromium's own pages (its new tab page at start-up) are not ours.
            if url.startswith(INTERNAL) and not doc.startswith(self.base):
                continue
            urls.append(url)
        self.assertTrue(urls, "no request seen in the performance log")
        foreign = [u for u in urls if not (u.startswith(self.base + "/") or u.startswith("data:")
                                           or u.startswith("blob:"))]
        self.assertEqual(foreign, [], "requests to other hosts")
        errors = [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        self.assertEqual(errors, [], "browser console errors")

    # -- cases --------------------------------------------------------------

    def test_accessible_names(self):
        self.open()
        for role, name in (("combobox", "Language"), ("textbox", "Code"), ("textbox", "Stdin"),
                           ("textbox", "Args"), ("button", "Run"), ("region", "Output")):
            with self.subTest(role=role, name=name):
                self.by_name(role, name)
        options = self.driver.execute_script(
            "return [...document.querySelectorAll('#language option')].map(o => o.value)")
        self.assertIn("c", options)
        self.assertIn("python3", options)
        self.assert_only_own_requests()

    def test_c_hello_world(self):
        self.open()
        self.pick("c")
        self.assertIn('printf("Hello, World!\\n")', self.editor_value())
        self.assertEqual(self.run_and_wait(), "ok")
        out = self.output()
        self.assertIn("Hello, World!", out.text)
        rows = self.driver.execute_script(
            "return [...document.querySelectorAll('#stages tbody tr')].map(r => r.dataset.stage)")
        self.assertEqual(rows, ["compile", "run"])
        self.shot("c_hello_world")
        self.assert_only_own_requests()

    def test_python_stdin(self):
        self.open()
        self.pick("python3")
        self.type_code("import sys\nprint('got:', sys.stdin.read())")
        self.by_name("textbox", "Stdin").send_keys(STDIN_TEXT)
        self.by_name("textbox", "Args").send_keys("one")
        self.assertEqual(self.run_and_wait(), "ok")
        stdout = self.driver.find_element(By.CSS_SELECTOR, "#run-out .stdout").text
        self.assertIn("got: " + STDIN_TEXT, stdout)
        self.shot("python_stdin")
        self.assert_only_own_requests()

    def test_stderr_in_red(self):
        self.open()
        self.pick("python3")
        self.type_code("import sys\nprint('to out')\nprint('to err', file=sys.stderr)")
        self.assertEqual(self.run_and_wait(), "ok")
        err = self.driver.find_element(By.CSS_SELECTOR, "#run-out .stderr")
        self.assertIn("to err", err.text)
        r, g, b = [int(x) for x in err.value_of_css_property("color").split("(")[1].split(",")[:3]]
        self.assertGreater(r, 150)
        self.assertLess(g, 120)
        self.assert_only_own_requests()

    def test_c_compile_error(self):
        self.open()
        self.pick("c")
        self.type_code("int main(void) { return undefined_thing; }")
        self.assertEqual(self.run_and_wait(), "compile_error")
        pane = self.driver.find_element(By.ID, "compile-pane")
        self.assertTrue(pane.is_displayed())
        self.assertIn("undefined_thing", self.driver.find_element(By.ID, "compile-out").text)
        self.shot("c_compile_error")
        self.assert_only_own_requests()

    def test_plot_inline(self):
        self.open()
        self.pick("python3")
        self.type_code("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                       "plt.plot([1, 3, 2, 4])\nplt.savefig('plot.png')\nprint('saved')")
        status = self.run_and_wait()
        self.shot("plot")
        self.assertEqual(status, "ok", self.output().text)
        img = self.driver.find_element(By.CSS_SELECTOR, "#images img")
        WebDriverWait(self.driver, 10).until(lambda d: img.get_property("complete"))
        self.assertGreater(img.get_property("naturalWidth"), 0, "the image should decode")
        self.assertEqual(img.get_attribute("alt"), "plot.png")
        self.assert_only_own_requests()

    def test_share_url_round_trips(self):
        src = "x = 'ünïcode ✓'\nprint(x, input())"
        self.open()
        self.pick("python3")
        self.type_code(src)
        self.by_name("textbox", "Stdin").send_keys("typed")
        self.by_name("button", "Share").click()
        url = self.by_name("textbox", "Share URL").get_attribute("value")
        self.assertTrue(url.startswith(self.base + "/#"), url)
        params = urllib.parse.parse_qs(url.split("#", 1)[1])
        self.assertEqual(params["lang"], ["python3"])
        code = params["code"][0]
        self.assertEqual(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4)).decode(), src)
        first = self.driver.current_window_handle
        self.driver.switch_to.new_window("tab")
        try:
            self.driver.get(url)
            WebDriverWait(self.driver, 30).until(
                lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
            self.assertEqual(Select(self.by_name("combobox", "Language")).first_selected_option
                             .get_attribute("value"), "python3")
            self.assertEqual(self.editor_value(), src)
            self.assertEqual(self.by_name("textbox", "Stdin").get_attribute("value"), "typed")
            self.assertEqual(self.run_and_wait(), "ok")
            self.assertIn("ünïcode ✓ typed", self.output().text)
            self.shot("share_url")
            self.assert_only_own_requests()
        finally:
            self.driver.close()
            self.driver.switch_to.window(first)

    def test_size_and_load_time(self):
        # A fresh tab; the bytes are what the first visit transfers (the
        # python3 mode, loaded after the page, included).
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        try:
            self.open()
            WebDriverWait(self.driver, 10).until(lambda d: d.execute_script(
                "return performance.getEntriesByType('resource').some(r => r.name.includes('python.js'))"))
            t = self.driver.execute_script("""
                const n = performance.getEntriesByType('navigation')[0];
                const res = performance.getEntriesByType('resource')
                    .filter(r => /\\.(js|css)$/.test(new URL(r.name).pathname));
                return {html: n.encodedBodySize, assets: res.map(r => r.encodedBodySize),
                        dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd};""")
        finally:
            self.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
        total = t["html"] + sum(t["assets"])
        self.assertGreater(t["html"], 0)
        self.assertLess(total, 2 * 1024 * 1024)
        figure("playground_bytes=%d (HTML %d + %d JS/CSS files %d, uncompressed, first visit)"
               % (total, t["html"], len(t["assets"]), sum(t["assets"])))
        figure("playground_dom_content_loaded_ms=%.0f playground_load_ms=%.0f (navigation timing, "
               "headless Chromium, loopback)" % (t["dcl"], t["load"]))
        self.shot("page")
        self.assert_only_own_requests()


if __name__ == "__main__":
    unittest.main()
