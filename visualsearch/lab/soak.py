"""``manage.py soak``: a bounded benchmark of mixed traffic against a running ``make run``.

Not a test. The command runs with the target's settings (same VAR_DIR and database), so it can
prepare its users and read the results where the server keeps them:

1. :func:`soak_prepare` makes two sellers and a moderator with API tokens (and passwords, for
   the dashboard's CSV import), and writes what the traffic needs to a JSON file;
2. locust runs the traffic of :mod:`visualsearch.lab.soak_locust` headless in its own process
   (gevent never enters this one), appending every request to a CSV file;
3. meanwhile the memory of each process of the site is sampled: gunicorn's master and workers,
   dramatiq's main process and workers (found as children of the ``manage.py serve`` of the
   target's folder), the embedded PostgreSQL (its postmaster and backends) and the local Redis
   (their pid files in VAR_DIR);
4. :func:`report_make` counts requests and errors per kind, p50/p95 per kind and per 5-minute
   window, the memory at the start and end of each process, and what the workers left undone,
   and :func:`section_markdown` writes it as a dated section of docs/benchmarks.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import platform
import random
import re
import secrets
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Count, Sum

from catalog import services as catalog_services
from catalog.models import Category, ImportJob, Product, ProductImage, ProductStatus
from visualsearch.lab.bench import cpu_model
from visualsearch.models import EmbeddingFailure, ImageEmbedding
from visualsearch.spaces import space_active

SECTION = "## Soak: mixed traffic against `make run` (issue 14)"
LOCUSTFILE = Path(__file__).with_name("soak_locust.py")
PHOTOS = Path(settings.BASE_DIR) / "catalog" / "demo_data" / "fashion" / "images"
WINDOW_S = 300
BRAND = "Soak"


class SoakError(RuntimeError):
    pass


# ----------------------------------------------------------------------------- preparation
def _user(username: str, password: str, *, groups: tuple[str, ...] = ()):
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.set_password(password)
    user.save()
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def soak_prepare(
    *, folder: Path, sellers: int = 2, import_every_s: float = 180, seed: int = 0
) -> Path:
    """Users and tokens on the target's database, and the traffic's config file."""
    if space_active() is None:
        raise SoakError("The target has no active search space; start it with `make run`.")
    products = list(
        Product.objects.filter(status=ProductStatus.ACTIVE)
        .exclude(brand=BRAND)
        .order_by("pk")
        .values_list("pk", "title")[:2000]
    )
    if len(products) < 10:
        raise SoakError("The target's catalog has under 10 active products; seed the demo first.")
    photos = sorted(str(p) for p in PHOTOS.glob("*.jpg"))
    if not photos:
        raise SoakError(f"No demo photos in {PHOTOS}.")
    rng = random.Random(seed)
    queries = set()
    for _, title in products:
        words = [w for w in re.findall(r"[A-Za-z]+", title) if len(w) > 2]
        if len(words) >= 2:
            start = rng.randrange(max(1, len(words) - 2))
            queries.add(" ".join(words[start : start + rng.choice([2, 3])]).lower())
    leaves = Category.objects.filter(children__isnull=True).order_by("pk")
    accounts = []
    for n in range(1, sellers + 1):
        password = secrets.token_urlsafe(12)
        user = _user(f"soak-seller-{n}", password)
        catalog_services.seller_become(user=user)
        accounts.append({
            "username": user.username, "password": password,
            "token": catalog_services.token_create(user=user).key,
        })  # fmt: skip
    moderator = _user("soak-moderator", secrets.token_urlsafe(12), groups=("moderators",))
    config = {
        "product_ids": [pk for pk, _ in products],
        "queries": sorted(queries),
        "photos": photos,
        "categories": list(leaves.values_list("slug", flat=True)),
        "category_ids": list(leaves.values_list("pk", flat=True)),
        "category_paths": list(leaves.values_list("path", flat=True)),
        "sellers": accounts,
        "moderator": {"token": catalog_services.token_create(user=moderator).key},
        "import_every_s": import_every_s,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    path.chmod(0o600)  # it holds passwords and tokens
    return path


# ----------------------------------------------------------------------------- processes
def _pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def site_processes() -> dict[int, str]:
    """pid → role of every process of the site served from this folder."""
    base = str(Path(settings.BASE_DIR).resolve())
    roles: dict[int, str] = {}
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmd = proc.info["cmdline"] or []
        if proc.info["cwd"] != base or "manage.py" not in " ".join(cmd) or "serve" not in cmd:
            continue
        roles[proc.pid] = "serve (supervisor)"
        for child in proc.children():
            try:
                text = " ".join(child.cmdline())
                kind = "gunicorn" if "gunicorn" in text else "dramatiq"
                roles[child.pid] = f"{kind} master" if kind == "gunicorn" else "dramatiq main"
                for grandchild in child.children(recursive=True):
                    roles[grandchild.pid] = f"{kind} worker"
            except psutil.Error:
                continue
    if settings.EMBEDDED_POSTGRES:
        postmaster = _pidfile(Path(settings.VAR_DIR) / "pg" / "postmaster.pid")
        if postmaster and psutil.pid_exists(postmaster):
            roles[postmaster] = "postgres postmaster"
            for child in psutil.Process(postmaster).children():
                roles[child.pid] = "postgres backends"
    if settings.LOCAL_REDIS:
        redis = _pidfile(Path(settings.VAR_DIR) / "redis" / "redis.pid")
        if redis and psutil.pid_exists(redis):
            roles[redis] = "redis"
    return roles


def memory_sample() -> dict[int, tuple[str, int, int]]:
    """pid → (role, RSS, PSS) in bytes (PSS shares a shared page among its users, so sums of
    postgres backends do not count shared buffers many times)."""
    sample = {}
    for pid, role in site_processes().items():
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        sample[pid] = (role, info.rss, getattr(info, "pss", info.rss))
    return sample


# ----------------------------------------------------------------------------- the report
@dataclass
class Event:
    at: float
    kind: str
    ms: float
    status: str
    error: str


@dataclass
class SoakReport:
    url: str
    folder: Path
    seconds: float
    users: dict[str, int]
    started_at: str
    events: list[Event]
    samples: list[tuple[float, dict]]  # (seconds since start, memory_sample())
    loads: list[tuple[float, float]] = field(default_factory=list)  # (seconds, load average)
    catalog: tuple[int, int] = (0, 0)  # active products at the start and at the end
    after: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return sorted({e.kind for e in self.events})

    def errors(self) -> list[Event]:
        return [e for e in self.events if e.error]


def events_read(path: Path, *, start: float) -> list[Event]:
    rows = []
    with open(path, newline="") as handle:
        for at, kind, ms, status, error in csv.reader(handle):
            rows.append(Event(float(at) - start, kind, float(ms), status, error))
    return rows


def _pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.0f}" if values else "–"


def _mb(n: float) -> str:
    return f"{n / 2**20:.0f}"


def outcome_after(*, since: dt.datetime, wait_s: float, log) -> dict:
    """What the workers did with the soak's uploads and imports, after waiting up to ``wait_s``
    for the embedding backlog to drain."""
    space = space_active()
    images = ProductImage.objects.filter(product__brand=BRAND, product__created_at__gte=since)

    def backlog() -> int:
        done = ImageEmbedding.objects.filter(space=space, image__in=images).values("image")
        return images.exclude(pk__in=done).count()

    waited, left = 0.0, backlog()
    started = time.monotonic()
    while left and waited < wait_s:
        time.sleep(5)
        waited = time.monotonic() - started
        left = backlog()
        log(f"  waiting for the worker: {left} soak photos not embedded yet ({waited:.0f} s)")
    jobs = ImportJob.objects.filter(created_at__gte=since)
    return {
        "products": Product.objects.filter(brand=BRAND, created_at__gte=since).count(),
        "photos": images.count(),
        "not_embedded": left,
        "drain_s": waited,
        "failures": EmbeddingFailure.objects.filter(image__in=images).count(),
        "imports": dict(jobs.values_list("status").annotate(n=Count("id")).order_by()),
        "import_rows": jobs.aggregate(n=Sum("created_count"))["n"] or 0,
        "import_row_errors": jobs.aggregate(n=Sum("error_count"))["n"] or 0,
    }


def machine_description() -> str:
    model = cpu_model()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return (
        f"{os.cpu_count()} CPU cores ({model or platform.processor() or 'unknown'}), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, no GPU; PostgreSQL {pg}; the "
        "server, its worker and locust on the same machine"
    )


def window_count(seconds: float) -> int:
    """5-minute windows; a last stub of under half a window joins the one before it."""
    return max(1, round(seconds / WINDOW_S))


def window_of(at: float, windows: int) -> int:
    return min(max(int(at // WINDOW_S), 0), windows - 1)


def _latency_tables(report: SoakReport) -> list[str]:
    by_kind = defaultdict(list)
    for e in report.events:
        by_kind[e.kind].append(e)
    lines = [
        "| kind | requests | errors | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for kind in report.kinds():
        rows = by_kind[kind]
        ok = [e.ms for e in rows if not e.error]
        lines.append(
            f"| {kind} | {len(rows)} | {sum(1 for e in rows if e.error)} | {_pct(ok, 50)} | "
            f"{_pct(ok, 95)} | {max(ok):.0f} |"
            if ok
            else f"| {kind} | {len(rows)} | {len(rows)} | – | – | – |"
        )
    every = [e.ms for e in report.events if not e.error and e.kind != "import:job"]
    errors = len(report.errors())
    lines.append(
        f"| **all** | **{len(report.events)}** | **{errors}** | {_pct(every, 50)} | "
        f"{_pct(every, 95)} | |"
    )
    windows = window_count(report.seconds)
    ends = [(w + 1) * WINDOW_S for w in range(windows - 1)] + [report.seconds]
    heads = [f"{w * WINDOW_S // 60}-{end / 60:.0f} min" for w, end in enumerate(ends)]
    lines += [
        "",
        "p50 / p95 (ms) and requests per 5-minute window (errors, when any, in brackets):",
        "",
        "| kind | " + " | ".join(heads) + " |",
        "|---|" + "---|" * windows,
    ]
    for kind in [k for k in report.kinds() if k != "import:job"] + ["all"]:
        cells = []
        for w in range(windows):
            rows = [
                e for e in report.events
                if window_of(e.at, windows) == w
                and (e.kind == kind or (kind == "all" and e.kind != "import:job"))
            ]  # fmt: skip
            ok = [e.ms for e in rows if not e.error]
            bad = len(rows) - len(ok)
            cells.append(
                f"{_pct(ok, 50)} / {_pct(ok, 95)} ({len(rows)}{f', {bad} err' if bad else ''})"
                if rows
                else "–"
            )
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    loads = [[load for t, load in report.loads if window_of(t, windows) == w]
             for w in range(windows)]  # fmt: skip
    lines.append(
        "| machine load (1-min load average, mean) | "
        + " | ".join(f"{np.mean(v):.1f}" if v else "–" for v in loads)
        + " |"
    )
    return lines


def _memory_tables(report: SoakReport) -> list[str]:
    if not report.samples:
        return ["No memory samples (the site's processes were not found)."]
    first_t, first = report.samples[0]
    last_t, last = report.samples[-1]
    mid_t, mid = min(report.samples, key=lambda s: abs(s[0] - last_t / 2))
    lines = [
        f"Memory of each process, sampled every 15 s (RSS; start = {first_t:.0f} s, middle = "
        f"{mid_t / 60:.0f} min, end = {last_t / 60:.0f} min). The postgres backends "
        "(they come and go) are summed as PSS, which shares each shared page among its users:",
        "",
        "| process | pid | start MB | middle MB | end MB | growth MB | growth in the 2nd half MB |",
        "|---|---|---|---|---|---|---|",
    ]
    singles = sorted(
        (pid for pid, (role, _, _) in first.items() if role != "postgres backends"),
        key=lambda pid: (first[pid][0], pid),
    )
    for pid in singles:
        role, rss0, _ = first[pid]
        if pid not in last:
            lines.append(f"| {role} | {pid} | {_mb(rss0)} | | gone | | |")
            continue
        rss_mid, rss_end = mid.get(pid, (role, 0, 0))[1], last[pid][1]
        lines.append(
            f"| {role} | {pid} | {_mb(rss0)} | {_mb(rss_mid)} | {_mb(rss_end)} | "
            f"{(rss_end - rss0) / 2**20:+.0f} | {(rss_end - rss_mid) / 2**20:+.0f} |"
        )
    new = sorted(pid for pid, (role, _, _) in last.items()
                 if pid not in first and role != "postgres backends")  # fmt: skip
    for pid in new:
        lines.append(f"| {last[pid][0]} (new) | {pid} | | | {_mb(last[pid][1])} | | |")

    def backends(sample: dict) -> tuple[int, int]:
        rows = [v for v in sample.values() if v[0] == "postgres backends"]
        return len(rows), sum(v[2] for v in rows)

    (n0, pss0), (_, pssm), (n1, pss1) = backends(first), backends(mid), backends(last)
    if n0 or n1:
        lines.append(
            f"| postgres backends (PSS, sum) | {n0} → {n1} processes | {_mb(pss0)} | "
            f"{_mb(pssm)} | {_mb(pss1)} | {(pss1 - pss0) / 2**20:+.0f} | "
            f"{(pss1 - pssm) / 2**20:+.0f} |"
        )
    return lines


def section_markdown(*, report: SoakReport, command: str, server: str, note: str = "") -> str:
    minutes = report.seconds / 60
    users = ", ".join(f"{n} {kind}" for kind, n in report.users.items())
    after = report.after
    lines = [
        SECTION,
        "",
        f"Date: {report.started_at}. Machine: {machine_description()}."
        + (f" {note}" if note else ""),
        "",
        "```sh",
        server,
        command,
        "```",
        "",
        f"Duration: **{minutes:.1f} minutes** of traffic against {report.url}; locust users: "
        f"{users} (each waits 1-4 s, 4-12 s and 3-8 s between tasks). Shoppers: text searches "
        "(`POST /api/search/`, 2-3 words from demo titles), photo searches (demo photos "
        "re-cropped, re-lit and re-encoded), product pages, `GET /api/products/?category=`. "
        "Sellers (API token): create a listing and upload a photo, sometimes delete one; every "
        f"{json.loads((report.folder / 'config.json').read_text())['import_every_s'] / 60:.3g} "
        "minutes a CSV import of 8 rows with a ZIP of photos through the dashboard (session "
        "log-in), polled to its end. The moderator (token): list the queue, read a pair, dismiss "
        "or escalate it, undo. An error is any response with an unexpected status, a request "
        "that failed, or an import that ended other than `done` without row errors. The "
        f"catalog grew from {report.catalog[0]} to {report.catalog[1]} active listings. The "
        "machine's load average (last row below) counts everything on it, other work included.",
        "",
        *_latency_tables(report),
        "",
        *_memory_tables(report),
        "",
        "What the workers did with the soak's writes (read from the database after the traffic "
        f"stopped; waited up to the drain time for the embedding backlog): {after.get('products')} "
        f"listings with {after.get('photos')} photos created, {after.get('not_embedded')} photos "
        f"still without a vector after {after.get('drain_s', 0):.0f} s, "
        f"{after.get('failures')} embedding failures; imports by status "
        f"{after.get('imports')}, {after.get('import_rows')} rows created, "
        f"{after.get('import_row_errors')} row errors.",
    ]
    if report.notes:
        lines += ["", *[f"- {n}" for n in report.notes]]
    return "\n".join(lines) + "\n"


def report_notes(report: SoakReport) -> list[str]:
    """Plain sentences on the targets: errors 0, steady p95, bounded memory."""
    notes = []
    errors = report.errors()
    if errors:
        kinds = defaultdict(int)
        for e in errors:
            kinds[e.kind] += 1
        first = errors[0]
        notes.append(
            f"Errors: {len(errors)} (target 0) — {dict(kinds)}; the first at "
            f"{first.at / 60:.1f} min: {first.kind} {first.status} {first.error[:160]}"
        )
    else:
        notes.append("Errors: 0 (target 0).")
    n = window_count(report.seconds)
    windows = [
        [e.ms for e in report.events
         if not e.error and e.kind != "import:job" and window_of(e.at, n) == w]
        for w in range(n)
    ]  # fmt: skip
    windows = [w for w in windows if w]
    if len(windows) >= 2:
        notes.append(
            f"p95 of all requests: {np.percentile(windows[0], 95):.0f} ms in the first window, "
            f"{np.percentile(windows[-1], 95):.0f} ms in the last."
        )
    return notes


# ----------------------------------------------------------------------------- the run
def warm_up(*, url: str, config: Path, log) -> None:
    """Searches until every web worker has loaded the model (its first search takes seconds),
    so the soak measures a warm site: 16 searches, 4 at a time, each on a new connection (a
    kept-alive one would stay with one worker)."""
    photos = json.loads(config.read_text())["photos"]

    def one(i: int) -> None:
        try:
            if i % 2:
                with open(photos[i], "rb") as photo:
                    files = {"image": ("q.jpg", photo.read(), "image/jpeg")}
                response = requests.post(f"{url}/api/search/", files=files, timeout=180)
            else:
                response = requests.post(f"{url}/api/search/", json={"text": "blue shirt"},
                                         timeout=180)  # fmt: skip
        except requests.RequestException as exc:
            raise SoakError(f"The server at {url} does not answer: {exc}") from exc
        if response.status_code != 200:
            raise SoakError(
                f"Warm-up search got HTTP {response.status_code}: {response.text[:200]}"
            )

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(16)))
    log(f"warmed up in {time.monotonic() - started:.1f} s (16 searches)")


def run(
    *, url: str, minutes: float, shoppers: int, sellers: int, folder: Path, drain_s: float,
    import_every_s: float, log,
) -> SoakReport:  # fmt: skip
    since = dt.datetime.now(dt.UTC)
    config = soak_prepare(folder=folder, sellers=sellers, import_every_s=import_every_s)
    warm_up(url=url, config=config, log=log)
    events_path = folder / "events.csv"
    events_path.write_text("")
    if not site_processes():
        log("warning: no `manage.py serve` of this folder found; memory is sampled only for "
            "PostgreSQL and Redis")  # fmt: skip
    users = shoppers + sellers + 1
    seconds = int(minutes * 60)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
        "--users", str(users), "--spawn-rate", "2", "--run-time", f"{seconds}s",
        "--stop-timeout", "30", "--only-summary", "--loglevel", "WARNING",
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    env = os.environ | {"SOAK_CONFIG": str(config), "SOAK_EVENTS": str(events_path)}
    log(f"soak: {users} users ({shoppers} shoppers, {sellers} sellers, 1 moderator) against "
        f"{url} for {minutes:g} min; events in {events_path}")  # fmt: skip
    sys.stdout.flush()
    start = time.time()
    samples, loads = [], []
    products_before = Product.objects.filter(status=ProductStatus.ACTIVE).count()
    with open(folder / "locust.log", "w") as locust_log:
        locust = subprocess.Popen(command, env=env, stdout=locust_log, stderr=subprocess.STDOUT)
        try:
            next_sample = next_log = time.monotonic()
            while locust.poll() is None:
                now = time.monotonic()
                if now >= next_sample:
                    samples.append((time.time() - start, memory_sample()))
                    loads.append((time.time() - start, os.getloadavg()[0]))
                    next_sample = now + 15
                if now >= next_log:
                    lines = events_path.read_text().splitlines()
                    errors = sum(1 for line in lines if not line.endswith(","))
                    log(f"  {(time.time() - start) / 60:5.1f} min: {len(lines)} requests, "
                        f"{errors} errors")  # fmt: skip
                    next_log = now + 60
                    sys.stdout.flush()
                time.sleep(1)
        except KeyboardInterrupt:
            locust.terminate()
            locust.wait(timeout=60)
            log("interrupted: reporting what ran")
    if locust.returncode not in (0, -15, None):
        tail = (folder / "locust.log").read_text()[-2000:]
        raise SoakError(f"locust exited with {locust.returncode}:\n{tail}")
    samples.append((time.time() - start, memory_sample()))
    events = events_read(events_path, start=start)
    elapsed = min(time.time() - start, max((e.at for e in events), default=0) + 1)
    report = SoakReport(
        url=url, folder=folder, seconds=elapsed,
        users={"shoppers": shoppers, "sellers": sellers, "moderator": 1},
        started_at=dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        events=events, samples=samples, loads=loads,
        catalog=(products_before, Product.objects.filter(status=ProductStatus.ACTIVE).count()),
    )  # fmt: skip
    report.after = outcome_after(since=since, wait_s=drain_s, log=log)
    report.notes = report_notes(report)
    return report
