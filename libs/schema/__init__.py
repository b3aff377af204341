"""The schema seam: a dataset described as data (a Frictionless Tabular Data Resource or the
reflection of a live table), and the row validator compiled from it.

- ``model``: ``Dataset``, ``Field``, ``Constraints``, ``Dialect``, ``Table``, ``LoadOptions``
- ``descriptor`` (+ ``descriptor_fields``): ``to_descriptor`` / ``from_descriptor`` (exact
  round trip) and ``fingerprint``
- ``from_file``: ``load(NAME | PATH)`` from the datasets directory, YAML or JSON; ``known()``
- ``from_table``: ``reflect`` a PostgreSQL table, ``to_dataset``, ``check_against_table``
  (+ ``pgtypes``: column types <-> Table Schema types)
- ``compile``: ``plan(dataset, header)`` -> ``Plan``; ``Plan.validate(fields, tail)``
- ``cells`` (one closure per field), ``types``, ``temporal``, ``formats``, ``constraints``:
  the rules of each type, format and constraint
- ``reasons``: the stable reject reason codes
- ``names``: header normalization, identifier allow-list, SQL quoting
"""
