"""The AWS adapter: the Lambda handler and everything that talks to S3.

``handler`` dispatches one container-image Lambda function on ``event["Action"]`` (plan, renderChunk,
assemble); ``events`` holds the wire models; ``s3_transport`` is the only module that speaks boto3;
``archive`` packs and safely unpacks project tarballs; ``settings`` reads the ``FRAMECAST_``
environment. The activities themselves live in ``app.distributed`` and know nothing about AWS.
"""
