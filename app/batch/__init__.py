"""render-batch: one composition, one JSONL row per render, here or on Lambda.

``batch_file`` validates the input (every problem at once, with line numbers), ``manifest`` keeps the
crash-safe record of every row, ``dispatch`` runs rows under a concurrency cap with interrupt and
resume handling, and ``local_backend`` / ``cloud_backend`` do the renders.
"""
