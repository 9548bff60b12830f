"""The README's tour: every command it shows runs, offline, as a new user would type it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mrw.testing.system_tools import require

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_README_BYTES = 12 * 1024


def _commands(section: str) -> list[str]:
    """Command lines of the ```bash blocks under the README heading `section` (comments cut)."""
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", body, flags=re.DOTALL)
    lines = (line.split("  #")[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) < MAX_README_BYTES
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.DOTALL).group(1)
    assert [line.split("#")[0].strip() for line in first_block.splitlines()] == [
        "make demo",
        "make test",
    ]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.MULTILINE) and re.search(
        r"^test:", makefile, re.MULTILINE
    )


@pytest.mark.parametrize("page", [README, *sorted((ROOT / "docs").glob("*.md"))], ids=str)
def test_links_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
        assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_tour_names_its_run_folder_rather_than_globbing() -> None:
    """A glob over run folders expands to several files once a second run exists, and
    `mrw-leaderboard score` then refuses the extra arguments: the tour names its run."""
    commands = _commands("A five-minute tour")
    assert not [line for line in commands if "*" in line]
    (run,) = [line for line in commands if line.startswith("mrw-bench run ")]
    run_id = run.split("--run-id ")[1].split()[0]
    (score,) = [line for line in commands if line.startswith("mrw-leaderboard score ")]
    assert f"runs/toy/pvse/{run_id}/t2v.run.gz runs/toy/pvse/{run_id}/v2t.run.gz" in score


@pytest.mark.slow
def test_every_tour_command_runs(tmp_path: Path) -> None:
    """The tour in one shell, as a new user types it after `make demo`: the venv's commands
    are not on PATH until the tour's first line activates it."""
    commands = _commands("A five-minute tour")
    assert len(commands) >= 6 and commands[0] == ". .venv/bin/activate"
    venv_bin = Path(sys.executable).parent
    if not (venv_bin / "activate").is_file():
        pytest.skip("the tests do not run from a venv (make test makes .venv)")
    (tmp_path / ".venv").symlink_to(venv_bin.parent)  # the checkout's .venv, here
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p and Path(p) != venv_bin]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(MRW_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1", PATH=os.pathsep.join(path))
    before = subprocess.run("command -v mrw", shell=True, env=env, capture_output=True, check=False)
    if before.returncode == 0:
        pytest.skip(f"an mrw outside the venv is on PATH: {before.stdout.decode().strip()}")
    bash = require("bash")  # the tour's shell (on every Debian machine; not on a bare PATH)
    result = subprocess.run(
        [bash, "-e", "-x", "-c", "\n".join(commands)],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_hosting_commands_run(tmp_path: Path) -> None:
    """The three commands of "Hosting a leaderboard", as written (the server on a free port)."""
    import shlex

    from mrw.testing.harness_runs import harness_run
    from mrw.testing.leaderboard_server import LiveServer, make_runs, make_truth

    team_add, serve, submit, baseline = _commands("Hosting a leaderboard")
    truth = make_truth(tmp_path / "mydataset" / "qrels")
    for direction, path in zip(
        ("t2v", "v2t"), make_runs(tmp_path, truth / "test", seed=0), strict=True
    ):
        path.rename(tmp_path / f"{direction}.run.gz")
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }

    def shell(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip

    added = shell(team_add)
    assert added.returncode == 0, added.stderr
    server = LiveServer(tmp_path, truth)
    server.argv = [str(bin_dir / "mrw-leaderboard"), *shlex.split(serve)[1:], "--port", "0"]
    server.start()
    try:
        submitted = shell(submit.replace("http://127.0.0.1:8000", server.url))
    finally:
        server.stop()
    assert submitted.returncode == 0, submitted.stderr
    assert "rsum" in submitted.stdout and "Traceback" not in submitted.stderr
    assert "scored #1 'm0'" in submitted.stdout  # no --name: the run files' tag names it
    harness_run(tmp_path / "runs", truth / "test", k=1, seed=0, noise=0.5)
    baselines = shell(baseline)
    assert baselines.returncode == 0, baselines.stderr
    assert "1 of 1 runs on the board as baselines" in baselines.stdout
