"""``POST /v1/jobs`` with an ``ftp://`` or ``s3://`` URL (api/fetch.py, api/remote_fetch.py):
the FTP host passes INGEST_URL_ALLOW as an HTTP host does, an S3 bucket must be listed as
``s3://BUCKET``; the file is stored under its content address, the password never answered
nor logged."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.apiserver import assert_problem, start_api
from tests.pipeline import ROOT
from tests.source_servers import (
    FTP_PASSWORD,
    S3_SECRET,
    ftp_server,
    s3_client,
    s3_env,
    s3_server,
)

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "data" / "customers_sample.csv"


def test_ftp_and_s3_urls_are_fetched_when_allowed(tmp_path: Path, service_env: dict[str, str],
                                                  clean_tables: None) -> None:
    shutil.copy(SAMPLE, tmp_path / "c.csv")
    digest = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    with ftp_server(tmp_path) as ftp, s3_server() as s3:
        client = s3_client(s3.endpoint)
        client.create_bucket(Bucket="drop-ok")
        client.create_bucket(Bucket="drop-other")
        client.put_object(Bucket="drop-ok", Key="c.csv", Body=SAMPLE.read_bytes())
        env = {**service_env, **s3_env(s3.endpoint), "AWS_ENDPOINT_URL": s3.endpoint}
        api = start_api(tmp_path / "a", env, INGEST_URL_ALLOW="localhost, s3://drop-ok")
        password = quote(FTP_PASSWORD, safe="")
        try:
            with api.client() as http:
                for url in (f"ftp://loader:{password}@localhost:{ftp.port}/c.csv",
                            "s3://drop-ok/c.csv"):
                    answer = http.post("/v1/jobs", json={"url": url, "dataset": "customers"})
                    assert answer.status_code == 202, answer.text
                assert [p.name for p in api.uploads.iterdir()] == [digest]  # one content

                refusals = {
                    f"ftp://loader:{password}@127.0.0.1:{ftp.port}/c.csv": "not in INGEST_URL",
                    f"ftp://loader:{password}@localhost:{ftp.port}/none.csv": "not found",
                    f"ftp://loader:Bad-Pass-456@localhost:{ftp.port}/c.csv": "refused the login",
                    "s3://drop-other/c.csv": "bucket drop-other is not in INGEST_URL_ALLOW",
                    "s3://drop-ok/none.csv": "no such object",
                }
                for url, message in refusals.items():
                    answer = http.post("/v1/jobs", json={"url": url, "dataset": "customers"})
                    assert message in assert_problem(answer, 422)["detail"], url
                    assert FTP_PASSWORD not in answer.text
                    assert password not in answer.text
                    assert "Bad-Pass-456" not in answer.text
        finally:
            run = api.stop()
    for secret in (FTP_PASSWORD, password, "Bad-Pass-456", S3_SECRET):
        assert secret not in run.stderr
