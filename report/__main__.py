"""`python -m report`: the report layer's command line (report/cli.py)."""
import sys

from report.cli import main

sys.exit(main())
