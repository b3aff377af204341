"""What the API reads and answers: the job options (as the producer's), the URL request, the
202 answer; and the OpenAPI description of ``POST /v1/jobs``'s two bodies."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

# A dataset NAME of the datasets directory: never a path (no / or .), shorter than a digest.
DATASET_NAME: Final = r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$"
MODES = Literal["insert", "upsert", "merge", "replace"]
# libs.formats.FORMATS and COMPRESSIONS as types (tests/test_api_units.py checks they agree).
FORMATS = Literal["csv", "jsonl", "parquet"]
COMPRESSIONS = Literal["auto", "none", "gzip", "zstd"]


class JobOptions(BaseModel):
    """The producer's options a client may set (``producer --help`` says what each does)."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(pattern=DATASET_NAME, description="A dataset of the datasets "
                                                           "directory (producer --dataset).")
    mode: MODES | None = Field(None, description="Load mode; default: the dataset's.")
    atomic: bool = False
    max_errors: int | None = Field(None, ge=0, le=2**31 - 1)
    max_error_ratio: float | None = Field(None, ge=0, le=1)
    batch_size: int | None = Field(None, ge=1, le=1_000_000)
    batch_bytes: int | None = Field(None, ge=1, le=2**31 - 1)
    delimiter: str | None = Field(None, min_length=1, max_length=2)
    quote_char: str | None = Field(None, min_length=1, max_length=1)
    escape_char: str | None = Field(None, min_length=1, max_length=1)
    encoding: str | None = Field(None, min_length=1, max_length=20)
    no_header: bool = False
    format: FORMATS | None = Field(None, description="csv, jsonl or parquet; default: guessed "
                                                     "from the file's name (producer --format).")
    compression: COMPRESSIONS | None = Field(None, description="gzip, zstd or none; default: "
                                                               "guessed from the file's name.")

    def producer_args(self) -> list[str]:
        """The options as ``python -m producer`` arguments (``--name=value``: a value that
        starts with ``-`` is never read as an option)."""
        args = [f"--dataset={self.dataset}"]
        for name, value in self.model_dump(include=set(JobOptions.model_fields) - {"dataset"}
                                           ).items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is not None and value is not False:
                args.append(f"{flag}={value}")
        return args


class UrlJob(JobOptions):
    """``POST /v1/jobs`` with a JSON body: the file is fetched from ``url`` (http, https or
    ftp, its host in INGEST_URL_ALLOW; s3, its bucket listed as s3://BUCKET)."""

    url: str = Field(min_length=1, max_length=8192)
    name: str | None = Field(None, max_length=255, description="The job's source name "
                                                               "[default: the URL's last "
                                                               "path segment].")


class JobAccepted(BaseModel):
    """The 202 answer: the job, where to follow it, and its totals once the producer has
    sealed it (null before)."""

    job_id: str
    status_url: str
    state: str
    records: int | None
    batches: int | None
    batch_size: int | None


def request_digest(source: dict[str, Any], options: JobOptions) -> str:
    """sha256 of what was asked (the source and the options, canonical JSON): two requests
    under one Idempotency-Key must have the same digest."""
    asked = {"source": source, "options": options.model_dump(exclude={"url", "name"})}
    text = json.dumps(asked, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _multipart_schema() -> dict[str, Any]:
    schema = JobOptions.model_json_schema()
    schema["properties"] = {"file": {"type": "string", "format": "binary",
                                     "description": "The CSV file."}, **schema["properties"]}
    schema["required"] = ["file", *schema.get("required", [])]
    return schema


def post_jobs_openapi() -> dict[str, Any]:
    """``openapi_extra`` of ``POST /v1/jobs``: a multipart upload or a JSON body with a URL."""
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": _multipart_schema()},
        "application/json": {"schema": UrlJob.model_json_schema()}}},
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        "description": "A retried POST with the same key returns the same "
                                       "job; another request under it is refused (422)."}]}
