"""``s3://BUCKET/KEY`` (optionally ``?versionId=V``) through s3fs.

Credentials come from botocore's usual chain: ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` (/ ``AWS_SESSION_TOKEN``), ``AWS_PROFILE`` and the shared config
files, then instance roles. The store is AWS unless ``SourceOptions.s3_endpoint_url``
(``--s3-endpoint-url``) names an S3-compatible one; without it botocore also reads
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``.

Identity: an object of a versioned bucket is its version id, one of an unversioned bucket its
ETag plus size, both hashed with ``s3://BUCKET/KEY`` (``remote.object_identity``). A
single-part upload's ETag is the MD5 of its bytes, a multipart upload's (``...-N``) is not a
content hash (an MD5 of the parts' MD5s): the same bytes uploaded in other parts give another
ETag, so another job. Reads carry ``If-Match: ETag`` (s3fs; GetObject permission is enough):
an object overwritten during the run, a new version too, is FileChanged at its next ranged
read. A URL that names ``?versionId=V`` reads that version (s3:GetObjectVersion permission):
a newer version uploaded during the run does not disturb it, and ``state()`` asks nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import s3fs  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)
from s3fs.utils import FileExpired  # type: ignore[import-untyped]

from libs.errors import IngestError, SourceInterrupted, UserError
from libs.sources.base import SourceOptions
from libs.sources.remote import (
    BLOCK_BYTES,
    Meta,
    NotFound,
    RemoteSource,
    object_identity,
    unresolvable,
)

# botocore's own retries of one request; ours (RemoteSource.retrying) come on top.
BOTO_CONFIG: Final = {"connect_timeout": 10, "read_timeout": 60,
                      "retries": {"max_attempts": 3, "mode": "standard"}}
NOT_FOUND: Final = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NotFound"})
REFUSED: Final = frozenset({"403", "401", "AccessDenied", "InvalidAccessKeyId",
                            "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                            "AccountProblem", "AllAccessDisabled"})
CHANGED: Final = frozenset({"412", "PreconditionFailed"})
CREDENTIALS: Final = ("check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                      "AWS_PROFILE) and the bucket's policy")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from (at most 8)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


class S3Source(RemoteSource):
    """An S3 object (see the module)."""

    def __init__(self, location: str, options: SourceOptions | None = None) -> None:
        super().__init__(location, options)
        parts = urlsplit(location)
        if parts.username is not None or parts.password is not None:
            raise UserError(f"--file {self.display}: an s3:// URL takes no user or password: "
                            "credentials come from AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
        self.bucket, self.key = parts.netloc, unquote(parts.path.lstrip("/"))  # %23 is '#'
        query = parse_qs(parts.query, keep_blank_values=True)
        if not self.bucket or not self.key or self.key.endswith("/"):
            raise UserError(f"--file {self.display}: expected s3://BUCKET/KEY")
        if set(query) - {"versionId"} or len(query.get("versionId", [""])) != 1:
            raise UserError(f"--file {self.display}: the only query an s3:// URL takes is "
                            "?versionId=V")
        self.version: str | None = query["versionId"][0] if query else None
        self.display = f"s3://{self.bucket}/{self.key}" + (
            f"?versionId={self.version}" if self.version else "")
        self.path = f"{self.bucket}/{self.key}"
        endpoint = self.options.s3_endpoint_url
        self.host = (urlsplit(endpoint).hostname or "") if endpoint else ""
        self._fs: Any = None

    def _filesystem(self) -> Any:
        if self._fs is None:
            self._fs = s3fs.S3FileSystem(
                version_aware=self.version is not None,
                endpoint_url=self.options.s3_endpoint_url,
                default_block_size=BLOCK_BYTES, config_kwargs=BOTO_CONFIG,
                skip_instance_cache=True)
        return self._fs

    def _stat(self) -> Meta:
        fs = self._filesystem()
        fs.invalidate_cache(self.path)
        info = fs.info(self.path, version_id=self.version)
        size, etag = int(info["size"]), str(info.get("ETag", ""))
        version = str(info.get("VersionId") or "")
        where = f"s3://{self.path}"
        if version and version != "null":
            return Meta(size, ("version", version, etag, str(size)),
                        object_identity("s3-version-id", where, ("version", version), size),
                        stable=self.version is not None)
        if not etag:
            return Meta(size, ("size", str(size)), None)
        token = ("etag", etag, str(size))
        return Meta(size, token, object_identity("s3-etag", where, token, size))

    def _open_file(self, meta: Meta) -> Any:
        fs = self._filesystem()
        if meta.stable:
            return fs.open(self.path, "rb", block_size=BLOCK_BYTES, cache_type="none",
                           version_id=meta.token[1])
        fs.invalidate_cache(self.path)
        handle = fs.open(self.path, "rb", block_size=BLOCK_BYTES, cache_type="none")
        etag = meta.token[2] if meta.token[0] == "version" else meta.token[1]
        if meta.token[0] != "size" and handle.details.get("ETag") != etag:
            handle.close()  # s3fs pins its reads to the ETag it saw when opening (If-Match)
            raise self.changed("its ETag is not the one the run started with")
        return handle

    def _reset(self) -> None:
        self._fs = None

    def _translate(self, exc: BaseException) -> IngestError | None:
        for error in _chain(exc):
            if isinstance(error, FileExpired):
                return self.changed("S3 refused a read: its ETag is not the one the run "
                                    "started with")
            if isinstance(error, ClientError):
                return self._client_error(error)
            if isinstance(error, NoCredentialsError | PartialCredentialsError):
                return UserError(f"{self.display}: no AWS credentials found: set "
                                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
            if isinstance(error, EndpointConnectionError):
                return self._unreachable(error)
            if isinstance(error, ParamValidationError):  # a bad bucket name: the URL is wrong
                return UserError(f"{self.display}: {self.scrub(str(error))}")
            if isinstance(error, BotoCoreError):
                return SourceInterrupted(f"{self.display}: {type(error).__name__}: "
                                         f"{self.scrub(str(error))}")
        if isinstance(exc, FileNotFoundError):
            return NotFound(f"{self.display}: no such object")
        if isinstance(exc, PermissionError):
            return UserError(f"{self.display}: S3 refused access: {CREDENTIALS}")
        return None

    def _client_error(self, error: ClientError) -> IngestError:
        answer = error.response or {}
        code = str(answer.get("Error", {}).get("Code", ""))
        status = int(answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in NOT_FOUND or status == 404:
            return NotFound(f"{self.display}: no such object (S3 answered {code or status})")
        if code in REFUSED or status in (401, 403):
            return UserError(f"{self.display}: S3 refused access ({code or status}): "
                             f"{CREDENTIALS}")
        if code in CHANGED or status == 412:
            return self.changed("S3 refused a read: its ETag is not the one the run started "
                                "with")
        text = f"{self.display}: S3 answered {code or status}: {self.scrub(str(error))}"
        return SourceInterrupted(text) if status >= 500 or status in (408, 429) \
            or code in ("SlowDown", "RequestTimeout") else UserError(text)

    def _unreachable(self, error: EndpointConnectionError) -> IngestError:
        endpoint = str(getattr(error, "kwargs", {}).get("endpoint_url", ""))
        host = self.host or urlsplit(endpoint).hostname or ""
        self.host = host
        if host and unresolvable(host):
            return UserError(f"{self.display}: unknown host {host} (the S3 endpoint)")
        return SourceInterrupted(f"{self.display}: cannot connect to the S3 endpoint "
                                 f"{host or '(default)'}")
