"""The verifier wing, off the build path: captured router output compared with the expected
state (``capture.py``, ``compare.py``) and rendered manifests checked against Kubernetes and
CRD schemas (``kubeschema.py``, ``manifests.py``)."""
