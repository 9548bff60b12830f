"""Guarded fetching: SSRF checks, the media downloader and store, release files, archives."""
