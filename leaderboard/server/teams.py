"""Teams: add (the token is returned once), rotate a token, revoke, list, and authenticate a
bearer token."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from leaderboard.board import clean_fields
from leaderboard.errors import BoardError
from leaderboard.server import tokens
from leaderboard.server.db import Database
from leaderboard.server.models import Team, utcnow

_NO_TEAM = "0" * 64  # compared against when the key id is unknown, so timing is the same


def add_team(db: Database, name: str) -> str:
    """Create a team; returns its token (the only time it exists outside the team's hands).

    Raises:
        BoardError: empty or overlong name, or a team of that name exists.
    """
    name = clean_fields(team=name)["team"]
    token = tokens.new_token()
    try:
        with db.write() as session:
            session.add(
                Team(
                    name=name,
                    token_key_id=token.key_id,
                    token_sha256=token.secret_sha256,
                    created_utc=utcnow(),
                )
            )
    except IntegrityError:
        raise BoardError(f"team {name!r} already exists") from None
    return token.text


def revoke_team(db: Database, name: str) -> None:
    """Revoke a team's token: its later requests get 401; its submissions stay on the board.

    Raises:
        BoardError: no such team, or already revoked.
    """
    name = clean_fields(team=name)["team"]
    with db.write() as session:
        team = session.scalar(select(Team).where(Team.name == name))
        if team is None:
            raise BoardError(f"no team {name!r}")
        if team.revoked_utc is not None:
            raise BoardError(f"team {name!r} was already revoked on {team.revoked_utc:%Y-%m-%d}")
        team.revoked_utc = utcnow()


def rotate_token(db: Database, name: str) -> str:
    """Give an existing team a new token (a lost or leaked one); returns it, once.

    The old token stops working at once; a revoked team becomes active again. The team keeps
    its name, its submissions and its limits. Two rotations at once cannot both print a
    token: the swap happens only if the token is still the one read.

    Raises:
        BoardError: no such team, or its token changed since it was read (run it again).
    """
    name = clean_fields(team=name)["team"]
    with db.read() as session:
        team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        raise BoardError(f"no team {name!r}")
    token = tokens.new_token()
    with db.write() as session:
        swapped = session.execute(  # only if nobody changed the token since it was read
            update(Team)
            .where((Team.id == team.id) & (Team.token_sha256 == team.token_sha256))
            .values(token_key_id=token.key_id, token_sha256=token.secret_sha256, revoked_utc=None)
        )
        if swapped.rowcount != 1:
            raise BoardError(f"team {name!r}: its token was changed meanwhile; run rotate again")
    return token.text


def list_teams(db: Database) -> list[tuple[str, str, bool]]:
    """(name, created date, active) of every team, oldest first."""
    with db.read() as session:
        teams = session.scalars(select(Team).order_by(Team.id)).all()
    return [(t.name, f"{t.created_utc:%Y-%m-%d}", t.revoked_utc is None) for t in teams]


def authenticate(db: Database, token: str) -> tuple[int, str] | None:
    """(team id, name) for a valid, unrevoked token, else None.

    The token's key id selects the row; its secret is compared by digest in constant time.
    """
    parts = tokens.split_token(token)
    if parts is None:
        return None
    key_id, secret = parts
    with db.read() as session:
        team = session.scalar(select(Team).where(Team.token_key_id == key_id))
    stored = team.token_sha256 if team is not None else _NO_TEAM
    if not tokens.matches(secret, stored) or team is None or team.revoked_utc is not None:
        return None
    return team.id, team.name
