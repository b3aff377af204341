"""The schema seam: a dataset described as data (a Frictionless Tabular Data Resource or the
reflection of a live table), and the compiled row validator built from it.

- ``model``: ``Dataset``, ``Field``, ``Constraints``, ``Dialect``, ``Table``, ``LoadOptions``
- ``descriptor``: ``to_descriptor`` / ``from_descriptor`` (exact round trip) and ``fingerprint``
- ``from_file``: load ``NAME`` (from the datasets directory) or a path, YAML or JSON
- ``from_table``: reflect a PostgreSQL table; ``check_against_table``
- ``compile``: ``plan(dataset, header)`` -> ``Plan`` whose ``validate`` checks one record
- ``reasons``: the stable reject reason codes
- ``names``: header normalization, identifier allow-list, SQL quoting
"""
