"""`nb-compare`: the port team's comparison command (their AT-TOOLS-001) with nbparity's engines and bundle.

metrics: their figures (Pearson r, MSE, RMSE, max |Δ|, sums, ratio, peak distances); previews: the PNGs;
locate: which programs run; command: the command line, the runs, the artefact folder and the exit codes.
"""
