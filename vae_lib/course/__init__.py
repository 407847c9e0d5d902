"""Course machinery: what the lessons and instructors use around the core of ``vae_lib``.

The core a student reads beside the lessons (models, losses, reparameterization, training,
evaluation, latent tools) lives one level up; this subpackage holds the rest:

- :mod:`~vae_lib.course.checks`: instant feedback for the exercises;
- :mod:`~vae_lib.course.assign`: student copies of the master notebooks;
- :mod:`~vae_lib.course.widgets` and :mod:`~vae_lib.course.explorer`: the interactive figures;
- :mod:`~vae_lib.course.plots`: the lessons' figures.

The old import paths keep working: ``from vae_lib import checks, plots, widgets``.
Importing this package imports none of its modules (matplotlib and ipywidgets load only
when asked for).
"""
