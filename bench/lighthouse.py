#!/usr/bin/env python
"""What the browser loads: Lighthouse (mobile) on the login, applicant home, application form
and officer ranking, against Debian's Chromium.

    .venv/bin/python bench/lighthouse.py                     # serves the demo itself, as `make run` does
    .venv/bin/python bench/lighthouse.py --base-url http://127.0.0.1:8000   # a portal already running
    .venv/bin/python bench/lighthouse.py --runs 1 --pages login,ranking      # a quick look

Without ``--base-url`` it prepares the database named by ``DATABASE_URL`` the way ``make run``
does (migrate, ``seed_demo``, ``collectstatic``) and serves it with ``manage.py runserver``
and the collected, pre-compressed static files (``STATIC_COLLECTED=1``) on ``--port``.

It signs in as the demo applicant and the demo officer (with the officer's TOTP code) in
Chromium, finds the applicant's first application and the first phase's ranking from the
pages themselves, then runs Lighthouse's performance category with its default mobile
emulation and simulated throttling (Slow 4G, 4× CPU) ``--runs`` times per page, passing the
signed-in session as a cookie header. Each page reports the median run's score and metrics
(by score) and the bytes transferred; the report is printed and written to
``bench/results/lighthouse.json`` (not committed).

Lighthouse itself comes from ``bench/lighthouse/package.json`` (``npm ci`` there; the
folder's ``node_modules`` is not committed). Targets (issue 18): performance ≥ 90 and
CLS < 0.1 on each page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench" / "lighthouse"
LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
PY = sys.executable
PAGES = ("login", "applicant_home", "application_form", "ranking")
TARGET_SCORE = 90
TARGET_CLS = 0.1

APPLICANT = ("applicant", "Demo-Applicant-2025!")
OFFICER = ("officer", "Demo-Officer-2025!")


def manage(*args: str, env: dict) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def ensure_lighthouse() -> None:
    if LIGHTHOUSE.exists():
        return
    command = ["npm", "ci"] if (HERE / "package-lock.json").exists() else ["npm", "install"]
    subprocess.run([*command, "--no-audit", "--no-fund"], cwd=HERE, check=True)


def serve(port: int, env: dict) -> subprocess.Popen:
    manage("migrate", "--noinput", "-v0", env=env)
    manage("seed_demo", env=env)
    env = {**env, "STATIC_COLLECTED": "1"}
    manage("collectstatic", "--noinput", "-v0", env=env)
    proc = subprocess.Popen(
        [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)  # noqa: S310 -- local
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the portal did not start")


def totp(username: str, env: dict) -> str:
    return manage("demo_totp", username, env=env).strip()


def sign_in(browser, base: str, username: str, password: str, env: dict):
    """A signed-in browser context (the second factor typed for staff)."""
    context = browser.new_context(locale="ko-KR", timezone_id="Asia/Seoul")
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()
    for _ in range(3):  # a code typed as its 30 s period ends is refused: the next one is not
        if "/2fa/authenticate" not in page.url:
            break
        page.fill("input[name=code]", totp(username, env))
        with page.expect_navigation():
            page.locator("main form button[type=submit]").first.click()
    if "/accounts/login" in page.url or "/2fa/authenticate" in page.url:
        raise SystemExit(f"could not sign in as {username}")
    return context, page


def cookie_header(context) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())


def first_link(page, base: str, path: str, pattern: str) -> re.Match:
    page.goto(base + path)
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    for href in hrefs:
        match = re.fullmatch(pattern, href)
        if match:
            return match
    raise SystemExit(f"no link matching {pattern} on {path}")


def targets(base: str, env: dict) -> dict[str, tuple[str, str]]:
    """page name -> (path, cookie header)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        applicant, page = sign_in(browser, base, *APPLICANT, env=env)
        application = first_link(page, base, "/consortia/applications/", r"/consortia/applications/(\d+)/.*")[1]
        applicant_cookie = cookie_header(applicant)
        officer, page = sign_in(browser, base, *OFFICER, env=env)
        ranking = first_link(page, base, "/evaluations/phases/", r"/evaluations/phases/(\d+)/.*")[1]
        officer_cookie = cookie_header(officer)
        browser.close()
    return {
        "login": ("/accounts/login/", ""),
        "applicant_home": ("/", applicant_cookie),
        "application_form": (f"/consortia/applications/{application}/step/1/", applicant_cookie),
        "ranking": (f"/evaluations/phases/{ranking}/ranking/", officer_cookie),
    }


def lighthouse(url: str, cookie: str, keep: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = (
            keep or Path(tmp)
        ) / f"lighthouse-{re.sub(r'[^a-z0-9]+', '-', url.split('//', 1)[-1])}{time.time():.0f}.json"
        command = [
            str(LIGHTHOUSE),
            url,
            "--only-categories=performance",
            "--output=json",
            f"--output-path={out}",
            "--quiet",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage",
        ]
        if cookie:
            command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
        for attempt in range(3):  # Lighthouse now and then loses the trace (NO_NAVSTART): run it again
            done = subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROMIUM}, check=False, timeout=300)
            if done.returncode == 0:
                break
            if attempt == 2:
                raise SystemExit(f"Lighthouse failed three times on {url}")
        report = json.loads(out.read_text(encoding="utf-8"))
    audits = report["audits"]
    items = audits["network-requests"]["details"]["items"]
    by_type: dict[str, int] = {}
    for item in items:
        kind = item.get("resourceType", "Other")
        by_type[kind] = by_type.get(kind, 0) + int(item.get("transferSize", 0))
    return {
        "final_url": report.get("finalDisplayedUrl") or report.get("finalUrl"),
        "score": round(report["categories"]["performance"]["score"] * 100),
        "fcp_ms": round(audits["first-contentful-paint"]["numericValue"]),
        "lcp_ms": round(audits["largest-contentful-paint"]["numericValue"]),
        "tbt_ms": round(audits["total-blocking-time"]["numericValue"]),
        "si_ms": round(audits["speed-index"]["numericValue"]),
        "cls": round(audits["cumulative-layout-shift"]["numericValue"], 4),
        "bytes": int(audits["total-byte-weight"]["numericValue"]),
        "requests": len(items),
        "bytes_by_type": by_type,
    }


def measure(base: str, pages: list[str], runs: int, env: dict, keep: Path | None = None) -> dict:
    found = targets(base, env)
    report = {}
    for name in pages:
        path, cookie = found[name]
        results = [lighthouse(base + path, cookie, keep) for _ in range(runs)]
        results.sort(key=lambda r: r["score"])
        median = results[len(results) // 2]
        report[name] = {
            "path": path,
            **median,
            "scores": [r["score"] for r in results],
            "cls_max": max(r["cls"] for r in results),
            "ok": median["score"] >= TARGET_SCORE and max(r["cls"] for r in results) < TARGET_CLS,
        }
        print(f"  {name:<17} {median['score']:>3} {report[name]['scores']}", flush=True)
    return report


def print_table(report: dict) -> None:
    print()
    print("| page | performance (runs) | FCP | LCP | TBT | CLS | transferred | requests | target |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in report.items():
        runs = ", ".join(str(s) for s in r["scores"])
        print(
            f"| {name} ({r['path']}) | {r['score']} ({runs}) | {r['fcp_ms'] / 1000:.1f} s | {r['lcp_ms'] / 1000:.1f} s "
            f"| {r['tbt_ms']} ms | {r['cls']:.3f} | {r['bytes'] / 1024:.0f} KiB | {r['requests']} "
            f"| {'met' if r['ok'] else 'NOT met'} |"
        )
    print()
    for name, r in report.items():
        parts = ", ".join(
            f"{k} {v / 1024:.0f} KiB" for k, v in sorted(r["bytes_by_type"].items(), key=lambda kv: -kv[1])
        )
        print(f"  {name}: {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="a portal already running (with the demo seeded)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_LIGHTHOUSE_PORT", "8765")))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "lighthouse.json"))
    parser.add_argument("--keep", type=Path, help="a folder to keep each run's full Lighthouse report in")
    args = parser.parse_args()
    pages = [p for p in args.pages.split(",") if p]
    unknown = set(pages) - set(PAGES)
    if unknown:
        parser.error(f"unknown pages: {', '.join(sorted(unknown))} (known: {', '.join(PAGES)})")
    ensure_lighthouse()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.local"}
    proc = None
    base = args.base_url.rstrip("/") if args.base_url else f"http://127.0.0.1:{args.port}"
    if not args.base_url:
        env["PORTAL_BASE_URL"] = base
        proc = serve(args.port, env)
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        report = measure(base, pages, args.runs, env, args.keep)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
    print_table(report)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"\nwritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    if not all(r["ok"] for r in report.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
