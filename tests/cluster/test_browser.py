"""The real site in a real browser: Debian's Chromium, headless, opens the tests' stack over HTTPS
through Traefik, trusting the local CA the way a user does (the CA in the NSS database of the
browser's home), with the site's name mapped to the loopback. The real SPA must render the
categories its API calls return, with no failed request and no error in the console; the
screenshot is kept under the cache's artifacts/browser/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from siteclient import SITE, local_ca, request, tls_context, wait_served

from helm_mgmt import debian
from helm_mgmt.localcluster import ingress
from helm_mgmt.paths import artifacts_dir, logs_dir

# The browser, `certutil` for its trust store, and fonts for the page's text and icons.
PACKAGES = {"chromium": "chromium", "certutil": "libnss3-tools"}
FONTS = ("fonts-dejavu-core", "fonts-noto-color-emoji")
# Console lines that mean a request failed or a script broke.
FAILURES = re.compile(r"Failed to load resource|Uncaught|net::ERR_|CONSOLE\(\d+\)\] \"Error", re.IGNORECASE)


@pytest.fixture(scope="module")
def chromium() -> str:
    missing = [pkg for tool, pkg in PACKAGES.items() if shutil.which(tool) is None]
    missing += [font for font in FONTS if not Path(f"/usr/share/doc/{font}").exists()]
    if missing:
        debian.install(missing, logs_dir() / "browser-apt.log")
    return shutil.which("chromium") or pytest.fail("chromium is not installed after apt-get install chromium")


def _trusting_home(tmp_path: Path, ca_pem: bytes) -> Path:
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    (tmp_path / "ca.crt").write_bytes(ca_pem)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    ca = ["certutil", "-d", f"sql:{nssdb}", "-A", "-n", "clipper-local-ca", "-t", "C,,", "-i", str(tmp_path / "ca.crt")]
    subprocess.run(ca, check=True)
    return home


def test_the_real_site_renders_in_a_browser_through_the_ingress(kubectl, stack, chromium, tmp_path) -> None:
    ca_pem = local_ca(kubectl)
    context = tls_context(ca_pem)
    wait_served(context)
    categories = json.loads(request("/api/v1/categories", SITE, context).body)["categories"]
    assert categories, "the API has no categories to show"
    home = _trusting_home(tmp_path, ca_pem)
    screenshot = artifacts_dir("browser") / "site.png"
    screenshot.unlink(missing_ok=True)
    run = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",  # root, in a container without user namespaces for the sandbox
            "--disable-gpu",
            f"--user-data-dir={home / 'profile'}",
            f"--host-resolver-rules=MAP {SITE} {ingress.HOST_IP}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--window-size=1280,900",
            f"--screenshot={screenshot}",
            "--dump-dom",
            f"https://{SITE}/",
        ],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "net::ERR_" in line]
    assert run.returncode == 0, run.stderr[-2000:]
    failures = [line for line in console if FAILURES.search(line)]
    assert not failures, "\n".join(failures)
    dom = run.stdout
    assert '<div id="root">' in dom and "<nav" in dom, dom[:1000]
    # Rendered from the API's answer, so the SPA's request went through the ingress and back.
    assert categories[0]["name"] in dom, [c["name"] for c in categories][:5]
    assert screenshot.stat().st_size > 20_000, "the screenshot is nearly empty"
    print(f"screenshot: {screenshot}")
