"""jcnrc: a declarative topology compiler for Juniper's cloud-native router on Kubernetes.

The pipeline, one module per stage: load -> check -> plan -> render -> write.
"""

__version__ = "0.2.2"
