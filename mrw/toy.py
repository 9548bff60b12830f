"""The toy set: a synthetic *polysemous* video–text dataset in the MRW format, made offline.

Each clip is a small GIF with 2–3 moments, the way a reaction GIF has several: each moment
shows one object, a shape × colour × motion (slides left/right/up/down, grows, shrinks,
spins, blinks), in its own temporal segment (the first, middle or last part of the clip, in
random order, neighbouring segments overlapping slightly). Its sentence describes only one
of them, often partially ("mrw something red slides left"), the way a Reddit title relates to
a reaction GIF: the pairing is real but covers part of the video. Because the objects differ
in *time*, PVSE's attention over frames can pick them apart, which makes its claim testable
in minutes on a CPU: with several embeddings per clip (K>1) a model can represent each
moment separately, while a single embedding (K=1) must blur them. Clips last about 1–2.4 s,
so the harness's default 8 frames at 8 fps (spread over the whole clip) see every segment.

Clips use GIF frame delays of 80–120 ms, some with unequal per-frame delays, so the
timestamp-true sampling in `mrw.frames` is exercised too. Everything is derived from the
seed: rebuilding gives byte-identical files.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from mrw.catalog import get_dataset
from mrw.dataset import VideoRow, build_dataset
from mrw.dataset.qrels import write_split_qrels

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 100, 245),
    "yellow": (245, 220, 40),
    "purple": (165, 60, 225),
    "white": (240, 240, 240),
}
SHAPES = ("circle", "square", "triangle", "cross", "diamond")
MOTIONS = (
    "slides left",
    "slides right",
    "slides up",
    "slides down",
    "grows",
    "shrinks",
    "spins",
    "blinks",
)
BACKGROUNDS = ((16, 16, 16), (32, 28, 40), (20, 36, 30))
PREFIXES = ("mrw", "mfw", "my reaction when", "me when", "how i feel when")
# Which attributes a sentence names, and how often: partial descriptions are the polysemy.
DESCRIPTIONS = (
    (("colour", "shape", "motion"), 0.35),
    (("colour", "motion"), 0.2),
    (("shape", "motion"), 0.2),
    (("colour", "shape"), 0.15),
    (("motion",), 0.1),
)
SLIDE = 0.4  # how far a sliding object travels, as a fraction of the frame
SPLIT_FRACTIONS = (("train", 0.8), ("validation", 1 / 15), ("test", 2 / 15))
EPOCH = 1_262_304_000  # 2010-01-01: synthetic, fixed post times
MAX_OVERLAP = 0.08  # how far a segment may reach into its neighbours, as a fraction of the clip
# The catalogue record's version: bump it there when the generated clips or sentences change.
# It names the prepared copy's folder, so a stale cached toy set and its features are not reused.
TOY_VERSION = get_dataset("toy").version


@dataclass(frozen=True)
class ToyObject:
    shape: str
    colour: str
    motion: str
    x: float  # centre at the middle of the clip, as a fraction of the frame
    y: float
    radius: float  # as a fraction of the frame
    start: float = 0.0  # the object's segment of the clip, as fractions of its duration:
    end: float = 1.0  # it is visible in [start, end) and its motion runs over that segment


@dataclass(frozen=True)
class Scene:
    """One clip: its objects, which one the sentence is about, and its frame delays."""

    objects: tuple[ToyObject, ...]
    target: int
    delays_ms: tuple[int, ...]
    background: tuple[int, int, int]

    @property
    def duration_ms(self) -> int:
        return sum(self.delays_ms)


@dataclass(frozen=True)
class ToyConfig:
    num_pairs: int = 1500
    seed: int = 0
    size: int = 64  # frame side in pixels

    def split_sizes(self) -> dict[str, int]:
        """Pairs per split (80/7/13 like MRW's large train split, always ≥1 per split)."""
        sizes = {name: max(1, round(self.num_pairs * share)) for name, share in SPLIT_FRACTIONS[1:]}
        sizes = {"train": self.num_pairs - sum(sizes.values()), **sizes}
        if sizes["train"] < 1:
            raise ValueError(f"num_pairs must be at least 3, got {self.num_pairs}")
        return sizes


def sample_scene(rng: random.Random) -> Scene:
    """2–3 objects with distinct (shape, colour) and distinct motions, on a 3×3 grid, each
    in its own temporal segment (random order, slight overlaps)."""
    count = rng.choice((2, 3, 3))
    motions = rng.sample(MOTIONS, count)
    kinds: list[tuple[str, str]] = []
    for motion in motions:
        kinds.append(
            rng.choice(
                [
                    (shape, colour)
                    for shape in SHAPES
                    for colour in COLOURS
                    if (shape, colour) not in kinds
                    and not (shape == "circle" and motion == "spins")
                ]
            )
        )  # a spinning circle would look still
    cells = rng.sample(range(9), count)
    slots = rng.sample(range(count), count)  # which part of the clip each object gets
    objects = []
    for (shape, colour), motion, cell, slot in zip(kinds, motions, cells, slots):
        start = max(0.0, slot / count - rng.uniform(0, MAX_OVERLAP))
        end = min(1.0, (slot + 1) / count + rng.uniform(0, MAX_OVERLAP))
        radius = rng.uniform(0.09, 0.13)
        x = (cell % 3 + 0.5) / 3 + rng.uniform(-0.04, 0.04)
        y = (cell // 3 + 0.5) / 3 + rng.uniform(-0.04, 0.04)
        # A sliding object travels SLIDE of the frame: start it where it stays in view.
        inside = (SLIDE / 2 + radius, 1 - SLIDE / 2 - radius)
        if motion in ("slides left", "slides right"):
            x = min(max(x, inside[0]), inside[1])
        elif motion in ("slides up", "slides down"):
            y = min(max(y, inside[0]), inside[1])
        objects.append(ToyObject(shape, colour, motion, x, y, radius, start, end))
    frames = rng.randint(12, 20)
    if rng.random() < 0.25:  # unequal delays, as many real GIFs have
        delays = tuple(rng.choice((60, 80, 100, 140, 160)) for _ in range(frames))
    else:
        delays = (rng.choice((80, 100, 120)),) * frames
    return Scene(tuple(objects), rng.randrange(count), delays, rng.choice(BACKGROUNDS))


def describe(scene: Scene, rng: random.Random) -> str:
    """A reaction-style sentence naming some attributes of the target object only."""
    return describe_with_attributes(scene, rng)[0]


def describe_with_attributes(scene: Scene, rng: random.Random) -> tuple[str, dict[str, str]]:
    """`describe`'s sentence and the attributes it names (e.g. {"colour": "red"})."""
    target = scene.objects[scene.target]
    names = rng.choices([d for d, _ in DESCRIPTIONS], weights=[w for _, w in DESCRIPTIONS])[0]
    named = {name: getattr(target, name) for name in names}
    colour, motion = named.get("colour", ""), named.get("motion", "")
    if "shape" in names:
        words = ["a" if motion else "the", colour, target.shape, motion]
    else:
        words = ["something", colour, motion]
    return " ".join([rng.choice(PREFIXES), *(w for w in words if w)]), named


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        corners = [math.pi / 4 + k * math.pi / 2 for k in range(4)]
    elif shape == "diamond":
        corners = [k * math.pi / 2 for k in range(4)]
        r *= 1.2
    elif shape == "triangle":
        corners = [-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
        r *= 1.2
    else:  # cross: 12 corners of a plus sign
        arm = 0.38
        points = [
            (arm, 1),
            (arm, arm),
            (1, arm),
            (1, -arm),
            (arm, -arm),
            (arm, -1),
            (-arm, -1),
            (-arm, -arm),
            (-1, -arm),
            (-1, arm),
            (-arm, arm),
            (-arm, 1),
        ]
        cos, sin = math.cos(angle), math.sin(angle)
        return [
            (cx + r * (px * cos - py * sin), cy + r * (px * sin + py * cos)) for px, py in points
        ]
    return [(cx + r * math.cos(a + angle), cy + r * math.sin(a + angle)) for a in corners]


def _draw_object(draw, obj: ToyObject, t: float, duration: float, size: int, colour: int) -> None:
    """Draw `obj` as it is at `t` seconds into a clip of `duration` seconds (if in its segment)."""
    if not obj.start <= t / duration < obj.end:
        return
    progress = (t / duration - obj.start) / (obj.end - obj.start)  # through its own segment
    cx, cy, r = obj.x * size, obj.y * size, obj.radius * size
    shift = (progress - 0.5) * SLIDE * size
    angle = 0.0
    match obj.motion:
        case "slides left":
            cx -= shift
        case "slides right":
            cx += shift
        case "slides up":
            cy -= shift
        case "slides down":
            cy += shift
        case "grows":
            r *= 0.5 + progress
        case "shrinks":
            r *= 1.5 - progress
        case "spins":
            angle = progress * 2 * math.pi
        case "blinks":
            if int(progress * 3) == 1:  # on, off, on: in thirds of its segment
                return
    if obj.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        draw.polygon(_polygon(obj.shape, cx, cy, r, angle), fill=colour)


_PALETTE_INDEX = {name: i + 1 for i, name in enumerate(COLOURS)}


def render(scene: Scene, size: int = 64) -> bytes:
    """The scene as GIF bytes (palette images drawn directly: no quantisation, deterministic)."""
    from PIL import Image, ImageDraw

    palette = [*scene.background, *(v for rgb in COLOURS.values() for v in rgb)]
    duration = scene.duration_ms / 1000
    frames, t = [], 0.0
    for delay in scene.delays_ms:
        image = Image.new("P", (size, size), 0)
        image.putpalette(palette)
        draw = ImageDraw.Draw(image)
        for obj in scene.objects:
            _draw_object(draw, obj, t, duration, size, _PALETTE_INDEX[obj.colour])
        frames.append(image)
        t += delay / 1000
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=list(scene.delays_ms),
        loop=0,
        optimize=False,
    )
    return buffer.getvalue()


def toy_scenes(
    config: ToyConfig, split: str, count: int
) -> Iterator[tuple[Scene, str, dict[str, str]]]:
    """(scene, sentence, the attributes it names) of one split; each clip is seeded by
    (seed, split, index) alone."""
    for index in range(count):
        rng = random.Random(f"mrw-toy:{config.seed}:{split}:{index}")
        scene = sample_scene(rng)
        yield (scene, *describe_with_attributes(scene, rng))


def toy_pairs(config: ToyConfig, split: str, count: int, offset: int = 0) -> Iterator[VideoRow]:
    """The rows of one split."""
    for index, (scene, sentence, _) in enumerate(toy_scenes(config, split, count)):
        yield VideoRow.from_media(
            render(scene, config.size),
            id=f"toy-{split}-{index:05d}",
            video_id=f"toyv-{split}-{index:05d}",
            sentence=sentence,
            source="toy",
            created_utc=EPOCH + 3600 * (offset + index),
        )


def build_toy(
    out_dir: str | os.PathLike[str],
    *,
    num_pairs: int = 1500,
    seed: int = 0,
    size: int = 64,
    progress: bool = False,
) -> Path:
    """Build the toy set into `out_dir` (atomically); returns the folder."""
    config = ToyConfig(num_pairs=num_pairs, seed=seed, size=size)
    sizes = config.split_sizes()
    offsets = {split: sum(list(sizes.values())[:i]) for i, split in enumerate(sizes)}
    splits = {split: toy_pairs(config, split, n, offsets[split]) for split, n in sizes.items()}
    description = (
        "## Toy set\n\nSynthetic polysemous clips made by `mrw toy` (module `mrw.toy`, "
        f"version {TOY_VERSION}): each GIF shows 2-3 objects (shape x colour x motion), each in "
        "its own temporal segment, and its sentence describes one of them, often partially. "
        "Generated with:\n\n```json\n" + json.dumps(asdict(config), sort_keys=True) + "\n```\n"
    )
    built = build_dataset(
        splits,
        out_dir,
        pretty_name="MRW toy set",
        description=description,
        card_metadata={"license": "mit", "language": ["en"]},
        progress=progress,
    )
    write_split_qrels(built, list(splits))  # qrels/{split}/, as `mrw build` writes them
    return built
