"""Root pytest configuration: draw figures off-screen so doctests and tests never need a display."""

import matplotlib

matplotlib.use("Agg")
