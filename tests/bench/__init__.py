"""The benchmark behind ``make bench`` (``python -m tests.bench``): kept with the
tests, out of the installed package, since nothing but measurement uses it."""
