"""The console's session cookie: signed, expiring, bound to its secret; the CSRF tokens."""

from __future__ import annotations

import stat
from pathlib import Path

from serving.console import session

NOW = 1_800_000_000.0


def test_a_signed_value_names_its_key_until_it_expires(tmp_path: Path) -> None:
    key = session.secret(tmp_path)
    value = session.sign(key, "key-1", NOW)
    assert session.verify(key, value, NOW) == "key-1"
    assert session.verify(key, value, NOW + session.LIFETIME_SECONDS - 1) == "key-1"
    assert session.verify(key, value, NOW + session.LIFETIME_SECONDS) is None


def test_a_changed_value_or_another_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    key = session.secret(tmp_path / "a")
    other = session.secret(tmp_path)
    value = session.sign(key, "key-1", NOW)
    key_id, expires, mac = value.split(".")
    for forged in (
        f"key-2.{expires}.{mac}",
        f"{key_id}.{int(expires) + 3600}.{mac}",
        f"{key_id}.{expires}.{mac[:-1]}{'1' if mac.endswith('0') else '0'}",  # last digit changed
        "",
        None,
        "a.b",
        f"{key_id}.x.{mac}",
    ):
        assert session.verify(key, forged, NOW) is None, forged
    assert session.verify(other, value, NOW) is None


def test_the_secret_is_made_once_private_and_then_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    made = session.secret(home)
    path = home / session.SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    session.secret.cache_clear()  # another worker process
    assert session.secret(home) == made
    assert len(made) == 32


def test_csrf_tokens_are_bound_to_their_session(tmp_path: Path) -> None:
    key = session.secret(tmp_path)
    one, two = session.sign(key, "k1", NOW), session.sign(key, "k2", NOW)
    assert session.same_token(session.csrf_for(key, one), session.csrf_for(key, one))
    assert not session.same_token(session.csrf_for(key, one), session.csrf_for(key, two))
    assert not session.same_token(None, None)
    assert not session.same_token("", "")
    assert session.new_token() != session.new_token()
