"""`python -m precredit.cli`: the console script."""

from precredit.cli import main

main()
