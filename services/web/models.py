"""The UI's own tables: sign-in sessions and shown-once signing secrets.

Shared by every UI replica, so any replica serves any signed-in person. What a
copy of these tables gives its reader is nothing usable: a session is found by
SHA-256 of the cookie's id (never the id itself), and the person's API key and
any secret waiting to be shown are sealed with a key derived from that id
(services/web/session.py).
"""

from sqlalchemy import Column, Index, LargeBinary, MetaData, String, Table, Text

from shared.db import UTCDateTime

metadata = MetaData()

web_sessions = Table(
    "web_sessions", metadata,
    # Hex SHA-256 of the session id the cookie carries.
    Column("id_hash", String(64), primary_key=True),
    Column("subject", String(255), nullable=False),
    Column("roles", Text, nullable=False),  # JSON list
    # 12-byte nonce + AES-GCM ciphertext of the person's API key.
    Column("api_key", LargeBinary, nullable=False),
    # Useless without the cookie: it only accompanies the session's own requests.
    Column("csrf_token", String(64), nullable=False),
    Column("flashes", Text, nullable=False),  # JSON list of [kind, message]
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    # Signed in through the OpenID Connect provider: the person's name, the sealed
    # refresh token, and when the access token (in api_key) expires.
    Column("display_name", String(255), nullable=True),
    Column("refresh_token", LargeBinary, nullable=True),
    Column("token_expires_at", UTCDateTime, nullable=True),
    Index("ix_web_sessions_last_seen", "last_seen"),
)

# A sign-in at the provider under way: found by SHA-256 of the id in the browser's
# HttpOnly cookie; the nonce and PKCE code_verifier are sealed with that id.
web_sign_ins = Table(
    "web_sign_ins", metadata,
    Column("flow_hash", String(64), primary_key=True),
    Column("state", String(64), nullable=False),
    Column("secrets", LargeBinary, nullable=False),
    Column("next_path", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_web_sign_ins_created_at", "created_at"),
)

web_shown_once = Table(
    "web_shown_once", metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("subscription_id", String(36), primary_key=True),
    # 12-byte nonce + AES-GCM ciphertext, sealed with the session's key.
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_web_shown_once_created_at", "created_at"),
)

# The UI's own keys, made on first use and shared by every replica through this
# database (services/web/server_keys.py): no setting to configure. Whoever reads
# this table can forge what the key signs (a SCAR link page's nonce), so it is
# as private as the sessions beside it.
web_keys = Table(
    "web_keys", metadata,
    Column("name", String(64), primary_key=True),
    Column("key", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
