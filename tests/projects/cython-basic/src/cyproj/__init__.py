"""A Cython project built by varwheel."""
