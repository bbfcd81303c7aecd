"""`python -m switchboard_example_pypi_info` serves over stdio, like the console script."""

from switchboard_example_pypi_info.server import main

main()
