"""Bottom layer, no third-party imports beyond numpy: :mod:`errors` (typed errors every front end
shows), :mod:`paths` (where everything lives), :mod:`progress` (the runner protocol),
:mod:`atomic` (the one way a file is replaced), :mod:`hashing`, :mod:`palette` (data colours of
the app and the report).
"""
