"""A person using the hub over HTTP, as a browser would: a login form, cookies, xsrf tokens, OAuth redirects."""

from __future__ import annotations

import re
import time
from typing import Any

import requests

XSRF_INPUT = re.compile(r'name="_xsrf"\s+value="([^"]+)"|value="([^"]+)"\s+name="_xsrf"')


class Person:
    def __init__(self, base: str, user: str, password: str) -> None:
        self.base, self.user, self.password = base.rstrip("/"), user, password
        self.http = requests.Session()

    def login(self) -> requests.Response:
        self.http.get(f"{self.base}/hub/login", timeout=30)
        return self.http.post(f"{self.base}/hub/login", timeout=60, allow_redirects=False,
                              data={"username": self.user, "password": self.password,
                                    "_xsrf": self.http.cookies.get("_xsrf", path="/hub/") or ""})

    # ---- the hub
    def hub_api(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"X-XSRFToken": self.http.cookies.get("_xsrf", path="/hub/") or ""}
        return self.http.request(method, f"{self.base}/hub/api{path}", headers=headers, timeout=60, **kw)

    def start_server(self, timeout: float = 120, *, poll: float = 0.5) -> float:
        """Open /hub/spawn as a browser does and wait until my server's API answers (via OAuth). Seconds taken."""
        t0 = time.monotonic()
        r = self.http.get(f"{self.base}/hub/spawn", timeout=60)
        assert r.status_code == 200, (r.status_code, r.url)
        while time.monotonic() < t0 + timeout:
            # a page (not the API) runs the OAuth redirects that give this session the server's cookies
            r = self.http.get(f"{self.base}/user/{self.user}/lab", timeout=30)
            if r.status_code == 200 and "/user/" in r.url and "/lab" in r.url:
                r = self.http.get(f"{self.base}/user/{self.user}/api/status", timeout=30)
                assert r.status_code == 200, (r.status_code, r.text[:300])
                return time.monotonic() - t0
            time.sleep(poll)
        raise AssertionError(f"{self.user}'s server did not answer in {timeout} s (last: {r.status_code} {r.url})")

    # ---- my Jupyter server
    def server(self, method: str, path: str, *, owner: str | None = None, **kw: Any) -> requests.Response:
        owner = owner or self.user
        token = self.http.cookies.get("_xsrf", path=f"/user/{owner}/") or self.http.cookies.get("_xsrf") or ""
        return self.http.request(method, f"{self.base}/user/{owner}{path}", timeout=120,
                                 headers={"X-XSRFToken": token}, allow_redirects=kw.pop("allow_redirects", True),
                                 **kw)

    def nbgrader(self, action: str, course: str, part: str) -> dict[str, Any]:
        r = self.server("POST", f"/assignments/{action}", data={"course_id": course, "assignment_id": part})
        assert r.status_code == 200, (action, r.status_code, r.text[:500])
        body = r.json()
        assert body.get("success"), (action, body)
        return body

    def terminal(self, command: str, *, timeout: float = 60) -> tuple[int, str]:
        """Run `command` in a new Lab terminal of my server (over its websocket, as Lab does): (status, output)."""
        import json
        import uuid

        import websocket

        r = self.server("POST", "/api/terminals")
        assert r.status_code == 200, (r.status_code, r.text[:300])
        name = r.json()["name"]
        marker = uuid.uuid4().hex
        done = re.compile(rf"BEGIN-{marker}\r?\n(.*)END-{marker}-(\d+)", re.S)
        url = self.base.replace("http://", "ws://") + f"/user/{self.user}/terminals/websocket/{name}"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        ws = websocket.create_connection(url, header=[f"Cookie: {cookies}"], timeout=timeout)
        out = ""
        try:   # the markers are printed with printf so that the echoed command line never matches
            ws.send(json.dumps(["stdin", f"printf 'BEGIN-%s\\n' {marker}; {command}; "
                                         f"printf '\\nEND-%s-%s\\n' {marker} $?\r"]))
            deadline = time.monotonic() + timeout
            while (m := done.search(out)) is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"terminal command did not finish in {timeout} s:\n{out[-2000:]}")
                kind, *data = json.loads(ws.recv())
                if kind == "stdout":
                    out += data[0]
        finally:
            ws.close()
            self.server("DELETE", f"/api/terminals/{name}")
        return int(m.group(2)), m.group(1).replace("\r", "")

    def put_notebook(self, path: str, nb: dict[str, Any]) -> None:
        r = self.server("PUT", f"/api/contents/{path}", json={"type": "notebook", "format": "json", "content": nb})
        assert r.status_code in (200, 201), r.text[:300]

    # ---- the dashboard service
    def dashboard(self, path: str = "", **kw: Any) -> requests.Response:
        return self.http.get(f"{self.base}/services/dashboard/{path}", timeout=60, **kw)

    def dashboard_post(self, path: str, data: dict[str, str], *, xsrf: bool = True) -> requests.Response:
        form = dict(data)
        if xsrf:
            match = XSRF_INPUT.search(self.dashboard().text)   # staff pages carry it in their forms
            form["_xsrf"] = (match.group(1) or match.group(2)) if match else \
                self.http.cookies.get("_xsrf", path="/services/dashboard/") or ""   # students: no form, the cookie
        return self.http.post(f"{self.base}/services/dashboard/{path}", data=form, timeout=60,
                              allow_redirects=False, headers={"Accept": "application/json"})

    def wait_for_job(self, key: str, *, timeout: float) -> str:
        """Poll the dashboard's job list until `key` is no longer running; its final status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.dashboard("jobs").json().get(key, "")
            if not status.startswith("running"):
                return status
            time.sleep(1)
        raise AssertionError(f"job {key!r} still running after {timeout} s")
