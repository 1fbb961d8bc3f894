"""Integration fixtures: real servers over HTTP (moto always, LocalStack when Docker answers)."""

from tests.support.s3_backends import s3_endpoint

__all__ = ["s3_endpoint"]
