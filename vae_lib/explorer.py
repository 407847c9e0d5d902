"""Moved to :mod:`vae_lib.course.explorer`; this alias keeps ``vae_lib.explorer`` working."""

import sys as _sys

from .course import explorer as _module

_sys.modules[__name__] = _module
