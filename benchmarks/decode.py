"""Decoding speed: `mrw.media.frames.decode` against naive PyAV and the classic MRW frame pipeline.

Two baselines, timed in the same run on the same generated GIFs and MP4s, with the same
output (T=8 frames at 8 fps, shorter side 256 px, centre crop):

- naive PyAV: open the clip, decode every frame, pick the frame shown at each of the T
  ticks (the same sampling rule), convert those. Its frames must be byte-identical to
  `mrw.media.frames.decode`'s (checked before timing), so the ratio compares the same work's cost.
- the classic pipeline (used for MRW/TGIF features): the `ffmpeg` command line bursts every
  clip to JPEG files at 8 fps, which are read back, T evenly spread kept and resized.

    python benchmarks/decode.py                        # small: 8 GIFs + 8 MP4s, 320x240, 48 frames
    python benchmarks/decode.py --count 100 --frames 96 --width 400 --height 300   # fuller
"""

from __future__ import annotations

import argparse
import bisect
import io
import json
import math
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


def naive_pyav(path: Path) -> torch.Tensor:
    """Decode every frame with PyAV, pick the one shown at each tick, convert the picks."""
    import av

    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    times = [float(frame.time) - float(frames[0].time) for frame in frames]
    last = float((frames[-1].duration or 0) * frames[-1].time_base) or (times[-1] - times[-2])
    count = max(1, math.ceil((times[-1] + last) * FPS - 1e-9))
    shown = [bisect.bisect_right(times, k / FPS + 1e-9) - 1 for k in range(count)]
    if count < NUM_FRAMES:  # a short clip repeats its last tick
        picks = shown + [shown[-1]] * (NUM_FRAMES - count)
    else:
        picks = [shown[int((i + 0.5) * count / NUM_FRAMES)] for i in range(NUM_FRAMES)]
    arrays = []
    for frame in (frames[k] for k in picks):
        scale = SIZE / min(frame.width, frame.height)
        width = max(SIZE, round(frame.width * scale))
        height = max(SIZE, round(frame.height * scale))
        rgb = frame.reformat(
            width=width, height=height, format="rgb24", interpolation="AREA"
        ).to_ndarray()
        top, left = (height - SIZE) // 2, (width - SIZE) // 2
        arrays.append(rgb[top : top + SIZE, left : left + SIZE])
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _best_times(
    ways: dict[str, Callable[[Path], torch.Tensor]], paths: list[Path], repeats: int
) -> dict[str, float]:
    """Seconds per way for all clips: each clip's best of `repeats`, the ways run back to back
    on one clip before the next, so a burst of load on a shared machine hits both sides."""
    best = {name: [float("inf")] * len(paths) for name in ways}
    for _ in range(repeats):
        for index, path in enumerate(paths):
            for name, way in ways.items():
                start = time.perf_counter()
                frames = way(path)
                best[name][index] = min(best[name][index], time.perf_counter() - start)
                assert frames.shape == (NUM_FRAMES, 3, SIZE, SIZE), frames.shape
    return {name: sum(times) for name, times in best.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=8, help="clips per format (default 8)")
    parser.add_argument("--frames", type=int, default=48, help="frames per clip (default 48)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs per clip; the best is kept"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    classic_available = shutil.which("ffmpeg") is not None
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
            for path in paths:  # the same frames, byte for byte, or the ratio means nothing
                if not torch.equal(mrw_decode(path), naive_pyav(path)):
                    print(f"error: {fmt} frames differ from naive PyAV's", file=sys.stderr)
                    return 1
            ways = {"naive": naive_pyav, "ours": mrw_decode}
            if classic_available:
                ways["classic"] = classic_ffmpeg
            seconds = _best_times(ways, paths, args.repeats)
            naive, ours = seconds["naive"], seconds["ours"]
            classic = seconds.get("classic", float("inf"))
            results.append(
                {
                    "format": fmt,
                    "clips": len(paths),
                    "naive_pyav_videos_per_s": len(paths) / naive,
                    "mrw_frames_decode_videos_per_s": len(paths) / ours,
                    "ratio_vs_naive_pyav": naive / ours,
                    "classic_ffmpeg_jpeg_videos_per_s": len(paths) / classic
                    if classic_available
                    else None,
                    "speedup_vs_classic": classic / ours if classic_available else None,
                }
            )
    load_after = os.getloadavg()
    print(
        f"{args.count} clips per format, {args.width}x{args.height}, {args.frames} frames; "
        f"-> {NUM_FRAMES} frames at {FPS:g} fps, {SIZE} px (each clip's best of "
        f"{args.repeats}); "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"{'format':<8}{'naive PyAV':>12}{'mrw.media.frames':>18}{'vs naive':>10}"
        f"{'classic ffmpeg->JPEG':>22}{'vs classic':>12}   (videos/s)"
    )
    for r in results:
        classic_cells = (
            f"{r['classic_ffmpeg_jpeg_videos_per_s']:>22.1f}{r['speedup_vs_classic']:>11.1f}x"
            if classic_available
            else f"{'-':>22}{'-':>12}"
        )
        print(
            f"{r['format']:<8}{r['naive_pyav_videos_per_s']:>12.1f}"
            f"{r['mrw_frames_decode_videos_per_s']:>18.1f}{r['ratio_vs_naive_pyav']:>9.2f}x"
            + classic_cells
        )
    if not classic_available:
        print("classic baseline skipped: no ffmpeg command line (Debian: apt-get install ffmpeg)")
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
