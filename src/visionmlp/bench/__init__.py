"""Measuring models: cost (``flops``), timing and memory (``throughput``), the matmul bound
(``roofline``), one model's full benchmark (``run``) and the side-by-side timm comparison (``compare``).

``visionmlp benchmark`` (``cli/benchmark.py``) is the command over these.
"""
