"""Orchestration without AWS: RIE backend (HTTP) and the process-pool backend.

``app.local.rie`` drives Lambda Runtime Interface Emulator endpoints over HTTP (the function does the
work, S3 holds the files); ``app.local.pool`` runs the distributed activities in local processes.
Import the submodule you need: this package imports neither, so the pool backend never pulls in boto3.
"""
