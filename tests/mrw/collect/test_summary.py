"""Issue 28, items 9 and 10: the collect summary's rows and when a run counts as all failed."""

from __future__ import annotations

import pytest

from mrw.collect.pipeline import RunStats, all_failed, shown_reason


@pytest.mark.parametrize(
    ("bucket", "shown"),
    [
        ("blocked: loopback address", "blocked: loopback address (allow with --allow-private)"),
        ("blocked: private address", "blocked: private address (allow with --allow-private)"),
        ("blocked: scheme 'ftp' not allowed in ftp", "blocked: scheme 'ftp' not allowed in ftp"),
        ("corrupt: still image", "corrupt: still image"),
        ("ok", "ok"),
    ],
)
def test_a_blocked_address_names_the_option_that_lifts_the_block(bucket, shown):
    assert shown_reason(bucket) == shown


@pytest.mark.parametrize(
    ("stats", "failed"),
    [
        (RunStats(downloads=3, downloaded_ok=0), "all 3 downloads of this run failed"),
        (RunStats(downloads=3, downloaded_ok=1), None),
        (RunStats(resolutions=2, resolved=0), "all 2 media links of this run failed to resolve"),
        (RunStats(resolutions=2, resolved=2), None),  # resolved, not downloaded (--no-download)
        (RunStats(), None),  # a resume with nothing left to do
    ],
)
def test_a_run_is_all_failed_only_when_it_had_work_and_got_no_media(stats, failed):
    assert all_failed(stats) == failed
