"""Encryption at rest for endpoint secrets (Fernet: AES-128-CBC with an HMAC-SHA256 tag)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from pimhub.catalog.errors import SecretUnreadable

KEY_FILE_NAME = "secret.key"
# Seconds a reader waits for a key file being written to end with its newline (only where
# the file is made in place: a filesystem without hard links).
KEY_SETTLES = 0.5


class SecretBox:
    """Encrypts and decrypts short secrets with a key derived from one passphrase. The
    passphrase may be given as a function, called on first use, so that processes which never
    touch a secret (most CLI commands) never create a key file."""

    def __init__(self, passphrase: str | Callable[[], str]) -> None:
        self._passphrase = passphrase
        self._cached: Fernet | None = None

    def _fernet(self) -> Fernet:
        if self._cached is None:
            phrase = self._passphrase if isinstance(self._passphrase, str) else self._passphrase()
            # Any passphrase works: SHA-256 turns it into the 32 bytes Fernet wants.
            digest = hashlib.sha256(phrase.encode()).digest()
            self._cached = Fernet(base64.urlsafe_b64encode(digest))
        return self._cached

    def encrypt(self, plain: str) -> str:
        return self._fernet().encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet().decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(
                "the secret key in use cannot read the stored secrets (they were sealed with "
                "another key): check PIMHUB_SECRET_KEY, or the key file in the data directory"
            ) from exc


def key_file_passphrase(data_dir: Path) -> str:
    """The embedded default's key: a random passphrase kept beside the SQLite file, created on
    first use and readable by its owner only.

    Several processes (serve --workers N, the worker) may make it at once: the file appears
    whole or not at all (written aside, then hard-linked to its name, which fails if another
    process's key got there first), so none reads a half-written key and seals secrets with
    a key the others do not have."""
    path = data_dir / KEY_FILE_NAME
    if (saved := _saved_key(path)) is not None:
        return saved
    data_dir.mkdir(parents=True, exist_ok=True)
    passphrase = base64.urlsafe_b64encode(os.urandom(32)).decode()
    fd, draft = tempfile.mkstemp(prefix=f".{KEY_FILE_NAME}-", dir=data_dir)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(passphrase + "\n")
            handle.flush()
            os.fsync(handle.fileno())  # the name must not point at a key not yet on disk
        try:
            os.link(draft, path)
        except FileExistsError:
            return _theirs(path)
        except OSError:
            # No hard links here (vfat, some network or host-mounted volumes).
            return _make_in_place(path, passphrase)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(draft)
    return passphrase


def _make_in_place(path: Path, passphrase: str) -> str:
    """Creates the key file exclusively and writes the key in one call: a reader that comes
    in between sees no newline yet and waits for it (_saved_key)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _theirs(path)
    try:
        os.write(fd, (passphrase + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return passphrase


def _theirs(path: Path) -> str:
    """The key another process made between our look and our write."""
    if (saved := _saved_key(path)) is None:
        # Made and removed since: not ours to guess.
        raise FileExistsError(f"{path} was made and removed while this process made its own")
    return saved


def _saved_key(path: Path) -> str | None:
    """The key file's passphrase, None when there is none yet. Keys made here end with a
    newline; a file without one may still be being written in place, so it is read again
    for up to KEY_SETTLES seconds (a key written by hand without one is taken after that)."""
    deadline = time.monotonic() + KEY_SETTLES
    while True:
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        if text.endswith("\n") or time.monotonic() > deadline:
            return text.strip()
        time.sleep(0.01)
