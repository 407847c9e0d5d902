"""Moved to :mod:`vae_lib.course.plots`; this alias keeps ``vae_lib.plots`` working."""

import sys as _sys

from .course import plots as _module

_sys.modules[__name__] = _module
