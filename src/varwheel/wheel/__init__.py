"""Wheel and sdist formats: filenames (with variant labels), tags, RECORD, archive writers."""
