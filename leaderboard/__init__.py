"""Leaderboard: validate and score TREC ranking files, keep a board of submissions, render it."""
