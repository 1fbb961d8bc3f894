"""The AWS adapter: the Lambda function and everything that talks to S3.

``handler`` is the entry point (``python -m awslambdaric app.aws.handler.handler``): it validates the
event, checks the bucket allowlist and dispatches on ``event["Action"]`` (plan, renderChunk,
assemble) to ``actions``, which download, call the pure activities of ``app.distributed`` and upload.
``events`` holds the wire models, ``s3_uri`` URI parsing and the allowlist, ``s3_transport`` is the
only module that speaks boto3, ``archive`` packs and safely unpacks project tarballs, and
``settings`` reads the ``FRAMECAST_*`` environment.
"""
