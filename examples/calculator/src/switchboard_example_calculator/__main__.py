"""`python -m switchboard_example_calculator` serves over stdio, like the console script."""

from switchboard_example_calculator.server import main

main()
