"""Example studies: each module registers one study with ``sweeps.register`` when imported.

    sweeps run iris             # the walkthrough's 18-task grid on the iris data
    sweeps run breast_cancer    # the same grid on the binary breast-cancer task
"""
