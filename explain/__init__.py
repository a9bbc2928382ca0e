"""perplex explain: worked examples of every computation (see explain/worked.py, explain/cli.py)."""
