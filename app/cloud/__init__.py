"""The user's machine talking to AWS: stack state, image, deploy, sites, renders (the ``framecast lambda`` client).

Nothing here runs inside the Lambda function (that is ``app.aws``); this layer may import ``app.aws``
for wire models and the S3 transport, never the other way round.
"""
