# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Energy functions and the Boltzmann distribution
#
# PLACEHOLDER while the chapter is written. Inline math $p(x) = e^{-E(x)/T} / Z$ and display math:
#
# $$
# Z = \int e^{-E(x)/T}\,\mathrm{d}x .
# $$
#
# !!! note "An admonition"
#     With $\mathbf{x} \in \mathbb{R}^d$.

# %%
import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(-2, 2, 200)
plt.plot(x, (x**2 - 1) ** 2)
plt.show()

# %% tags=["solution"]
print("this is a solution cell")
