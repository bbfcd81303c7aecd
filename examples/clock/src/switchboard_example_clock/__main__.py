"""`python -m switchboard_example_clock` serves over stdio, like the console script."""

from switchboard_example_clock.server import main

main()
