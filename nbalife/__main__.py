"""``python -m nbalife`` runs the CLI."""

from nbalife.cli.app import main

main()
