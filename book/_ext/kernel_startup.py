"""Run by every kernel the book build starts (PYTHONSTARTUP, set by course_site.py).

Figures come out as 2x PNG ("retina": twice the pixels, shown at the same size), so they are
sharp on high-density screens without any lesson having to ask for it. Outside the build
(Jupyter, nbval) nothing runs this file.
"""

try:
    from IPython import get_ipython

    _ip = get_ipython()
    if _ip is not None:
        _ip.run_line_magic("config", "InlineBackend.figure_formats = ['retina']")
    del _ip
except Exception:  # never break a lesson because of a display preference
    pass
