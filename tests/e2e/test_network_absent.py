"""Every Hub or release call with the network absent: one line on stderr, exit 2, no traceback,
and no pointless retries (issue 13.2 and the `mrw download mrw` item of 13.9).

"Network absent" is made real, not mocked: the Hub endpoint is a loopback port nobody listens
on (huggingface_hub >= 1.0 then raises httpx's `ConnectError`, not an `OSError`), and a
release mirror is a host name that cannot resolve (`.invalid`, RFC 2606).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mrw.net.remote import FetchError, RemoteFile, fetch

BIN = Path(sys.executable).parent


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on exit: connections are refused


@pytest.fixture
def offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_HOME=str(tmp_path / "hf"),
        HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
        HF_TOKEN="hf_token_for_an_unreachable_hub",
        MRW_CACHE=str(tmp_path / "cache"),
    )
    return env


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.mark.slow  # two interpreters
def test_publish_and_download_with_the_hub_unreachable(
    offline_env: dict[str, str], toy_dataset_dir: Path
) -> None:
    line = _one_line_error(
        _run(offline_env, "mrw", "publish", str(toy_dataset_dir), "--repo", "a/b")
    )
    assert "upload to a/b failed" in line and "Connect" in line
    line = _one_line_error(_run(offline_env, "mrw", "download", "someorg/somedata"))
    assert "someorg/somedata" in line


def test_load_dataset_of_a_hub_id_offline_is_a_clear_error(monkeypatch) -> None:
    from mrw.dataset import DatasetNotFoundError, load_dataset

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="cannot load 'someorg/somedata'"):
        load_dataset("someorg/somedata", split="test")


def test_unresolvable_release_host_fails_at_once_in_full_words(tmp_path: Path) -> None:
    import requests

    class Counting(requests.Session):
        calls = 0

        def get(self, *args, **kwargs):
            Counting.calls += 1
            return super().get(*args, **kwargs)

    remote = RemoteFile("mrw-v1.0.tar.gz", "http://releases.invalid/pvse/mrw-v1.0.tar.gz")
    with pytest.raises(FetchError) as caught:
        fetch(remote, tmp_path, session=Counting(), backoff_s=30.0, progress=False)
    assert Counting.calls == 1  # a failed name lookup is not retried (backoff would be 30 s)
    assert str(caught.value) == (
        "http://releases.invalid/pvse/mrw-v1.0.tar.gz: cannot resolve releases.invalid "
        "(no network, or a wrong --mirror?)"
    )


@pytest.mark.slow  # an interpreter
def test_download_mrw_from_an_unresolvable_mirror_is_one_line(offline_env: dict[str, str]) -> None:
    line = _one_line_error(
        _run(offline_env, "mrw", "download", "mrw", "--urls-only", "--mirror", "http://m.invalid/")
    )
    assert line.endswith("cannot resolve m.invalid (no network, or a wrong --mirror?)")


def test_load_dataset_reports_the_http_clients_errors_in_one_line(monkeypatch) -> None:
    """`datasets` may let huggingface_hub's HTTP client error through (httpx's, not an
    OSError, since huggingface_hub 1.0): still a `DatasetNotFoundError`, one line."""
    import datasets
    from huggingface_hub import errors

    from mrw.dataset import DatasetNotFoundError, load_dataset

    client_error = getattr(errors, "HTTPError", OSError)

    def unreachable(*args, **kwargs):
        raise client_error("[Errno 111] Connection\nrefused")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("someorg/somedata", split="test")
    assert str(caught.value) == "cannot load 'someorg/somedata': [Errno 111] Connection refused"
