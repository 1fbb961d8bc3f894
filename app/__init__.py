"""framecast: render HyperFrames HTML compositions to video, locally or over AWS Lambda.

Layers (dependencies point inward): ``engine`` <- ``distributed`` <- ``aws`` / ``local`` <- ``cli``.
"""

__version__ = "0.1.0"
