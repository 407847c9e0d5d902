"""Moved to :mod:`vae_lib.course.widgets`; this alias keeps ``vae_lib.widgets`` working."""

import sys as _sys

from .course import widgets as _module

_sys.modules[__name__] = _module
