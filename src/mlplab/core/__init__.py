"""The plain core: layers, activations, losses, optimizers and the rest, each written as the textbook does.

Nothing here imports the engine, the files, or any outer part; `mlplab.model` puts these parts together
and hands the speed to `mlplab.engine`.
"""
