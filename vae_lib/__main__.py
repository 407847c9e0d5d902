"""``python -m vae_lib``: the command line (see ``vae_lib/cli.py``)."""

from .cli import main

raise SystemExit(main())
