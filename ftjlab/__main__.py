"""``python -m ftjlab`` is the ``ftjlab`` command."""

from ftjlab.cli import main

raise SystemExit(main())
