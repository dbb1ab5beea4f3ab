"""A provider written for the older plugin API (what provider-variant-x86-64 0.0.1.post2 on PyPI
implements): the package has no hooks, its ``variant_plugins`` entry point names a class that
must be instantiated, ``get_supported_configs`` takes ``known_properties``, and there is no
``get_all_configs`` (``validate_property`` instead)."""
