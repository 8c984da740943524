"""The traffic of ``manage.py soak``: a locustfile, run by locust in its own process.

It never imports Django (locust patches the standard library with gevent when it loads). What
it needs from the target's database, the soak command wrote to the JSON file named by
``SOAK_CONFIG``: the users' tokens and passwords, product ids, categories, search texts and
photo paths. Every request is appended to the CSV file named by ``SOAK_EVENTS`` (time, kind,
milliseconds, status, error), which the soak command reads to make its report.

Users:
- shoppers: text searches, photo searches (perturbed real photos), product pages and the
  products API;
- sellers (token): create a listing and upload a photo, sometimes delete one of theirs, and
  now and then import a CSV with a ZIP of photos through the dashboard (session log-in), then
  poll the import until it ends;
- one moderator (token): read the duplicate queue and a pair, dismiss or escalate it, and undo
  the decision, so the queue never runs dry.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import time
import uuid
import zipfile

from locust import HttpUser, between, events, task
from PIL import Image, ImageEnhance

CONFIG = json.loads(open(os.environ["SOAK_CONFIG"]).read())
_events_file = open(os.environ["SOAK_EVENTS"], "a", newline="")
_events = csv.writer(_events_file)
_last_flush = [time.monotonic()]


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None,
            exception=None, **kwargs):  # fmt: skip
    status = getattr(response, "status_code", "") if response is not None else ""
    error = "" if exception is None else str(exception).replace("\n", " ")[:200]
    _events.writerow([f"{time.time():.3f}", name, f"{response_time:.1f}", status, error])
    if time.monotonic() - _last_flush[0] > 2:
        _events_file.flush()
        _last_flush[0] = time.monotonic()


@events.quitting.add_listener
def _close(environment, **kwargs):
    _events_file.flush()


def photo_bytes(rng: random.Random) -> bytes:
    """A real demo photo, re-cropped and re-lit a little, as a fresh JPEG."""
    with Image.open(rng.choice(CONFIG["photos"])) as image:
        image = image.convert("RGB")
        w, h = image.size
        dx, dy = int(w * rng.uniform(0, 0.06)), int(h * rng.uniform(0, 0.06))
        image = image.crop((dx, dy, w - int(w * rng.uniform(0, 0.06)), h - dy))
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.9, 1.1))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=rng.randint(75, 92))
        return out.getvalue()


def expect(response, *codes: int) -> bool:
    """Mark a response failed unless its status is one of ``codes``."""
    if response.status_code in codes:
        response.success()
        return True
    if response.status_code == 0:  # no HTTP answer: the connection failed or was closed
        response.failure(f"no response: {response.error!r}"[:200])
    else:
        response.failure(f"HTTP {response.status_code}: {response.text[:160]}")
    return False


class Shopper(HttpUser):
    weight = 10
    wait_time = between(1, 4)

    def on_start(self):
        self.rng = random.Random()

    @task(4)
    def text_search(self):
        body = {"text": self.rng.choice(CONFIG["queries"]), "k": 24}
        with self.client.post("/api/search/", json=body, name="search:text",
                              catch_response=True) as response:  # fmt: skip
            expect(response, 200)

    @task(2)
    def photo_search(self):
        files = {"image": ("query.jpg", photo_bytes(self.rng), "image/jpeg")}
        with self.client.post("/api/search/", files=files, data={"k": "24"},
                              name="search:photo", catch_response=True) as response:  # fmt: skip
            expect(response, 200)

    @task(3)
    def product_page(self):
        pk = self.rng.choice(CONFIG["product_ids"])
        # A merged listing redirects to its canonical one (301), which is then fetched.
        with self.client.get(f"/products/{pk}/", name="page:product",
                             catch_response=True) as response:  # fmt: skip
            expect(response, 200, 404)

    @task(1)
    def products_api(self):
        category = self.rng.choice(CONFIG["categories"])
        with self.client.get("/api/products/", params={"category": category},
                             name="api:products", catch_response=True) as response:  # fmt: skip
            expect(response, 200)


class Seller(HttpUser):
    fixed_count = len(CONFIG["sellers"])
    wait_time = between(4, 12)

    def on_start(self):
        self.rng = random.Random()
        self.account = CONFIG["sellers"][Seller._next % len(CONFIG["sellers"])]
        Seller._next += 1
        self.headers = {"Authorization": f"Token {self.account['token']}"}
        self.mine: list[int] = []
        self.imports: list[int] = []
        self.logged_in = False
        # The first import comes 10-40 s in, then one every import_every_s.
        self.every = CONFIG["import_every_s"]
        self.last_import = time.monotonic() - self.every + self.rng.uniform(10, 40)

    _next = 0

    @task(6)
    def list_with_photo(self):
        title = f"{self.rng.choice(CONFIG['queries']).title()} soak {uuid.uuid4().hex[:6]}"
        body = {
            "title": title, "price": f"{self.rng.uniform(5, 200):.2f}", "status": "active",
            "category": self.rng.choice(CONFIG["category_ids"]), "brand": "Soak",
        }  # fmt: skip
        with self.client.post("/api/products/", json=body, headers=self.headers,
                              name="upload:create", catch_response=True) as response:  # fmt: skip
            if not expect(response, 201):
                return
            pk = response.json()["id"]
        files = {"image": ("photo.jpg", photo_bytes(self.rng), "image/jpeg")}
        with self.client.post(f"/api/products/{pk}/images/", files=files, headers=self.headers,
                              name="upload:photo", catch_response=True) as response:  # fmt: skip
            if expect(response, 201):
                self.mine.append(pk)

    @task(1)
    def delete_one(self):
        if len(self.mine) < 5:
            return
        pk = self.mine.pop(self.rng.randrange(len(self.mine)))
        with self.client.delete(f"/api/products/{pk}/", headers=self.headers,
                                name="upload:delete", catch_response=True) as response:  # fmt: skip
            expect(response, 204)

    @task(2)
    def import_csv(self):
        """One CSV import per seller every ``import_every_s``, then its progress polled."""
        for pk in list(self.imports):
            with self.client.get(f"/seller/imports/{pk}/", name="import:status",
                                 catch_response=True) as response:  # fmt: skip
                if expect(response, 200) and response.json()["status"] not in {"queued", "running"}:
                    self.imports.remove(pk)
                    job = response.json()
                    if job["status"] != "done" or job["errors"]:
                        events.request.fire(
                            request_type="JOB", name="import:job", response_time=0,
                            response_length=0, response=None,
                            exception=RuntimeError(f"import {pk}: {job}"),
                        )  # fmt: skip
                    else:
                        events.request.fire(
                            request_type="JOB", name="import:job", response_time=0,
                            response_length=0, response=None, exception=None,
                        )  # fmt: skip
        if time.monotonic() - self.last_import < self.every:
            return
        self.last_import = time.monotonic()
        if not self.logged_in and not self._log_in():
            return
        rows, photos = io.StringIO(), io.BytesIO()
        writer = csv.writer(rows)
        writer.writerow(["external_id", "title", "price", "category", "brand", "images"])
        batch = uuid.uuid4().hex[:8]
        with zipfile.ZipFile(photos, "w") as archive:
            for i in range(8):
                archive.writestr(f"p{i}.jpg", photo_bytes(self.rng))
                writer.writerow([
                    f"soak-{batch}-{i}", f"{self.rng.choice(CONFIG['queries']).title()} import",
                    f"{self.rng.uniform(5, 200):.2f}", self.rng.choice(CONFIG["category_paths"]),
                    "Soak", f"p{i}.jpg",
                ])  # fmt: skip
        files = {
            "csv_file": ("catalog.csv", rows.getvalue().encode(), "text/csv"),
            "images_zip": ("photos.zip", photos.getvalue(), "application/zip"),
        }
        data = {"csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")}
        with self.client.post("/seller/imports/", data=data, files=files, name="import:start",
                              headers={"Referer": self.host + "/seller/"},
                              catch_response=True) as response:  # fmt: skip
            found = re.search(r"Import #(\d+) started", response.text)
            if expect(response, 200) and found:
                self.imports.append(int(found.group(1)))
            elif response.status_code == 200:
                response.failure("no 'Import #N started' message on the dashboard")

    def _log_in(self) -> bool:
        self.client.get("/accounts/login/", name="login:page")
        data = {
            "username": self.account["username"], "password": self.account["password"],
            "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
        }  # fmt: skip
        with self.client.post("/accounts/login/", data=data, name="login",
                              headers={"Referer": self.host + "/accounts/login/"},
                              catch_response=True) as response:  # fmt: skip
            self.logged_in = expect(response, 200) and "sessionid" in self.client.cookies
            if response.status_code == 200 and not self.logged_in:
                response.failure("log-in did not give a session")
        return self.logged_in


class Moderator(HttpUser):
    fixed_count = 1
    wait_time = between(3, 8)

    def on_start(self):
        self.rng = random.Random()
        self.headers = {"Authorization": f"Token {CONFIG['moderator']['token']}"}

    @task
    def work_the_queue(self):
        with self.client.get("/api/duplicates/", headers=self.headers, name="moderation:list",
                             catch_response=True) as response:  # fmt: skip
            if not expect(response, 200):
                return
            pairs = response.json()["results"]
        if not pairs:
            return
        pk = self.rng.choice(pairs)["id"]
        with self.client.get(f"/api/duplicates/{pk}/", headers=self.headers,
                             name="moderation:pair", catch_response=True) as response:  # fmt: skip
            if not expect(response, 200):
                return
        action = self.rng.choice(["dismiss", "dismiss", "escalate"])
        body = {"action": action, "reason": "soak", "note": "soak test decision"}
        with self.client.post(f"/api/duplicates/{pk}/decision/", json=body, headers=self.headers,
                              name="moderation:decision", catch_response=True) as response:  # fmt: skip
            if not expect(response, 200):
                return
        # Undo, so the pair is back in the queue (an escalated one stays open anyway).
        with self.client.post(f"/api/duplicates/{pk}/undo/", headers=self.headers,
                              name="moderation:undo", catch_response=True) as response:  # fmt: skip
            expect(response, 200)
