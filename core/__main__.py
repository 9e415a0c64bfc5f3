"""`python -m core`: the command-line interface."""
import sys

from core.cli.main import main

sys.exit(main())
