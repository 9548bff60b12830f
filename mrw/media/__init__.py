"""Decoding media as browsers and players show it, its work limits, media types."""
