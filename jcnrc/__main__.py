"""`python -m jcnrc`: the same command line as the `jcnrc` script."""

from jcnrc.cli import main

main()
