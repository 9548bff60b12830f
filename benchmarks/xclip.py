"""The X-CLIP row's cost (`xclip-zeroshot`, default size ViT-B/32, 8 frames, random weights:
nothing is downloaded): FLOPs per clip, sentence and (video, sentence) pair, and measured time
to encode clips and sentences and to score a gallery, the exact video-conditioned score
against the unconditioned cosine (`text_conditioning=none`, the baseline) in the same run.
Prints the ratio and the time per 1,000 clips; the load average is printed, since the machine
may be shared.

    python benchmarks/xclip.py                          # GPU: 1,000 clips, 1,000 x 1,000 pairs
    python benchmarks/xclip.py --clips 4 --gallery 200  # small, for a 2-core CPU
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from baselines.xclip import XClipZeroShot, XClipZeroShotConfig
from mrw.bench.evaluator import autocast, similarity_matrix
from mrw.methods.base import MethodContext
from mrw.testing.xclip import tiny_tokenizer

TOKENS = 20  # sentence length in tokens (MRW titles are short; the model allows 77)


def _architecture(folder: Path) -> None:
    """The default X-CLIP config with a 224 px VideoMAE processor (ImageNet statistics, as
    X-CLIP's) and the byte-level test tokenizer: what `pretrained=none` reads."""
    from transformers import VideoMAEImageProcessor, XCLIPConfig, XCLIPProcessor

    XCLIPConfig().save_pretrained(folder)
    processor = VideoMAEImageProcessor(
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]
    )
    XCLIPProcessor(image_processor=processor, tokenizer=tiny_tokenizer()).save_pretrained(folder)


def _timed(fn, device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cuda = torch.cuda.is_available()
    parser.add_argument("--clips", type=int, default=1000 if cuda else 4, help="clips encoded")
    parser.add_argument("--gallery", type=int, default=1000 if cuda else 200, help="N x N scored")
    parser.add_argument("--batch", type=int, default=64, help="clips per encoder batch")
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    context = MethodContext(feature_dim=1, vocab_size=1, num_train_pairs=1)
    with tempfile.TemporaryDirectory() as tmp:
        _architecture(Path(tmp))
        methods = {
            c: XClipZeroShot(XClipZeroShotConfig("none", tmp, c), context).to(device).eval()
            for c in ("none", "video")
        }
    method = methods["video"]
    frames = torch.randint(0, 256, (args.batch, method.num_frames, 3, 224, 224), device=device)
    frames = frames.to(torch.uint8)
    lengths = torch.full((args.batch,), method.num_frames, device=device)
    tokens = torch.randint(1, 500, (args.batch, TOKENS), device=device)
    token_lengths = torch.full((args.batch,), TOKENS, device=device)

    with torch.inference_mode():
        with FlopCounterMode(display=False) as count:
            method.encode_video(frames[:1], lengths[:1])
        clip_flops = count.get_total_flops()
        with FlopCounterMode(display=False) as count:
            method.encode_text(tokens[:1], token_lengths[:1])
        text_flops = count.get_total_flops()
        with autocast(device):
            method.encode_video(frames[:1], lengths[:1])  # warm-up
            batches = -(-args.clips // args.batch)
            video, video_s = _timed(
                lambda: [method.encode_video(frames, lengths) for _ in range(batches)], device
            )
            text, text_s = _timed(
                lambda: [method.encode_text(tokens, token_lengths) for _ in range(batches)], device
            )
        video_rows = video[0].float().repeat(-(-args.gallery // args.batch), 1, 1)[: args.gallery]
        text_rows = text[0].float().repeat(-(-args.gallery // args.batch), 1, 1)[: args.gallery]
        with FlopCounterMode(display=False) as count:
            method.similarity(video_rows[:1], text_rows[:64])
        pair_flops = count.get_total_flops() / len(text_rows[:64])
        times = {}
        for name, scorer in methods.items():
            scorer.similarity(video_rows[:2], text_rows[:2])  # warm-up
            _, times[name] = _timed(
                lambda s=scorer: similarity_matrix(s.similarity, video_rows, text_rows), device
            )

    clips = batches * args.batch
    pairs = args.gallery**2
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {name}, {torch.get_num_threads()} threads, load average {load}")
    print(
        f"FLOPs: {clip_flops / 1e9:.1f} G per {method.num_frames}-frame clip, "
        f"{text_flops / 1e9:.2f} G per {TOKENS}-token sentence, "
        f"{pair_flops / 1e6:.1f} M per pair (prompt generator)"
    )
    print(
        f"encode {clips} clips: {video_s:.2f} s ({1000 * video_s / clips:.2f} s per 1,000); "
        f"{clips} sentences: {text_s:.2f} s ({1000 * text_s / clips:.3f} s per 1,000)"
    )
    exact, plain = times["video"], times["none"]
    print(
        f"score {args.gallery} x {args.gallery}: exact {exact:.3f} s "
        f"({pairs / exact:,.0f} pairs/s; {1e6 * exact / pairs:.2f} s per 1,000 x 1,000), "
        f"unconditioned {plain:.4f} s; exact / unconditioned = {exact / plain:.0f}x"
    )


if __name__ == "__main__":
    main()
