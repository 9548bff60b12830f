"""The toy image–text set: synthetic scenes with several objects, COCO-style captions, offline.

Each image shows 2–4 objects (a shape in a colour, all colours distinct) in different cells
of a 3 x 3 layout; each image has five captions (as MS-COCO has), each naming one, two or
three of its objects, sometimes with their place ("a red circle at the top left and a blue
square"). An image is thus described by several partial, different sentences: the
one-to-many association Table 2 of the PVSE paper measures, in a set that builds in seconds
and trains on a CPU (`mrw toy --kind image`, `mrw-bench run pvse vsepp --dataset toy-image`).

Images are PNG (palette drawn directly: no quantisation), everything derived from the seed,
so rebuilding gives byte-identical files. Rows follow the image-text convention of the
importers (`mrw.sources.image_text`): the image's id is `video_id`, its captions have ids
`{video_id}#{k}`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from mrw.catalog import get_dataset, identity_metadata
from mrw.dataset import VideoRow, build_dataset
from mrw.dataset.qrels import write_split_qrels
from mrw.toy.video import BACKGROUNDS, COLOURS, SHAPES, SPLIT_FRACTIONS, _polygon

# The catalogue's version names the prepared folder: bump it when images or captions change.
TOY_IMAGE_VERSION = get_dataset("toy-image").version
CAPTIONS_PER_IMAGE = 5
REGIONS = (
    "top left",
    "top",
    "top right",
    "left",
    "centre",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
PREFIXES = ("a picture of", "there is", "an image with", "a photo showing", "")
NAMED_COUNTS = ((1, 0.5), (2, 0.35), (3, 0.15))  # objects a caption names, and how often
PLACE_PROBABILITY = 0.4  # a named object also gets its region
# Distance between cell centres, as a fraction of the image: objects stay inside the centre
# crop that decoding takes (7/8 of the shorter side, see `mrw.media.images`).
CELL_SPACING = 0.27


@dataclass(frozen=True)
class ImageObject:
    shape: str
    colour: str
    cell: int  # 0-8, row-major in the 3 x 3 layout (REGIONS)
    x: float  # centre, as a fraction of the image
    y: float
    radius: float  # as a fraction of the image


@dataclass(frozen=True)
class ImageScene:
    objects: tuple[ImageObject, ...]
    background: tuple[int, int, int]


@dataclass(frozen=True)
class ToyImageConfig:
    num_images: int = 450
    seed: int = 0
    size: int = 64  # image side in pixels

    def split_sizes(self) -> dict[str, int]:
        """Images per split (80/7/13, as the video toy set; at least one per split)."""
        sizes = {
            name: max(1, round(self.num_images * share)) for name, share in SPLIT_FRACTIONS[1:]
        }
        sizes = {"train": self.num_images - sum(sizes.values()), **sizes}
        if sizes["train"] < 1:
            raise ValueError(f"num_images must be at least 3, got {self.num_images}")
        return sizes


def sample_image_scene(rng: random.Random) -> ImageScene:
    """2–4 objects, distinct colours, each in its own cell of the 3 x 3 layout."""
    count = rng.choice((2, 3, 3, 4))
    colours = rng.sample(list(COLOURS), count)
    cells = rng.sample(range(9), count)
    objects = tuple(
        ImageObject(
            shape=rng.choice(SHAPES),
            colour=colour,
            cell=cell,
            x=0.5 + (cell % 3 - 1) * CELL_SPACING + rng.uniform(-0.03, 0.03),
            y=0.5 + (cell // 3 - 1) * CELL_SPACING + rng.uniform(-0.03, 0.03),
            radius=rng.uniform(0.08, 0.11),
        )
        for colour, cell in zip(colours, cells, strict=True)
    )
    return ImageScene(objects, rng.choice(BACKGROUNDS))


def caption(scene: ImageScene, rng: random.Random) -> tuple[str, tuple[int, ...]]:
    """A caption naming one to three of the scene's objects, and which ones (indices)."""
    wanted = rng.choices([n for n, _ in NAMED_COUNTS], weights=[w for _, w in NAMED_COUNTS])[0]
    named = tuple(sorted(rng.sample(range(len(scene.objects)), min(wanted, len(scene.objects)))))
    phrases = []
    for index in named:
        obj = scene.objects[index]
        phrase = f"a {obj.colour} {obj.shape}"
        if rng.random() < PLACE_PROBABILITY:
            phrase += f" at the {REGIONS[obj.cell]}"
        phrases.append(phrase)
    body = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return " ".join(w for w in (rng.choice(PREFIXES), body) if w), named


_PALETTE_INDEX = {name: i + 1 for i, name in enumerate(COLOURS)}


def render_image(scene: ImageScene, size: int = 64) -> bytes:
    """The scene as PNG bytes (a palette image drawn directly: deterministic)."""
    from PIL import Image, ImageDraw

    image = Image.new("P", (size, size), 0)
    image.putpalette([*scene.background, *(v for rgb in COLOURS.values() for v in rgb)])
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        cx, cy, r = obj.x * size, obj.y * size, obj.radius * size
        colour = _PALETTE_INDEX[obj.colour]
        if obj.shape == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        else:
            draw.polygon(_polygon(obj.shape, cx, cy, r), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def toy_images(
    config: ToyImageConfig, split: str, count: int
) -> Iterator[tuple[ImageScene, list[tuple[str, tuple[int, ...]]]]]:
    """(scene, its captions with the objects each names) of one split; each image is seeded
    by (seed, split, index) alone."""
    for index in range(count):
        rng = random.Random(f"mrw-toy-image:{config.seed}:{split}:{index}")
        scene = sample_image_scene(rng)
        yield scene, [caption(scene, rng) for _ in range(CAPTIONS_PER_IMAGE)]


def toy_image_rows(config: ToyImageConfig, split: str, count: int) -> Iterator[VideoRow]:
    """The rows of one split: five per image, one per caption."""
    for index, (scene, captions) in enumerate(toy_images(config, split, count)):
        image_id = f"toyi-{split}-{index:05d}"
        row = VideoRow.from_media(
            render_image(scene, config.size), id=image_id, video_id=image_id, sentence=""
        )
        for k, (sentence, _) in enumerate(captions):
            yield dataclasses.replace(row, id=f"{image_id}#{k}", sentence=sentence, source="toy")


def build_toy_image(
    out_dir: str | os.PathLike[str],
    *,
    num_images: int = 450,
    seed: int = 0,
    size: int = 64,
    progress: bool = False,
) -> Path:
    """Build the toy image–text set into `out_dir` (atomically); returns the folder.

    Args:
        out_dir: the dataset folder to write (MRW format, images in the `video` column).
        num_images: images over all splits (x5 captions = rows); at least 3.
        seed: every image and caption derives from it.
        size: image side in pixels.
    Returns:
        `out_dir` as a Path.
    Raises:
        ValueError: fewer than 3 images.
    """
    config = ToyImageConfig(num_images=num_images, seed=seed, size=size)
    splits = {split: toy_image_rows(config, split, n) for split, n in config.split_sizes().items()}
    description = (
        "## Toy image-text set\n\nSynthetic images made by `mrw toy --kind image` (module "
        f"`mrw.toy.image`, version {TOY_IMAGE_VERSION}): 2-4 objects (shape x colour) in "
        f"different regions, {CAPTIONS_PER_IMAGE} captions per image, each naming one to three "
        "of them. Generated with:\n\n```json\n" + json.dumps(asdict(config), sort_keys=True)
    )
    built = build_dataset(
        splits,
        out_dir,
        pretty_name="MRW toy image-text set",
        description=description + "\n```\n",
        card_metadata={"license": "mit", "language": ["en"], **identity_metadata("toy-image")},
        progress=progress,
    )
    write_split_qrels(built, list(splits))  # qrels/{split}/: five relevant captions per image
    return built
