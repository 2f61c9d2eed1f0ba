"""Stage 3, plan: a checked Topology -> a Plan, the graph of what will exist.

``allocate.py`` hands out what the intent leaves open (addresses, VNIs, MACs) and keeps it
stable with the lock file; ``planner.py`` builds the Plan; ``reach.py`` answers reachability,
``expected.py`` the routing state each node must show, ``graph.py`` the networkx graph.
"""
