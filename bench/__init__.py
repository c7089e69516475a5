"""Benchmarks behind `make bench`: each module has run() -> dict of figures; __main__ prints them."""
