"""The toolkit's one error type.

Every error a user can cause (bad file, bad option, corrupt model) is raised as
:class:`PerplexError` with a one-line message that names the bad value and says
what to do.  ``cli.py`` prints it as ``perplex: error: <message>`` and exits 1,
so no user ever sees a traceback for their own mistake.
"""


class PerplexError(ValueError):
    """A user-facing error: bad input, bad option, or a corrupt file.

    It subclasses ``ValueError`` so that code catching the built-in type still
    catches it (as scikit-learn's ``NotFittedError`` does).
    """
