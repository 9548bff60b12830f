"""A loopback fake Reddit that replays the recorded API bodies in `mrw/testing/data/reddit/`.

It serves the OAuth token endpoint and subreddit listings/searches with `after`/`limit`
pagination, built from real recorded `t3` submissions; tests add reaction posts (copies of
a recorded submission with another id, title and link) and inject 429/5xx responses.

    with FakeReddit() as fake:
        fake.add_post(id="r1", title="MRW it works", url="https://i.imgur.com/a.gif")
        reddit = praw.Reddit(**fake.praw_settings())
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import Self

from mrw.testing.media_server import MediaServer, Request, Route

DATA = Path(__file__).resolve().parent / "data" / "reddit"


def recorded(name: str) -> dict[str, Any]:
    """A recorded cassette slice: `token_response`, `request_uri` and `listing`."""
    return json.loads((DATA / f"subreddit-{name}.json").read_text())


class FakeReddit:
    def __init__(self, page_size: int = 25, recorded_listing: str = "new") -> None:
        cassette = recorded(recorded_listing)
        self.token_response = cassette["token_response"]
        self.template = cassette["listing"]
        self.posts: list[dict[str, Any]] = [c["data"] for c in self.template["data"]["children"]]
        self.post_template = copy.deepcopy(self.posts[0])
        self.page_size = page_size
        self.server = MediaServer()
        self.server.add("/api/v1/access_token", handler=self._token)

    # -- content -------------------------------------------------------------------------
    def add_post(self, **fields: Any) -> dict[str, Any]:
        """A new submission: a recorded one with `fields` replaced (id, title, url, over_18,
        ...)."""
        data = copy.deepcopy(self.post_template)
        data.update({"selftext": "", "is_self": False, "banned_by": None, "removal_reason": None})
        data.update(fields)
        data["name"] = f"t3_{data['id']}"
        data["domain"] = urlsplit(data["url"]).hostname or ""
        data["permalink"] = f"/r/{data['subreddit']}/comments/{data['id']}/"
        self.posts.insert(0, data)  # newest first, as /new lists them
        return data

    def listen(self, subreddit: str, *kinds: str) -> None:
        """Serve `/r/SUB/KIND` for each kind (e.g. "new", "top", "search")."""
        for kind in kinds:
            self.server.add(self._path(subreddit, kind), handler=self._listing)

    def fail_next(self, subreddit: str, kind: str, *responses: Route) -> None:
        """Serve these responses (e.g. a 429 with Retry-After, a 503) before the listing."""
        self.server.routes[(None, self._path(subreddit, kind))].before.extend(responses)

    @staticmethod
    def _path(subreddit: str, kind: str) -> str:
        return f"/r/{subreddit}/search/" if kind == "search" else f"/r/{subreddit}/{kind}"

    # -- handlers ------------------------------------------------------------------------
    def _token(self, request: Request) -> Route:
        if request.method != "POST" or "Authorization" not in request.headers:
            return Route(status=401, body=b'{"error": 401}', content_type="application/json")
        return self._json({**self.token_response, "access_token": "fake-token"})

    def _listing(self, request: Request) -> Route:
        if request.headers.get("Authorization") != "bearer fake-token":
            return Route(status=401, body=b'{"error": 401}', content_type="application/json")
        limit = min(int(request.query.get("limit", self.page_size)), self.page_size)
        names = [p["name"] for p in self.posts]
        after = request.query.get("after")
        start = names.index(after) + 1 if after in names else 0
        page = self.posts[start : start + limit]
        listing = copy.deepcopy(self.template)
        listing["data"]["children"] = [{"kind": "t3", "data": post} for post in page]
        more = start + limit < len(self.posts)
        listing["data"]["after"] = page[-1]["name"] if page and more else None
        return self._json(listing)

    @staticmethod
    def _json(payload: Any) -> Route:
        return Route(
            body=json.dumps(payload).encode(),
            content_type="application/json; charset=UTF-8",
            headers={
                "x-ratelimit-remaining": "599",
                "x-ratelimit-used": "1",
                "x-ratelimit-reset": "60",
            },
        )

    # -- wiring --------------------------------------------------------------------------
    def praw_settings(self) -> dict[str, str]:
        """praw settings pointing it at this fake (the credentials are fake)."""
        return {
            "client_id": "fake-id",
            "client_secret": "fake-secret",
            "user_agent": "mrw-tests/0.1",
            "oauth_url": self.server.base_url,
            "reddit_url": self.server.base_url,
        }

    def write_praw_ini(self, config_home: Path, site: str = "fake") -> None:
        """A `praw.ini` under an XDG config home (as a user would keep real credentials)."""
        lines = [f"[{site}]"] + [f"{key}={value}" for key, value in self.praw_settings().items()]
        (config_home / "praw.ini").write_text("\n".join(lines) + "\n")

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
