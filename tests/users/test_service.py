"""UserService on both backends: names and passwords, signing in, sessions and their
expiry on a moved clock, and the last administrator."""

from __future__ import annotations

import pytest

from pimhub.catalog.errors import Conflict, DuplicateKey, InvalidInput, NotFound, Unauthorized
from pimhub.users.model import MAX_PASSWORD, LastAdmin, Role
from pimhub.users.passwords import Argon2Passwords
from pimhub.users.service import TOUCH_RESOLUTION, UserService
from tests.users.conftest import PASSWORD, Clock, CountingPasswords


def test_create_normalizes_the_name_and_hashes_the_password(users: UserService) -> None:
    user = users.create("  Alice.B@example ", PASSWORD, "viewer", display_name="  Alice \t B ")
    assert (user.username, user.display_name, user.role) == (
        "alice.b@example",
        "Alice B",
        Role.VIEWER,
    )
    stored = users.users.find("alice.b@example")
    assert stored is not None and stored[1].startswith("$argon2id$") and PASSWORD not in stored[1]
    assert users.create("bob", PASSWORD, Role.ADMIN).display_name == "bob"  # defaults to the name


@pytest.mark.parametrize(
    "name",
    ["", " ", "-lead", "a b", "a/b", "a\x00b", "x" * 65, "émile", "\u212aate", "a\nb", "ab\n\n:"],
)
def test_bad_usernames_are_refused_naming_the_field(users: UserService, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        users.create(name, PASSWORD, "viewer")
    assert [e.field for e in caught.value.errors] == ["username"]


def test_the_longest_username_is_accepted(users: UserService) -> None:
    assert users.create("a" * 64, PASSWORD, "viewer").username == "a" * 64


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short", "at least 10"),
        ("x" * (MAX_PASSWORD + 1), f"at most {MAX_PASSWORD}"),
        ("ten chars\x00!", "no NUL"),
        ("lone \udc80 surrogate", "valid Unicode"),
    ],
)
def test_bad_passwords_are_refused(users: UserService, password: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        users.create("carol", password, "viewer")
    assert says in caught.value.detail and caught.value.errors[0].field == "password"
    assert users.all() == []


def test_longest_password_and_bad_display_names(users: UserService) -> None:
    users.create("dave", "p" * MAX_PASSWORD, "viewer")
    assert users.authenticate("dave", "p" * MAX_PASSWORD).username == "dave"
    for bad in ("a\x00b", "x" * 129, "bell\x07"):
        with pytest.raises(InvalidInput) as caught:
            users.create("erin", PASSWORD, "viewer", display_name=bad)
        assert caught.value.errors[0].field == "display_name"


def test_unknown_role_names_the_roles(users: UserService) -> None:
    with pytest.raises(InvalidInput) as caught:
        users.create("frank", PASSWORD, "root")
    assert "catalog-manager" in caught.value.detail and caught.value.errors[0].field == "role"


def test_a_taken_username_is_a_duplicate(users: UserService) -> None:
    users.create("gina", PASSWORD, "viewer")
    with pytest.raises(DuplicateKey):
        users.create("GINA", PASSWORD, "admin")


def test_sign_in_and_every_refusal_says_the_same(users: UserService) -> None:
    users.create("hana", PASSWORD, "viewer")
    assert users.authenticate(" HANA ", PASSWORD).username == "hana"
    for name, password in [
        ("hana", "wrong password!"),
        ("nobody", PASSWORD),
        ("hana\x00", PASSWORD),
        ("x" * 10_000, PASSWORD),
        ("hana", "x" * (MAX_PASSWORD + 1)),
        ("hana", "\udc80" * 12),
    ]:
        with pytest.raises(Unauthorized) as caught:
            users.authenticate(name, password)
        assert caught.value.detail == "the username or the password is not right"


def test_an_unknown_user_costs_a_hash_check_too(users: UserService) -> None:
    passwords = users.passwords
    assert isinstance(passwords, CountingPasswords)
    users.create("ivan", PASSWORD, "viewer")
    with pytest.raises(Unauthorized):
        users.authenticate("nobody", PASSWORD)
    with pytest.raises(Unauthorized):
        users.authenticate("nobody\x00", PASSWORD)
    assert len(passwords.verified) == 2 and all(
        h.startswith("$argon2id$") for h in passwords.verified
    )
    stored = users.users.find("ivan")
    assert stored is not None and stored[1] not in passwords.verified  # a dummy, not ivan's


def test_a_disabled_user_cannot_sign_in_and_says_so_only_to_the_right_password(
    users: UserService,
) -> None:
    users.create("admin", PASSWORD, "admin")
    users.create("jo", PASSWORD, "viewer")
    users.disable("jo")
    with pytest.raises(Unauthorized, match="disabled"):
        users.authenticate("jo", PASSWORD)
    with pytest.raises(Unauthorized, match="not right"):
        users.authenticate("jo", "wrong password!")
    users.enable("jo")
    assert users.authenticate("jo", PASSWORD).active


def test_sign_in_rehashes_a_weaker_hash_and_keeps_the_change_time(
    users: UserService, clock: Clock
) -> None:
    users.create("kim", PASSWORD, "viewer")
    before = users.users.find("kim")
    assert before is not None
    clock.advance(days=3)
    users.passwords = Argon2Passwords(time_cost=2, memory_cost=128)
    users.authenticate("kim", PASSWORD)
    after = users.users.find("kim")
    assert after is not None and after[1] != before[1] and "t=2" in after[1]
    assert after[0].password_changed_at == before[0].password_changed_at
    assert users.authenticate("kim", PASSWORD).username == "kim"


def test_a_rehash_does_not_overwrite_a_password_changed_meanwhile(users: UserService) -> None:
    user = users.create("lee", PASSWORD, "viewer")
    found = users.users.find("lee")
    assert found is not None
    users.set_password("lee", "the newer password")
    assert users.users.rehash(user.id, found[1], "$argon2id$stale") is False
    assert users.authenticate("lee", "the newer password").username == "lee"


def test_sessions_end_after_the_idle_time_and_touches_extend_them(
    users: UserService, clock: Clock
) -> None:
    user = users.create("mia", PASSWORD, "viewer")
    session, token = users.start_session(user)
    clock.advance(minutes=59)
    found = users.session(token)
    assert found is not None and found[1].username == "mia"
    clock.advance(minutes=59)  # 59 minutes after the last request: still in
    assert users.session(token) is not None
    clock.advance(minutes=60)
    assert users.session(token) is None
    assert users.sessions.find(session.token_hash) is None  # deleted, not only refused


def test_touches_are_written_at_most_once_a_resolution(users: UserService, clock: Clock) -> None:
    user = users.create("ned", PASSWORD, "viewer")
    session, token = users.start_session(user)
    clock.advance(seconds=TOUCH_RESOLUTION.total_seconds() - 1)
    users.session(token)
    stored = users.sessions.find(session.token_hash)
    assert stored is not None and stored[0].last_seen_at == session.last_seen_at
    clock.advance(seconds=1)
    users.session(token)
    stored = users.sessions.find(session.token_hash)
    assert stored is not None and stored[0].last_seen_at == clock.now


def test_sessions_end_at_the_absolute_limit_however_busy(users: UserService, clock: Clock) -> None:
    user = users.create("oli", PASSWORD, "viewer")
    _, token = users.start_session(user)
    for _ in range(9):  # a request every half hour for four and a half hours
        clock.advance(minutes=30)
        assert users.session(token) is not None
    clock.advance(minutes=30)  # five hours after signing in
    assert users.session(token) is None


def test_lowered_limits_apply_to_existing_sessions(users: UserService, clock: Clock) -> None:
    user = users.create("pat", PASSWORD, "viewer")
    _, token = users.start_session(user)
    clock.advance(minutes=20)
    users.idle = users.idle / 4  # 15 minutes now
    assert users.session(token) is None


def test_a_disabled_users_sessions_are_refused(users: UserService) -> None:
    users.create("admin", PASSWORD, "admin")
    user = users.create("quinn", PASSWORD, "viewer")
    _, token = users.start_session(user)
    users.users.set_disabled(user.id, users.clock(), keep_an_admin=False)  # not via disable()
    assert users.session(token) is None


def test_odd_tokens_find_nothing(users: UserService) -> None:
    for token in (None, "", "x" * 129, "\x00", "nope"):
        assert users.session(token) is None
        users.end_session(token)


def test_signing_in_tidies_up_expired_sessions(users: UserService, clock: Clock) -> None:
    user = users.create("rae", PASSWORD, "viewer")
    old, _ = users.start_session(user)
    clock.advance(hours=2)
    users.start_session(user)
    assert users.sessions.find(old.token_hash) is None


def test_new_password_ends_other_sessions_but_the_kept_one(users: UserService) -> None:
    user = users.create("sam", PASSWORD, "viewer")
    _, mine = users.start_session(user)
    _, other = users.start_session(user)
    users.set_password("sam", "another password", keep_session=mine)
    assert users.session(mine) is not None and users.session(other) is None
    users.set_password("sam", "a third password")
    assert users.session(mine) is None
    with pytest.raises(Unauthorized):
        users.authenticate("sam", PASSWORD)


def test_csrf_compare_copes_with_any_text(users: UserService) -> None:
    user = users.create("tom", PASSWORD, "viewer")
    session, _ = users.start_session(user)
    assert users.csrf_matches(session, session.csrf_token)
    for given in (None, "", "é" * 43, "\udc80", session.csrf_token + "x"):
        assert not users.csrf_matches(session, given)


def test_the_last_active_admin_cannot_be_disabled_or_demoted(users: UserService) -> None:
    users.create("root", PASSWORD, "admin")
    with pytest.raises(LastAdmin):
        users.disable("root")
    with pytest.raises(LastAdmin):
        users.set_role("root", "viewer")
    users.create("spare", PASSWORD, "admin")
    users.disable("spare")  # a disabled admin does not count
    with pytest.raises(LastAdmin):
        users.set_role("root", "viewer")
    users.enable("spare")
    assert users.set_role("root", "viewer").role == Role.VIEWER
    with pytest.raises(LastAdmin):
        users.disable("spare")
    assert users.set_role("spare", "admin").role == Role.ADMIN  # admin to admin is no demotion


def test_nobody_disables_themselves(users: UserService) -> None:
    users.create("uma", PASSWORD, "admin")
    users.create("vic", PASSWORD, "admin")
    with pytest.raises(Conflict, match="your own account"):
        users.disable("uma", by="uma")
    assert users.disable("vic", by="uma").disabled_at is not None


def test_unknown_and_hostile_names_are_not_found(users: UserService) -> None:
    for name in ("nobody", "a\x00b", "x" * 10_000):
        with pytest.raises(NotFound):
            users.get(name)
        with pytest.raises(NotFound):
            users.disable(name)
