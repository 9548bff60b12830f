"""Existing datasets: the authors' releases, TGIF, MS-COCO/Flickr30K, re-hydration, the Hub."""
