"""The package as a user installs it: a wheel built from the tree, installed with no extras into
a fresh venv, runs `mrw`, `mrw-bench` and `mrw-leaderboard`; a command that needs an extra
names it in one line.

No network: the wheel is built with the running interpreter's setuptools (no build
isolation), and the fresh venv sees exactly the core dependencies' closure (from
pyproject.toml, markers applied, no extras) through a `.pth` to a folder of links into this
environment's site-packages, so the extras' packages (praw, yt-dlp, zstandard, starlette, ...)
are not importable there even though they are installed here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
# The build's setuptools floor, as pyproject.toml's [build-system] states it.
SETUPTOOLS_FLOOR = re.search(
    r'"(setuptools>=[\d.]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8")
).group(1)
EXTRA_ONLY = ("praw", "yt_dlp", "zstandard", "starlette", "uvicorn", "sqlalchemy", "psycopg")

pytestmark = pytest.mark.slow


def _core_closure(wheel: Path) -> list[metadata.Distribution]:
    """The installed distributions the wheel's dependencies need, transitively: its
    `Requires-Dist` and theirs, markers applied, no extras."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        wheel_metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    todo = [Requirement(text) for text in wheel_metadata.get_all("Requires-Dist") or ()]
    found: dict[str, metadata.Distribution] = {}
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = requirement.name.lower().replace("_", "-")
        if name in found:
            continue
        try:
            found[name] = dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue  # a platform-specific dependency not installed here
        todo += [Requirement(text) for text in dist.requires or ()]
    return list(found.values())


def _link_site(closure: list[metadata.Distribution], site: Path) -> None:
    """`site/`: a link to each top-level file or folder of the closure's distributions."""
    site.mkdir(parents=True)
    for dist in closure:
        for file in dist.files or ():
            top = Path(file).parts[0]
            if top == ".." or (site / top).exists() or top == "__pycache__":
                continue  # scripts outside site-packages; a namespace folder already linked
            (site / top).symlink_to(Path(dist.locate_file(top)).resolve())


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed and only the core closure importable."""
    setuptools = metadata.version("setuptools")
    if not Requirement(SETUPTOOLS_FLOOR).specifier.contains(setuptools):
        pytest.skip(f"setuptools {setuptools} here; the build needs {SETUPTOOLS_FLOOR}")
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # the tree as a build sees it, so the checkout gets no build/
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("mrw", "pvse", "baselines", "leaderboard"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("*.pyc"))
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp / "dist"), str(source)],
        tmp, dict(os.environ),
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "Deprecat" not in built.stdout + built.stderr, "the build warns"
    (wheel,) = (tmp / "dist").glob("mrw_toolkit-*.whl")
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    installed = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        tmp, dict(os.environ),
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    # dill (datasets' fingerprints) pickles modules by reference only from a path that
    # contains "site-packages": the folder is named so, as an installed one would be.
    core_site = tmp / "core" / "site-packages"
    _link_site(_core_closure(wheel), core_site)
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   tmp, {})  # fmt: skip
    (Path(purelib.stdout.strip()) / "core-deps.pth").write_text(f"{core_site}\n")
    return env_dir


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MRW_CACHE": str(tmp_path / "cache"),
            "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip


def test_the_extras_are_not_importable_there(venv: Path, env: dict[str, str], tmp_path: Path):
    probe = f"import importlib.util as u; print([m for m in {EXTRA_ONLY!r} if u.find_spec(m)])"
    done = _run([str(venv / "bin" / "python"), "-c", probe], tmp_path, env)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    where = _run([str(venv / "bin" / "python"), "-c", "import mrw; print(mrw.__file__)"],
                 tmp_path, env)  # fmt: skip
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr  # not the checkout


def test_the_commands_work_without_extras(venv: Path, env: dict[str, str], tmp_path: Path):
    bin_dir = venv / "bin"
    version = _run([str(bin_dir / "mrw"), "--version"], tmp_path, env)
    assert version.returncode == 0 and version.stdout.startswith("mrw "), version.stderr
    toy = _run([str(bin_dir / "mrw"), "toy", "--out", "myset", "--num-pairs", "60"], tmp_path, env)
    assert toy.returncode == 0, toy.stderr
    run = _run(
        [str(bin_dir / "mrw-bench"), "run", "vsepp", "--dataset", "myset", "--epochs", "1",
         "--runs-dir", "runs", "--run-id", "w"],
        tmp_path, env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "rsum" in run.stdout and "Traceback" not in run.stderr
    (run_dir,) = (tmp_path / "runs").glob("myset-*/vsepp/w")
    assert '"backbone": "colour-edges"' in (run_dir / "config.json").read_text()  # the toy's
    score = _run(
        [str(bin_dir / "mrw-leaderboard"), "score", "--truth", "myset/qrels/test",
         str(run_dir / "t2v.run.gz"), str(run_dir / "v2t.run.gz")],
        tmp_path, env,
    )  # fmt: skip
    assert score.returncode == 0 and "R@1" in score.stdout, score.stderr


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["mrw", "collect", "--dump", "d.ndjson", "--out", "c"], "collect"),
        (["mrw-leaderboard", "serve", "--board", "b.db", "--truth", "t"], "server"),
    ],
)
def test_a_command_that_needs_an_extra_names_it(
    venv: Path, env: dict[str, str], tmp_path: Path, argv: list[str], extra: str
) -> None:
    (tmp_path / "d.ndjson").write_text("")
    done = _run([str(venv / "bin" / argv[0]), *argv[1:]], tmp_path, env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert re.search(rf"pip install 'mrw-toolkit\[{extra}\]'", done.stderr), done.stderr
