"""wheelfleet's benchmarks: run them with ``bench/run`` (see ``bench/README.md``).

``harness`` runs and measures commands (wall time, the controller's process
tree, the machine's load) and cleans up; ``sections`` holds the five
benchmarks; ``main`` parses the arguments and writes the results. The figures,
ratios and tables come from ``wheelfleet.bench``, which needs no host.
"""
