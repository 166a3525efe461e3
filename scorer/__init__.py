"""The LUME judge: formats, metrics, the official score and its CLI (``lume-score``).

This package is the trust boundary: it imports nothing from ``baselines`` or
``starter_kit`` so organizers can install and audit it alone.
"""

__version__ = "0.1.0"
