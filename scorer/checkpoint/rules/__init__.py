"""The validation rules, one module per part of a checkpoint; validate.py runs them in order."""
