"""Evidence bytes in an S3-compatible object store (AWS S3, SeaweedFS, Ceph RGW,
Garage, ...): the object key is the file's SHA-256, so the same file is one
object however often it is attached.

The database keeps what it keeps with the database store (the attachment rows
and an ``evidence_blobs`` row per file, with ``content`` left empty): only the
bytes move. The object is written before the use case's transaction commits;
if the commit then fails, an object nobody references is left behind, which is
harmless (a later upload of the same file finds it). A blob row that still has
its bytes (stored before the switch from the database store) is served from
the database, so switching stores needs no copying.

boto3 blocks, so every call runs in a worker thread: the event loop keeps
serving other requests while an upload travels. The client gets its endpoint,
region and credentials from the settings and nothing else (no shared AWS
config files, no instance-metadata look-up): the only connection it opens is
to the configured endpoint. A store that cannot be reached, or that refuses,
is a 503 for the upload or download that needed it; nothing is recorded.
"""

import asyncio
import hashlib
import logging
import os
from base64 import b64encode
from datetime import datetime
from typing import Any

import boto3  # type: ignore[import-untyped]
import botocore.session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import Unavailable

from .store import EvidenceBlob

log = logging.getLogger(__name__)

# What S3 answers for "no such object" on GET (NoSuchKey) and HEAD (a bare 404).
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def _unavailable(action: str) -> Unavailable:
    return Unavailable(f"The evidence store cannot {action} right now; nothing was "
                       "recorded. Retry after the given delay.",
                       headers={"Retry-After": "5"})


class S3EvidenceStore:
    """Bytes under ``<bucket>/<sha256>`` at one S3-compatible endpoint."""

    def __init__(self, *, endpoint: str, bucket: str, region: str, access_key_id: str,
                 secret_access_key: str, timeout: float = 10.0) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        # A botocore session of its own that reads no ~/.aws files and no AWS
        # profile: nothing outside these settings changes where it connects or who
        # it signs as (the explicit endpoint, key and region beat AWS_* variables).
        isolated = botocore.session.Session(session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None)})
        session = boto3.session.Session(aws_access_key_id=access_key_id,
                                        aws_secret_access_key=secret_access_key,
                                        region_name=region, botocore_session=isolated)
        self._client: Any = session.client("s3", endpoint_url=endpoint, config=Config(
            signature_version="s3v4",
            # Path-style (endpoint/bucket/key): what every S3-compatible server
            # and AWS S3 both answer; virtual hosts need DNS for each bucket.
            s3={"addressing_style": "path"},
            connect_timeout=timeout, read_timeout=timeout,
            # Two tries, then the request's 503: a client waiting a minute on a
            # store that is down helps nobody.
            retries={"max_attempts": 2, "mode": "standard"},
            # Checksums only where S3 requires them: the trailing CRC botocore
            # adds by default is not understood by every S3-compatible server.
            # The upload carries its MD5 instead (below), which all of them check.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required"))

    # The blocking calls, run in a worker thread.

    def _exists(self, sha256: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=sha256)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def _put(self, sha256: str, content: bytes) -> None:
        # ContentMD5 makes the server check the bytes it received (every
        # S3-compatible server does); the SHA-256 travels as metadata for audits.
        md5 = b64encode(hashlib.md5(content, usedforsecurity=False).digest()).decode()
        self._client.put_object(Bucket=self.bucket, Key=sha256, Body=content,
                                ContentMD5=md5, ContentType="application/octet-stream",
                                Metadata={"sha256": sha256})

    def _get(self, sha256: str) -> bytes | None:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=sha256)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        content: bytes = answer["Body"].read()
        return content

    async def _call(self, action: str, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except (BotoCoreError, ClientError) as exc:
            # Down, timing out, refusing our credentials, or without the bucket:
            # the caller can do nothing but retry; the log says which.
            log.warning("evidence store %s (bucket %s) could not %s: %s", self.endpoint,
                        self.bucket, action, exc)
            raise _unavailable(action) from exc

    async def exists(self, *, sha256: str) -> bool:
        """Whether the store has an object for this hash."""
        result: bool = await self._call("be read", self._exists, sha256)
        return result

    async def put(self, session: AsyncSession, *, sha256: str, content: bytes,
                  now: datetime) -> None:
        known = (await session.exec(select(EvidenceBlob.sha256).where(
            col(EvidenceBlob.sha256) == sha256))).first()
        if known is None:
            # Put-if-absent: an object already there (a concurrent upload of the
            # same file, or a commit that failed after its upload) is the same
            # bytes by construction, so it is neither rewritten nor an error.
            if not await self.exists(sha256=sha256):
                await self._call("store the file", self._put, sha256, content)
            insert = (pg_insert if session.get_bind().dialect.name == "postgresql"
                      else sqlite_insert)
            await session.exec(insert(EvidenceBlob).values(
                sha256=sha256, size=len(content), content=None, stored_at=now,
            ).on_conflict_do_nothing(index_elements=["sha256"]))

    async def get(self, session: AsyncSession, *, sha256: str) -> bytes | None:
        kept: bytes | None = (await session.exec(select(EvidenceBlob.content).where(
            col(EvidenceBlob.sha256) == sha256))).first()
        if kept is not None:
            return kept  # stored while the database store was in use
        content: bytes | None = await self._call("be read", self._get, sha256)
        if content is not None and hashlib.sha256(content).hexdigest() != sha256:
            # Evidence must be what was attached: bytes changed in the store are
            # not served as if they were.
            log.error("evidence object %s in bucket %s does not match its hash", sha256,
                      self.bucket)
            raise Unavailable("The stored evidence file does not match its SHA-256; it was "
                              "changed in the evidence store. An administrator must restore "
                              "it.")
        return content
