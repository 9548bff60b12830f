"""The synthetic toy sets (video and image-text) and their ceiling."""
