"""The one range of random seeds: what numpy's ``RandomState`` (gensim seeds one) takes,
0 .. 2**32 - 1; torch takes all of them too.  Every ``--seed`` and every config checks
against it, so a seed that works for one model works for all."""

MAX_SEED = 2**32 - 1


def seed_in_range(value) -> bool:
    """True for a whole number a seed can be (bools are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEED
