"""Distributed rendering primitives: plan → render_chunk → assemble.

Pure functions over local paths; no network, no AWS (S3 and Lambda live in app/aws).
"""

from app.distributed.assemble import AssembleResult, assemble
from app.distributed.config import RenderConfig
from app.distributed.plan import PlanResult, plan
from app.distributed.render_chunk import ChunkResult, render_chunk

__all__ = ["AssembleResult", "ChunkResult", "PlanResult", "RenderConfig", "assemble", "plan", "render_chunk"]
