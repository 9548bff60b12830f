"""From a post's link to the URL of its media file, by host.

Most hosts need only a rewrite (imgur `.gifv` -> `.mp4`, giphy pages -> the media file);
imgur albums need their page read; v.redd.it and unknown hosts go through yt-dlp (whose own
connections are held to the same SSRF guard; the media itself is then fetched by our
downloader). Dead hosts and non-media links are recorded with a
reason instead of being tried.

Resolution statuses: `resolved`, `unresolvable` (no media found), `dead` (host is gone),
`blocked` (guard refused), `error` (the page could not be fetched).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from mrw.net.downloader import Downloader, PageError
from mrw.net.guard import BlockedAddress, check_url, guarded_connections, last_blocked

MEDIA_EXTENSIONS = (".gif", ".mp4", ".webm")
STILL_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
DEAD_HOSTS = {
    "gfycat.com": "gfycat shut down on 2023-09-01",
    "redgifs.com": "redgifs serves only through a token-gated API",
}


@dataclass(frozen=True)
class Resolution:
    """Outcome of resolving one post link.

    `status` is "resolved" (with `media_url`), "unresolvable", "blocked" (an address the
    downloader refuses) or "error" (a failure that may pass; retried by later runs);
    `reason` says why for all but "resolved".
    """

    status: str
    resolver: str  # the rule that decided
    media_url: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a media URL was found."""
        return self.status == "resolved"


def resolved(rule: str, url: str) -> Resolution:
    """A successful resolution of rule `rule` to media `url`."""
    return Resolution("resolved", rule, url)


def unresolvable(rule: str, reason: str) -> Resolution:
    """A final failure of rule `rule`, with its reason."""
    return Resolution("unresolvable", rule, None, reason)


def _ext(path: str) -> str:
    match = re.search(r"\.[A-Za-z0-9]+$", path)
    return match.group(0).lower() if match else ""


def _https(host: str, path: str) -> str:
    return urlunsplit(("https", host, path, "", ""))


_OG_VIDEO = re.compile(
    r"""<meta[^>]+(?:property|name)=["'](?:og:video(?::secure_url)?|og:video:url|twitter:player:stream)["'][^>]*>""",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"HTTP Error (?:429|5\d\d)|timed out|Connection (?:refused|reset)", re.IGNORECASE
)
_CONTENT = re.compile(r"""content=["']([^"']+)["']""", re.IGNORECASE)


class Resolver:
    """Resolves links with per-host rules; `downloader` supplies guarded page fetches and
    host_map."""

    def __init__(self, downloader: Downloader, use_ytdlp: bool = True) -> None:
        self.downloader = downloader
        self.use_ytdlp = use_ytdlp
        self._rules: list[tuple[str, Callable[[str], bool], Callable[[str], Resolution]]] = [
            ("dead_host", self._is_dead_host, self._dead),
            ("imgur", lambda h: h in ("i.imgur.com", "imgur.com", "m.imgur.com"), self._imgur),
            ("giphy", lambda h: h == "giphy.com" or h.endswith(".giphy.com"), self._giphy),
            ("i.redd.it", lambda h: h in ("i.redd.it", "preview.redd.it"), self._reddit_image),
            ("v.redd.it", lambda h: h == "v.redd.it", lambda url: self._ytdlp(url, "v.redd.it")),
            ("direct", lambda h: True, self._direct_or_generic),
        ]

    def resolve(self, url: str) -> Resolution:
        """A post link -> the media URL to download, by the first rule matching its host.

        Hosts (without `www.`) go to: known dead hosts, imgur, giphy, i.redd.it, v.redd.it
        (yt-dlp), then a direct/generic rule for any other. Never raises for bad input:
        a malformed or non-http(s) link is "unresolvable".
        """
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 (raises ValueError for a malformed port)
        except ValueError as exc:
            return unresolvable("scheme", f"malformed link: {exc}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return unresolvable("scheme", f"not an http(s) link: {url[:100]}")
        host = parts.hostname.lower().removeprefix("www.")
        for _name, matches, rule in self._rules:
            if matches(host):
                return rule(url.strip())
        raise AssertionError("the last rule matches every host")

    # -- rules ---------------------------------------------------------------------------
    @staticmethod
    def _is_dead_host(host: str) -> bool:
        return any(host == dead or host.endswith("." + dead) for dead in DEAD_HOSTS)

    @staticmethod
    def _dead(url: str) -> Resolution:
        host = (urlsplit(url).hostname or "").lower()
        reason = next(
            why for dead, why in DEAD_HOSTS.items() if host == dead or host.endswith("." + dead)
        )
        return Resolution("dead", "dead_host", None, reason)

    def _imgur(self, url: str) -> Resolution:
        path = urlsplit(url).path.rstrip("/")
        segments = [s for s in path.split("/") if s]
        if not segments:
            return unresolvable("imgur", "imgur front page")
        if segments[0] in ("a", "gallery", "t", "r") and len(segments) >= 2:
            return self._page_video("imgur", url)
        ext = _ext(segments[-1])
        media_id = segments[-1][: len(segments[-1]) - len(ext)] if ext else segments[-1]
        if ext in STILL_EXTENSIONS:
            return unresolvable("imgur", f"still image ({ext})")
        return resolved("imgur", _https("i.imgur.com", f"/{media_id}.mp4"))

    def _giphy(self, url: str) -> Resolution:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        media_id = None
        if segments and segments[0] in ("gifs", "stickers", "embed") and len(segments) >= 2:
            media_id = segments[-1].rsplit("-", 1)[-1]
        elif "media" in segments and len(segments) >= 3:
            media_id = segments[-2]  # /media/ID/giphy.gif or /media/v1.x/ID/giphy.gif
        elif len(segments) == 1 and _ext(segments[0]) in MEDIA_EXTENSIONS + (".gifv",):
            media_id = segments[0].rsplit(".", 1)[0]  # i.giphy.com/ID.gif
        if not media_id or not re.fullmatch(r"[A-Za-z0-9]+", media_id):
            return unresolvable("giphy", "no giphy media id in link")
        return resolved("giphy", _https("i.giphy.com", f"/media/{media_id}/giphy.mp4"))

    def _reddit_image(self, url: str) -> Resolution:
        parts = urlsplit(url)
        ext = _ext(parts.path)
        if "format=mp4" in parts.query or ext in MEDIA_EXTENSIONS:
            return resolved("i.redd.it", url)
        return unresolvable("i.redd.it", f"still image ({ext or 'no extension'})")

    def _direct_or_generic(self, url: str) -> Resolution:
        parts = urlsplit(url)
        ext = _ext(parts.path)
        if ext in MEDIA_EXTENSIONS:
            return resolved("direct", url)
        if ext == ".gifv":
            return resolved("direct", urlunsplit(parts._replace(path=parts.path[:-5] + ".mp4")))
        if ext in STILL_EXTENSIONS:
            return unresolvable("direct", f"still image ({ext})")
        host = (parts.hostname or "").lower()
        if host.endswith("reddit.com") or host == "redd.it":
            return unresolvable("direct", "link to a reddit page, not media")
        if not self.use_ytdlp:
            return unresolvable("direct", f"no rule for {host} (yt-dlp disabled)")
        return self._ytdlp(url, "yt-dlp")

    def _page_video(self, rule: str, url: str) -> Resolution:
        """The video a page advertises in its OpenGraph/Twitter meta tags."""
        try:
            page = self.downloader.fetch_text(url)
        except PageError as exc:
            status = "blocked" if exc.status == "blocked" else "error"
            return Resolution(status, rule, None, exc.reason)
        for tag in _OG_VIDEO.findall(page):
            content = _CONTENT.search(tag)
            if content:
                return resolved(rule, html.unescape(content.group(1)))
        return unresolvable(rule, "page has no video")

    def _ytdlp(self, url: str, rule: str) -> Resolution:
        import yt_dlp

        target, _headers = self.downloader.route(url)
        try:
            check_url(target, self.downloader.config.allow_private)
        except BlockedAddress as exc:
            return Resolution("blocked", rule, None, str(exc))
        options = {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "skip_download": True,
            "noplaylist": True,
            "logger": _SilentLogger(),
            "socket_timeout": self.downloader.config.read_timeout_s,
            "format": "best[vcodec!=none][protocol^=http]/bestvideo[protocol^=http]/best",
            "http_headers": {"User-Agent": self.downloader.config.user_agent},
        }
        try:
            with (
                guarded_connections(self.downloader.config.allow_private),
                yt_dlp.YoutubeDL(options) as ydl,
            ):
                info = ydl.extract_info(target, download=False)
        except (yt_dlp.utils.YoutubeDLError, yt_dlp.networking.exceptions.RequestError) as exc:
            blocked = last_blocked()
            if blocked is not None:
                return Resolution("blocked", rule, None, str(blocked))
            message = " ".join(str(exc).removeprefix("ERROR: ").split())[:200]
            # a server or network failure may pass (retried on the next run); the rest is final
            status = "error" if _TRANSIENT.search(message) else "unresolvable"
            return Resolution(status, rule, None, f"yt-dlp: {message}")
        chosen = (info or {}).get("requested_formats") or [info or {}]
        media_url = next((f.get("url") for f in chosen if f.get("url")), None)
        if info and info.get("_type") == "playlist":
            entries = [e for e in info.get("entries") or [] if e and e.get("url")]
            media_url = entries[0]["url"] if entries else None
        if not media_url:
            return unresolvable(rule, "yt-dlp found no downloadable video")
        return resolved(rule, media_url)


class _SilentLogger:
    """yt-dlp reports through the resolution's reason, not on the terminal."""

    def debug(self, msg: str) -> None:
        pass

    info = warning = error = debug
