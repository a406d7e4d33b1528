"""CLI subcommands, one module each; see ``seqlm.cli.COMMANDS``."""
