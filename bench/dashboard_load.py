"""The dashboard's load in headless Chromium at 100 and at 10,000 personas: the
navigation timing of the Performance API and the moment the personas table is drawn,
each size seeded in turn on the same stack, medians of the loads.

    .venv/bin/python bench/dashboard_load.py              # --runs 5 --rounds 3
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selenium import webdriver

from bench.fleet import seed_personas
from bench.stack import bench, bench_args, mint_admin_token, section

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"  # Debian's packages
SIZES = (100, 10_000)

# Resolves with the navigation's timings once the table has a row (checked every frame).
TABLE_DRAWN = """
const done = arguments[arguments.length - 1];
(function check() {
  if (document.querySelector('#personas-table tbody tr')) {
    const nav = performance.getEntriesByType('navigation')[0];
    done({ready: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, table: performance.now()});
  } else {
    requestAnimationFrame(check);
  }
})();
"""


def chromium(profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1400,1500",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    return driver


def load_once(driver: webdriver.Chrome, url: str) -> dict[str, float]:
    driver.get("about:blank")
    driver.get(url)
    return driver.execute_async_script(TABLE_DRAWN)


def main() -> int:
    args = bench_args(__doc__, runs=5, rounds=3)
    with bench("The dashboard's load in headless Chromium, 100 against 10,000 personas", args) as stack:
        devauth = stack.start_devauth()
        api = stack.start_api(args, auth_url=devauth.url)
        url = f"{api.url}/dashboard#token={mint_admin_token(devauth)}"
        times: dict[int, list[dict[str, float]]] = {size: [] for size in SIZES}
        with tempfile.TemporaryDirectory(prefix="bench-chromium-") as profile:
            driver = chromium(profile)
            try:
                for _ in range(args.rounds):
                    for size in SIZES:
                        with stack.connect() as conn:
                            conn.execute("TRUNCATE personas.personas CASCADE")
                            seed_personas(conn, size, 0.5)
                            conn.commit()
                        load_once(driver, url)  # a warm-up after each reseed
                        times[size] += [load_once(driver, url) for _ in range(args.runs)]
            finally:
                driver.quit()
        section(f"medians of {args.rounds} rounds x {args.runs} loads, ms from the navigation's start")
        medians = {}
        for size in SIZES:
            medians[size] = {
                k: statistics.median(t[k] for t in times[size]) for k in ("ready", "load", "table")
            }
            m = medians[size]
            print(
                f"{size:>6} personas  DOMContentLoaded {m['ready']:7.1f}  load {m['load']:7.1f}"
                f"  table drawn {m['table']:7.1f}"
            )
        ratio = medians[SIZES[1]]["table"] / medians[SIZES[0]]["table"]
        print(f"table drawn, 10,000 against 100 personas: {ratio:.2f}x (goal 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
