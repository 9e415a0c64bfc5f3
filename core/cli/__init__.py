"""`python -m core`: one module per subcommand, each registering its own parser."""
