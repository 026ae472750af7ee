"""Cluster-robust covariance: the rows (loans, units of principal) of one deal share its frailties, so they are not
independent, and a pool-level covariate is identified by a few dozen pools, not by their borrowers."""
from __future__ import annotations

import numpy as np


def sum_by(index: np.ndarray, X: np.ndarray, n: int) -> np.ndarray:
    """Column sums of the rows of X by group (``index``: each row's group, 0..n-1): shape (n, columns)."""
    return np.stack([np.bincount(index, X[:, j], n) for j in range(X.shape[1])], axis=1)


def cluster_robust(bread: np.ndarray, scores: np.ndarray, index: np.ndarray, prior_precision: np.ndarray) -> np.ndarray:
    """bread (G/(G-1) sum_g s_g s_g' + P) bread: the sandwich with each cluster's summed score s_g (``index``: each
    row's cluster, 0..G-1; the CR1 factor for G clusters), plus the ridge's prior precision P, so a penalised
    coefficient keeps its prior's uncertainty where the data say little (with P = 0, the usual cluster-robust
    covariance)."""
    G = int(index.max()) + 1
    summed = sum_by(index, scores, G)
    meat = G / max(G - 1, 1) * summed.T @ summed + np.diag(prior_precision)
    return bread @ meat @ bread
