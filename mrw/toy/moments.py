"""Moment labels: what each clip of a dataset shows and when, and what each sentence names.

A dataset that carries them (every toy set: its generator knows every moment) lets
`mrw-bench headroom` measure, without training an embedding, whether one vector per clip
can hold what the sentences ask about (`mrw.bench.headroom`). A catalogue record names its
provider in `DatasetRecord.moment_labels` (`"module:function"`, called with a split name).
"""

from __future__ import annotations

from dataclasses import dataclass

from mrw.toy.video import ToyConfig, toy_scenes


@dataclass(frozen=True)
class ClipMoments:
    """One clip's moments: each one's (attribute, value) pairs and its visible span.

    `spans[i]` is `(start, end)` as fractions of the clip's duration (visible when a frame's
    start time over the duration lies in `[start, end)`); `delays_ms` are the clip's frame
    delays, so the frames a sampler picks can be mapped to the moments they show.
    """

    moments: tuple[frozenset[tuple[str, str]], ...]
    spans: tuple[tuple[float, float], ...]
    delays_ms: tuple[int, ...]

    def visible(self, time_s: float) -> list[int]:
        """Indices of the moments drawn on the frame shown from `time_s` seconds."""
        fraction = time_s / (sum(self.delays_ms) / 1000)
        return [i for i, (start, end) in enumerate(self.spans) if start <= fraction < end]


@dataclass(frozen=True)
class MomentLabels:
    """A split's labels: clips by video id, and the attributes each sentence (pair id) names."""

    clips: dict[str, ClipMoments]
    named: dict[str, dict[str, str]]


def toy_moment_labels(split: str, config: ToyConfig | None = None) -> MomentLabels:
    """The toy set's moment labels of `split`, regenerated from its seed (`mrw.toy`).

    Ids follow `mrw.toy.video.toy_pairs`: pair `toy-{split}-{i:05d}`, video `toyv-{split}-{i:05d}`.
    """
    config = config or ToyConfig()
    clips, named = {}, {}
    count = config.split_sizes()[split]
    for index, (scene, _, attributes) in enumerate(toy_scenes(config, split, count)):
        clips[f"toyv-{split}-{index:05d}"] = ClipMoments(
            tuple(frozenset(m.attributes) for m in scene.moments),
            tuple((m.start, m.end) for m in scene.moments),
            scene.delays_ms,
        )
        named[f"toy-{split}-{index:05d}"] = dict(attributes)
    return MomentLabels(clips, named)
