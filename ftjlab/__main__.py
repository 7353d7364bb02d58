"""``python -m ftjlab`` is the ``ftjlab`` command."""

from ftjlab import interrupts

interrupts.install()  # before the imports: Ctrl-C / SIGTERM end even start-up through Python

from ftjlab.cli import main  # noqa: E402

raise SystemExit(main())
