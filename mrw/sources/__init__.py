"""Existing datasets: the authors' releases, TGIF, MS-COCO/Flickr30K, re-hydration, the Hub."""

from mrw.core.errors import MRWError


class SourceError(MRWError):
    """A release download, a re-hydration or a Hub upload/download that cannot proceed."""
