"""The session table's cryptography (services/web/session.py): rows are found by
a hash of the session id, and what they hold is sealed under a key derived from
the id, which only the person's cookie carries."""

import hashlib
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Changing it makes every stored session unreadable (each would sign out).
_KDF_INFO = b"capaflow web session v1"


def id_hash(sid: str) -> str:
    """The lookup key of a session: SHA-256 of its id, hex."""
    return hashlib.sha256(sid.encode()).hexdigest()


class Sealer:
    """AES-GCM under a key derived from the session id. The associated data names
    what is sealed (and for which subscription), so a sealed value cannot be moved
    to another column or row and still open."""

    def __init__(self, sid: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_KDF_INFO).derive(sid.encode())
        self._aead = AESGCM(key)

    def seal(self, text: str, what: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, text.encode(), what.encode())

    def open(self, sealed: bytes, what: str) -> str:
        return self._aead.decrypt(sealed[:12], sealed[12:], what.encode()).decode()
