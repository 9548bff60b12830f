"""Decoding speed: `mrw.media.frames.decode` against the classic way of preparing MRW frames.

The classic pipeline (used for MRW/TGIF features) bursts every clip to JPEG files with the
`ffmpeg` command line at 8 fps, then reads them back, keeps T evenly spread frames and
resizes them. `mrw.media.frames.decode` reads the clip once in-process with PyAV and converts only
the T frames it keeps. Both run in the same process, on the same generated GIFs and MP4s,
with the same output (T=8 frames at 8 fps, shorter side 256 px, centre crop).

    python benchmarks/decode.py                        # small: 8 GIFs + 8 MP4s, 320x240, 48 frames
    python benchmarks/decode.py --count 100 --frames 96 --width 400 --height 300   # fuller
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from mrw.media.frames import decode

NUM_FRAMES, FPS, SIZE = 8, 8.0, 256


def _scene(index: int, frame: int, width: int, height: int) -> Image.Image:
    """A gradient background with two moving discs: GIF-like content, not noise."""
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack(
        [
            (x + 3 * frame + 40 * index) % 256 + 0 * y,
            (y + 2 * frame) % 256 + 0 * x,
            (x + y) / 2 + 0 * x,
        ],
        -1,
    ).astype(np.uint8)
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    r = height // 6
    for k, colour in enumerate(((230, 40, 40), (40, 90, 240))):
        cx = (frame * (5 + 3 * k) + index * 37) % width
        cy = height // 3 * (k + 1)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    return image


def make_gif(index: int, frames: int, width: int, height: int) -> bytes:
    images = [_scene(index, f, width, height) for f in range(frames)]
    delays = [60 + 20 * ((f + index) % 4) for f in range(frames)]  # unequal, like real GIFs
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=delays, loop=0
    )
    return buffer.getvalue()


def make_mp4(index: int, frames: int, width: int, height: int) -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for f in range(frames):
            frame = av.VideoFrame.from_ndarray(
                np.asarray(_scene(index, f, width, height)), format="rgb24"
            )
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


def classic_ffmpeg(path: Path) -> torch.Tensor:
    """ffmpeg CLI -> JPEG burst at 8 fps -> read T evenly spread -> resize + centre crop."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-nostdin",
                "-i",
                str(path),
                "-vf",
                f"fps={FPS:g}",
                "-q:v",
                "2",
                f"{tmp}/%05d.jpg",
            ],
            check=True,
        )
        files = sorted(Path(tmp).glob("*.jpg"))
        count = len(files)
        picks = [min(count - 1, int((i + 0.5) * count / NUM_FRAMES)) for i in range(NUM_FRAMES)]
        arrays = []
        for index in picks:
            with Image.open(files[index]) as image:
                image = image.convert("RGB")
                scale = SIZE / min(image.size)
                w, h = max(SIZE, round(image.width * scale)), max(SIZE, round(image.height * scale))
                image = image.resize((w, h), Image.BILINEAR)
                left, top = (w - SIZE) // 2, (h - SIZE) // 2
                arrays.append(np.asarray(image.crop((left, top, left + SIZE, top + SIZE))))
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)


def mrw_decode(path: Path) -> torch.Tensor:
    return decode(path, num_frames=NUM_FRAMES, fps=FPS, size=SIZE).frames


def _time(fn: Callable[[Path], torch.Tensor], paths: list[Path], repeats: int) -> float:
    """Best of `repeats` passes over all clips (least disturbed by other load), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for path in paths:
            frames = fn(path)
            assert frames.shape == (NUM_FRAMES, 3, SIZE, SIZE), frames.shape
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=8, help="clips per format (default 8)")
    parser.add_argument("--frames", type=int, default=48, help="frames per clip (default 48)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best is kept")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        print(
            "error: the classic baseline needs the ffmpeg command line (apt-get install ffmpeg)",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, make in (("gif", make_gif), ("mp4", make_mp4)):
            paths = []
            for index in range(args.count):
                path = Path(tmp) / f"{index:04d}.{fmt}"
                path.write_bytes(make(index, args.frames, args.width, args.height))
                paths.append(path)
            classic = _time(classic_ffmpeg, paths, args.repeats)
            ours = _time(mrw_decode, paths, args.repeats)
            results.append(
                {
                    "format": fmt,
                    "clips": len(paths),
                    "classic_ffmpeg_jpeg_videos_per_s": len(paths) / classic,
                    "mrw_frames_decode_videos_per_s": len(paths) / ours,
                    "speedup": classic / ours,
                }
            )
    load_after = os.getloadavg()
    print(
        f"{args.count} clips per format, {args.width}x{args.height}, {args.frames} frames; "
        f"-> {NUM_FRAMES} frames at {FPS:g} fps, {SIZE} px (best of {args.repeats}); "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"{'format':<8}{'classic ffmpeg->JPEG (videos/s)':>34}"
        f"{'mrw.media.frames.decode (videos/s)':>32}{'ratio':>9}"
    )
    for r in results:
        print(
            f"{r['format']:<8}{r['classic_ffmpeg_jpeg_videos_per_s']:>34.1f}"
            f"{r['mrw_frames_decode_videos_per_s']:>32.1f}{r['speedup']:>8.1f}x"
        )
    if args.json:
        payload = {
            "args": vars(args) | {"json": str(args.json)},
            "python": platform.python_version(),
            "load_average_1min": {"before": load_before[0], "after": load_after[0]},
            "cpus": os.cpu_count(),
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
