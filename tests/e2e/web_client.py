"""Drive the web UI over plain HTTP (no browser): sign in, then send forms with the
page's CSRF token, as a browser without JavaScript would."""

import re
from typing import Any
from urllib.parse import urlencode

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN = re.compile(r'name="login_token" value="([^"]+)"')
SESSION_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class WebClient:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
        self.csrf = ""

    def sign_in(self, api_key: str, next_path: str = "/") -> httpx.Response:
        page = self.http.get("/sign-in", params={"next": next_path})
        token = LOGIN.search(page.text)
        assert token, page.text[:500]
        response = self.http.post("/sign-in", data={"api_key": api_key, "next": next_path,
                                                     "login_token": token.group(1)})
        assert response.status_code == 303, (response.status_code, response.text[:500])
        self.csrf = self._session_csrf()
        return response

    def _session_csrf(self) -> str:
        # Signed-in pages carry the session's token in a meta tag (and in every form).
        page = self.http.get("/sign-in")
        token = SESSION_CSRF.search(page.text)
        assert token, page.text[:500]
        return token.group(1)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def submit(self, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> httpx.Response:
        """POST a form with the session's CSRF token (what the page's hidden field holds)."""
        items = list(data.items()) if isinstance(data, dict) else list(data)
        # Encoded here: httpx's `data=` takes a dict only, and repeated fields (the
        # 5-Whys rows) need a list of pairs.
        return self.http.post(path, content=urlencode([*items, ("csrf_token", self.csrf)]),
                              headers={"content-type": "application/x-www-form-urlencoded"})

    def upload(self, path: str, filename: str, content: bytes,
               content_type: str) -> httpx.Response:
        """POST a file form (multipart/form-data) with the session's CSRF token."""
        return self.http.post(path, data={"csrf_token": self.csrf},
                              files={"file": (filename, content, content_type)})

    def close(self) -> None:
        self.http.close()
