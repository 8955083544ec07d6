"""The one place GAS creates boto3 clients (SQS, S3 for cold storage and set-up, SES checks).

Every client honours ``AWS_ENDPOINT_URL`` (via settings) so the same code talks to AWS or to
any compatible endpoint, such as a moto server in the end-to-end test.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def aws_client(service: str, *, region_name: str | None = None, endpoint_url: str | None = None,
               config: Config | None = None) -> Any:  # fmt: skip
    return boto3.client(service, region_name=region_name, endpoint_url=endpoint_url or None, config=config)
