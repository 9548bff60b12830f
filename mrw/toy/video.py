"""The toy set: a synthetic *polysemous* video–text dataset in the MRW format, made offline.

Each clip is a small GIF with 2–3 moments, the way a reaction GIF has several, and the
moments are of **different kinds**, each in its own temporal segment (the first, middle or
last part of the clip, in random order, neighbouring segments overlapping slightly):

- an *object* appears: a bright shape × colour in one cell of a 3×3 grid (left, middle or
  right column);
- the *scene* changes: the whole background turns a dark tint (night, forest, sunset, storm);
- a *pattern* sweeps over the frame: horizontal, vertical or diagonal stripes, or checks, in
  a dull tint (grey, teal, olive).

Its sentence names one moment only, the object often partially ("mrw something red
appears"), the way a Reddit title relates to a reaction GIF: the pairing is real but covers
part of the video. The kinds show in different parts of the learning-free frame features
(`mrw.bench.toy_features`: where each bright colour is, which dark colours fill the frame,
which way its edges run). With those features alone (toy v3) the mean over frames keeps
every moment, so one embedding per clip loses nothing; toy v4, the default, mixes them into
one shared space where the moments' values overlap and the mean blurs them
(`mrw-bench headroom` measures the difference; docs/dataset.md). Clips last
about 1–2.4 s, so the harness's default 8 frames at 8 fps (spread over the whole clip) see
every segment.

Clips use GIF frame delays of 80–120 ms, some with unequal per-frame delays, so the
timestamp-true sampling in `mrw.media.frames` is exercised too. Everything is derived from the
seed: rebuilding gives byte-identical files.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from mrw.catalog import get_dataset, identity_metadata
from mrw.dataset import VideoRow, build_dataset
from mrw.dataset.qrels import write_split_qrels

# Bright: each object colour has every channel either > 192 or < 128 (its own bright bin).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 100, 245),
    "yellow": (245, 220, 40),
    "purple": (215, 60, 235),
    "white": (240, 240, 240),
}
SHAPES = ("circle", "square", "triangle", "cross", "diamond")
SIDES = ("on the left", "in the middle", "on the right")  # columns of the 3x3 grid
# Dark tints (every channel < 128, each in its own coarse colour bin) and what a title says.
SCENES: dict[str, tuple[tuple[int, int, int], str]] = {
    "night": ((20, 30, 100), "night falls"),
    "forest": ((20, 90, 40), "we enter the forest"),
    "sunset": ((110, 45, 20), "we watch the sunset"),
    "storm": ((70, 20, 90), "a storm rolls in"),
    "ocean": ((20, 100, 100), "we dive into the ocean"),
    "desert": ((100, 100, 20), "we reach the desert"),
    "fog": ((100, 100, 100), "the fog comes"),
}
PATTERNS = ("horizontal stripes", "vertical stripes", "diagonal stripes", "checks")
# Dull: channels in [128, 192) or < 64, so neither a bright colour nor a scene's dark tint.
PATTERN_COLOURS = {"grey": (160, 160, 160), "teal": (30, 160, 160), "olive": (160, 160, 30)}
KINDS = ("object", "scene", "pattern")
BACKGROUNDS = ((16, 16, 16), (32, 28, 40), (20, 36, 30))
PREFIXES = ("mrw", "mfw", "my reaction when", "me when", "how i feel when")
# Which attributes of an object or a pattern a sentence names, and how often: partial ones.
DESCRIPTIONS = {
    "object": (
        (("colour", "shape", "side"), 0.4),
        (("colour", "shape"), 0.2),
        (("colour", "side"), 0.2),
        (("shape", "side"), 0.1),
        (("colour",), 0.1),
    ),
    "pattern": ((("tint", "pattern"), 0.6), (("tint",), 0.2), (("pattern",), 0.2)),
}
SPLIT_FRACTIONS = (("train", 0.8), ("validation", 1 / 15), ("test", 2 / 15))
EPOCH = 1_262_304_000  # 2010-01-01: synthetic, fixed post times
MAX_OVERLAP = 0.08  # how far a segment may reach into its neighbours, as a fraction of the clip
# The catalogue record's version: bump it there when the generated clips or sentences change.
# It names the prepared copy's folder, so a stale cached toy set and its features are not reused.
TOY_VERSION = get_dataset("toy").version


@dataclass(frozen=True)
class Moment:
    """One moment of a clip: its kind, what it shows, and where in the clip it is.

    `attributes` holds what a sentence can name: {"colour", "shape", "side"} for an object,
    {"scene"} for a scene change, {"tint", "pattern"} for a pattern. `start`/`end` are fractions of
    the clip's duration (visible in [start, end)); `x`, `y`, `radius` place an object, as
    fractions of the frame.
    """

    kind: str
    attributes: tuple[tuple[str, str], ...]
    start: float = 0.0
    end: float = 1.0
    x: float = 0.5
    y: float = 0.5
    radius: float = 0.11

    def get(self, name: str) -> str | None:
        """The value of attribute `name`, or None."""
        return dict(self.attributes).get(name)

    def matches(self, named: Mapping[str, str]) -> bool:
        """Whether this moment has every attribute a sentence names."""
        return all(self.get(key) == value for key, value in named.items())


@dataclass(frozen=True)
class Scene:
    """One clip: its moments, which one the sentence is about, and its frame delays."""

    moments: tuple[Moment, ...]
    target: int
    delays_ms: tuple[int, ...]
    background: tuple[int, int, int]

    @property
    def duration_ms(self) -> int:
        """Clip length in milliseconds: the sum of the frame delays."""
        return sum(self.delays_ms)


@dataclass(frozen=True)
class ToyConfig:
    """Size and seed of the synthetic toy dataset (pairs, RNG seed, frame side in pixels)."""

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


def _sample_moment(kind: str, rng: random.Random) -> Moment:
    if kind == "object":
        cell = rng.randrange(9)
        attributes = (
            ("colour", rng.choice(list(COLOURS))),
            ("shape", rng.choice(SHAPES)),
            ("side", SIDES[cell % 3]),
        )
        return Moment(
            kind,
            attributes,
            x=(cell % 3 + 0.5) / 3 + rng.uniform(-0.04, 0.04),
            y=(cell // 3 + 0.5) / 3 + rng.uniform(-0.04, 0.04),
            radius=rng.uniform(0.09, 0.13),
        )
    if kind == "scene":
        return Moment(kind, (("scene", rng.choice(list(SCENES))),))
    return Moment(
        kind, (("tint", rng.choice(list(PATTERN_COLOURS))), ("pattern", rng.choice(PATTERNS)))
    )


def sample_scene(rng: random.Random) -> Scene:
    """2–3 moments of distinct kinds, each in its own temporal segment (random order,
    slight overlaps), and which of them the sentence describes."""
    count = rng.choice((2, 3, 3))
    kinds = rng.sample(KINDS, count)
    slots = rng.sample(range(count), count)  # which part of the clip each moment gets
    moments = []
    for kind, slot in zip(kinds, slots, strict=True):
        start = max(0.0, slot / count - rng.uniform(0, MAX_OVERLAP))
        end = min(1.0, (slot + 1) / count + rng.uniform(0, MAX_OVERLAP))
        moments.append(dataclasses.replace(_sample_moment(kind, rng), start=start, end=end))
    frames = rng.randint(12, 20)
    if rng.random() < 0.25:  # unequal delays, as many real GIFs have
        delays = tuple(rng.choice((60, 80, 100, 140, 160)) for _ in range(frames))
    else:
        delays = (rng.choice((80, 100, 120)),) * frames
    return Scene(tuple(moments), rng.randrange(count), delays, rng.choice(BACKGROUNDS))


def describe(scene: Scene, rng: random.Random) -> str:
    """A reaction-style sentence naming (some attributes of) the target moment only."""
    return describe_with_attributes(scene, rng)[0]


def describe_with_attributes(scene: Scene, rng: random.Random) -> tuple[str, dict[str, str]]:
    """`describe`'s sentence and the attributes it names (e.g. {"colour": "red"})."""
    target = scene.moments[scene.target]
    prefix = rng.choice(PREFIXES)
    if target.kind == "scene":
        name = target.get("scene")
        return f"{prefix} {SCENES[name][1]}", {"scene": name}
    names = rng.choices(
        [d for d, _ in DESCRIPTIONS[target.kind]], weights=[w for _, w in DESCRIPTIONS[target.kind]]
    )[0]
    named = {name: target.get(name) for name in names}
    if target.kind == "pattern":
        if "pattern" in named:
            words = [named.get("tint", ""), named["pattern"], "flash by"]
        else:
            words = [_article(named["tint"]), named["tint"], "pattern flashes by"]
    else:
        thing = ["a", named.get("colour", ""), named["shape"]] if "shape" in named else []
        words = [*(thing or ["something", named["colour"]]), "appears", named.get("side", "")]
    return " ".join([prefix, *(w for w in words if w)]), named


def _article(word: str) -> str:
    """`a` or `an` before `word` (every toy word is pronounced as spelled: vowel -> `an`)."""
    return "an" if word[:1] in tuple("aeiou") else "a"


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
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
        outline = [(arm, 1), (arm, arm), (1, arm), (1, -arm), (arm, -arm), (arm, -1)]
        outline += [(-x, -y) for x, y in outline]
        return [(cx + r * px, cy + r * py) for px, py in outline]
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in corners]


def _draw_pattern(draw, pattern: str, size: int, colour: int) -> None:
    """Grey stripes (period size/8) across the whole frame, or a checkerboard."""
    period = max(4, size // 8)
    half = period // 2
    for offset in range(-size, 2 * size, period):
        if pattern == "horizontal stripes":
            draw.rectangle((0, offset, size, offset + half - 1), fill=colour)
        elif pattern == "vertical stripes":
            draw.rectangle((offset, 0, offset + half - 1, size), fill=colour)
        elif pattern == "diagonal stripes":
            band = [
                (offset, 0),
                (offset + half, 0),
                (offset + half + size, size),
                (offset + size, size),
            ]
            draw.polygon(band, fill=colour)
    if pattern == "checks":
        for row in range(0, size, half):
            for col in range(0, size, half):
                if (row // half + col // half) % 2:
                    draw.rectangle((col, row, col + half - 1, row + half - 1), fill=colour)


_PALETTE = [
    *(v for rgb in COLOURS.values() for v in rgb),
    *(v for rgb, _ in SCENES.values() for v in rgb),
    *(v for rgb in PATTERN_COLOURS.values() for v in rgb),
]
_OBJECT_INDEX = {name: i + 1 for i, name in enumerate(COLOURS)}
_SCENE_INDEX = {name: len(COLOURS) + i + 1 for i, name in enumerate(SCENES)}
_PATTERN_INDEX = {
    name: len(COLOURS) + len(SCENES) + i + 1 for i, name in enumerate(PATTERN_COLOURS)
}


def render(scene: Scene, size: int = 64) -> bytes:
    """The scene as GIF bytes (palette images drawn directly: no quantisation, deterministic).

    Per frame, the moments visible at its time stamp are drawn in the order scene, pattern,
    object (so an overlap shows the object on top).
    """
    from PIL import Image, ImageDraw

    order = {kind: i for i, kind in enumerate(KINDS[::-1])}  # scene, pattern, object
    moments = sorted(scene.moments, key=lambda m: -order[m.kind])
    palette = [*scene.background, *_PALETTE]
    duration = scene.duration_ms / 1000
    frames, t = [], 0.0
    for delay in scene.delays_ms:
        image = Image.new("P", (size, size), 0)
        image.putpalette(palette)
        draw = ImageDraw.Draw(image)
        for moment in moments:
            if not moment.start <= t / duration < moment.end:
                continue
            if moment.kind == "scene":
                draw.rectangle((0, 0, size, size), fill=_SCENE_INDEX[moment.get("scene")])
            elif moment.kind == "pattern":
                tint = _PATTERN_INDEX[moment.get("tint")]
                _draw_pattern(draw, moment.get("pattern"), size, tint)
            else:
                cx, cy, r = moment.x * size, moment.y * size, moment.radius * size
                colour = _OBJECT_INDEX[moment.get("colour")]
                if moment.get("shape") == "circle":
                    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
                else:
                    draw.polygon(_polygon(moment.get("shape"), cx, cy, r), fill=colour)
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
        "## Toy set\n\nSynthetic polysemous clips made by `mrw toy` (module `mrw.toy.video`, "
        f"version {TOY_VERSION}; toy v3 has the same clips and differs in its frame features "
        "only): each GIF shows 2-3 moments of different kinds (an object "
        "appears, the scene changes, a pattern sweeps by), each in its own temporal segment, "
        "and its sentence describes one of them, objects often partially. "
        "Generated with:\n\n```json\n" + json.dumps(asdict(config), sort_keys=True) + "\n```\n"
    )
    built = build_dataset(
        {split: _Sized(rows, sizes[split]) for split, rows in splits.items()},
        out_dir,
        pretty_name="MRW toy set",
        description=description,
        card_metadata={"license": "mit", "language": ["en"], **identity_metadata("toy")},
        progress=progress,
    )
    write_split_qrels(built, list(splits))  # qrels/{split}/, as `mrw build` writes them
    return built


class _Sized:
    """A row generator with a known length, so progress bars show a total."""

    def __init__(self, rows: Iterable[VideoRow], length: int) -> None:
        self.rows, self.length = rows, length

    def __iter__(self) -> Iterator[VideoRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return self.length
