"""Stages 1 and 2, load and check: the intent file -> a validated Topology, or diagnostics.

The model (``model.py``) is the single source of truth for the format: the JSON Schema
(``schema.py``) and docs/intent.md (``docs.py``) are generated from it. ``load.py`` and
``fastyaml.py`` read YAML with positions; ``structure.py`` turns pydantic's errors into
diagnostics; ``rules.py`` checks what spans more than one field; ``check.py`` runs them.
"""
