"""Objective evaluation of UniFLG (the paper's Table 1): landmark distances, DTW, MCD, RTF, tables."""
