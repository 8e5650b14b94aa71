"""Quality benchmark for jewelmask: synthetic packshots with exact alpha, metrics, runner.

``bench.synth`` renders the scenes, ``bench.metrics`` scores a predicted alpha
against the ground truth, ``bench.methods`` lists the methods under test and
``bench.run`` (``python -m bench.run``) ties them together. See bench/README.md.
"""
