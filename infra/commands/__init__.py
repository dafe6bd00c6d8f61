"""The `earthsig` subcommands, one module per domain, each a thin adapter."""
