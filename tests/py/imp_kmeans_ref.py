#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reference for tests/test_bricks.c: writes clustering data sets and scikit-learn's results.

usage: imp_kmeans_ref.py OUTDIR N_INIT
For each data set NAME writes OUTDIR/km_NAME.npz with
  x      f8 [n, d]   the points (float64, C order)
  k      i4 []       clusters to fit
  labels i4 [n]      scikit-learn KMeans labels (for the silhouette check)
and prints one line per data set:  NAME k inertia silhouette_of_sklearn_labels
"""
import sys

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.metrics import silhouette_score


def datasets():
    rng = np.random.RandomState(7)
    x, _ = make_blobs(n_samples=600, n_features=4, centers=5, cluster_std=1.3, random_state=3)
    yield "blobs", x, 5
    yield "uniform", rng.uniform(-1, 1, size=(500, 3)), 4
    # anisotropic, unequal-size clusters with an outlier tail
    a = rng.normal(size=(300, 2)) @ np.array([[0.6, -0.6], [-0.4, 0.8]])
    b = rng.normal(size=(120, 2)) * 0.3 + [3, 1]
    c = rng.standard_t(3, size=(80, 2)) + [-2, 4]
    yield "aniso", np.vstack([a, b, c]), 3
    iris = load_iris().data
    yield "iris", (iris - iris.mean(0)) / iris.std(0), 3
    wine = load_wine().data
    yield "wine", (wine - wine.mean(0)) / wine.std(0), 4
    yield "highdim", rng.normal(size=(400, 16)) + np.repeat(rng.normal(scale=3, size=(4, 16)), 100, axis=0), 6


def main():
    out, n_init = sys.argv[1], int(sys.argv[2])
    for name, x, k in datasets():
        x = np.ascontiguousarray(x, dtype=np.float64)
        km = KMeans(n_clusters=k, n_init=n_init, init="k-means++", algorithm="lloyd",
                    random_state=0).fit(x)
        labels = km.labels_.astype(np.int32)
        sil = silhouette_score(x, labels)
        np.savez(f"{out}/km_{name}.npz", x=x, k=np.array(k, dtype=np.int32), labels=labels)
        print(name, k, repr(float(km.inertia_)), repr(float(sil)))


if __name__ == "__main__":
    main()
