"""Exact k-nearest-neighbour search over aligned patterns, vectorised (Dejavu's search kernel).

The database is one padded float32 matrix ``[x, ||x||²]`` (a row per pattern) and a chunk of
queries is ``[-2q, 1]``: one matrix product gives ``||x||² - 2x·q``, the squared distance less
the query's own constant ``||q||²``. Selection never sorts a whole column. Rows are scored one
block at a time (the block's scores stay in cache) and fall into groups of ``GROUP`` strided
rows, whose minima fall again into groups of ``GROUP``. The ``m`` smallest scores lie in the
``m`` groups with the smallest minima (a row of any other group is beaten by ``m`` distinct
group minima), so after the scan ``np.argpartition`` picks ``m`` top-level groups, then ``m`` of
their ``m * GROUP`` child groups, then ``m`` of their ``m * GROUP`` rows. No Python loop runs
over patterns. Neighbour distances are then recomputed exactly from their patterns and sorted
(ties by database position).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbalife.forecast.patterns import PATTERN_LENGTH

GROUP = 16  # rows per group, and groups per group, of the selection
LEVELS = 2  # levels of groups above the rows
CHUNK_QUERIES = 64  # queries searched together (measured best of 32, 64 and 128 at 10**6 rows)
CHUNK_BYTES = 256 * 2**20  # bound on a chunk's group minima and candidate arrays
BLOCK_BYTES = 2 * 2**20  # scores of one row block: small enough to stay in cache
WIDTH = PATTERN_LENGTH + 1  # index columns: x0..x18 and ||x||² (80-byte rows: 76 made BLAS 2x slower)
# Multiply-adds below which the scores skip BLAS. OpenBLAS's worker threads spin after each call
# and then fight torch's OpenMP threads: ModelSet.predict on one pattern with a 50,000-pattern
# database took 8.0 ms (p50, 2 cores) through BLAS and 1.45 ms through einsum; without BLAS the
# scores are summed column by column over a transposed copy of the index (0.30 ms against
# einsum's 0.84 ms at 50,000 rows), kept for databases that small (at most 16 MiB).
BLAS_MIN_PRODUCT = 1 << 22
_PAD = np.float32(1e30)  # squared-norm of padding rows: never among the neighbours


@dataclass(frozen=True)
class NeighbourIndex:
    """Aligned patterns ``(n, 19)`` float32, their padded ``[x, ||x||²]`` matrix and, for a
    database small enough to skip BLAS, the matrix's transpose (else None)."""

    patterns: np.ndarray
    matrix: np.ndarray
    columns: np.ndarray | None

    @classmethod
    def build(cls, patterns: np.ndarray) -> NeighbourIndex:
        """The index of C-contiguous float32 aligned ``patterns``."""
        matrix = _index_matrix(patterns)
        small = len(matrix) * WIDTH < BLAS_MIN_PRODUCT
        return cls(patterns, matrix, np.ascontiguousarray(matrix.T) if small else None)

    def search(self, queries: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Euclidean distances (float32) and positions of the ``m`` nearest patterns of each
        aligned query, ``(n, m)`` each, nearest first (ties by position)."""
        n = len(queries)
        rows = len(self.matrix)
        levels = _levels(rows, m)
        candidates_per_query = m * GROUP if levels else rows
        per_query = 4 * (candidates_per_query * WIDTH + (rows // GROUP if levels else 0))
        chunk = max(1, min(n, CHUNK_QUERIES, CHUNK_BYTES // per_query))
        weights = np.empty((WIDTH, n), dtype=np.float32)
        weights[:PATTERN_LENGTH] = -2.0 * queries.T
        weights[PATTERN_LENGTH] = 1.0
        distances = np.empty((n, m), dtype=np.float32)
        indices = np.empty((n, m), dtype=np.int64)
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            block = np.ascontiguousarray(weights[:, start:stop])
            if levels:
                candidates = _top_rows(_group_minima(self.matrix, self.columns, block, levels), m)
            else:  # a small database: every row is a candidate
                candidates = np.broadcast_to(np.arange(rows), (stop - start, rows))
            found = _best_rows(self.matrix, block, candidates, m)
            distances[start:stop], indices[start:stop] = self._exact(queries[start:stop], found)
        return distances, indices

    def _exact(self, queries: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact distances of the found neighbours, sorted by (distance, index)."""
        diff = self.patterns[found] - queries[:, None, :]
        squared = np.einsum("qkd,qkd->qk", diff, diff)
        order = np.lexsort((found, squared), axis=-1)
        return (np.sqrt(np.take_along_axis(squared, order, axis=1)),
                np.take_along_axis(found, order, axis=1))


def _levels(rows: int, m: int) -> int:
    """Levels of groups (at most ``LEVELS``) that leave at least ``m`` groups at the top."""
    levels = 0
    while levels < LEVELS and rows // GROUP ** (levels + 1) >= m:
        levels += 1
    return levels


def _index_matrix(patterns: np.ndarray) -> np.ndarray:
    """``[x, ||x||²]`` rows, padded with rows that never match to a multiple of
    ``GROUP ** LEVELS`` so that every block splits evenly into groups at every level."""
    n = len(patterns)
    unit = GROUP**LEVELS
    matrix = np.zeros((-(-n // unit) * unit, WIDTH), dtype=np.float32)
    matrix[:n, :PATTERN_LENGTH] = patterns
    matrix[:n, PATTERN_LENGTH] = np.einsum("nd,nd->n", patterns, patterns)
    matrix[n:, PATTERN_LENGTH] = _PAD
    return matrix


@dataclass(frozen=True)
class _GroupMinima:
    """Per level (rows first), each group's minimum score, ``(groups, queries)``; blocks of
    ``block_rows`` rows (the last may be shorter) hold their groups in strided slices."""

    minima: list[np.ndarray]
    rows: int
    block_rows: int


def _group_minima(index: np.ndarray, columns: np.ndarray | None, weights: np.ndarray,
                  levels: int) -> _GroupMinima:
    """Score ``index`` (``columns``: its transpose, or None) against the queries' ``weights``
    block by block, keeping only the minimum of each group at each of ``levels`` levels."""
    rows, width = len(index), weights.shape[1]
    unit = GROUP**LEVELS
    block_rows = min(rows, max(unit, BLOCK_BYTES // (4 * width) // unit * unit))
    minima = [np.empty((rows // GROUP**level, width), dtype=np.float32)
              for level in range(1, levels + 1)]
    scores = np.empty((block_rows, width), dtype=np.float32)
    use_blas = columns is None or rows * width * WIDTH >= BLAS_MIN_PRODUCT
    for start in range(0, rows, block_rows):
        size = min(block_rows, rows - start)
        below = scores[:size]
        if use_blas:
            np.matmul(index[start:start + size], weights, out=below)
        else:  # no BLAS threads left spinning (see BLAS_MIN_PRODUCT)
            np.multiply(columns[0, start:start + size, None], weights[0], out=below)
            for column, weight in zip(columns[1:, start:start + size], weights[1:]):
                below += column[:, None] * weight
        for level, out in enumerate(minima, start=1):
            groups = size // GROUP**level
            offset = start // GROUP**level
            np.minimum.reduce(below.reshape(GROUP, groups, width), axis=0,
                              out=out[offset:offset + groups])
            below = out[offset:offset + groups]
    return _GroupMinima(minima, rows, block_rows)


def _top_rows(groups: _GroupMinima, m: int) -> np.ndarray:
    """Rows ``(queries, m * GROUP)`` that hold the ``m`` smallest scores of each query: the
    ``m`` top-level groups with the smallest minima, then level by level the ``m`` best of
    their children, then the children's rows."""
    chosen = _smallest(groups.minima[-1].T, m)
    for level in range(len(groups.minima), 1, -1):
        children = _children(chosen, level, groups)
        below = groups.minima[level - 2]  # (groups, queries), C order: gather from the flat array
        values = below.ravel().take(children * below.shape[1] + np.arange(below.shape[1])[:, None])
        chosen = np.take_along_axis(children, _smallest(values, m), axis=1)
    return _children(chosen, 1, groups)


def _children(chosen: np.ndarray, level: int, groups: _GroupMinima) -> np.ndarray:
    """The ``GROUP`` members (groups of ``level - 1``, or rows at level 1) of each chosen
    group of ``level``, ``(queries, chosen * GROUP)``. In a block of ``size`` rows, group ``j``
    holds members ``j + i * size // GROUP**level`` (``i < GROUP``) of the block."""
    per_block = groups.block_rows // GROUP**level
    block, j = np.divmod(chosen, per_block)
    size = np.minimum(groups.block_rows, groups.rows - block * groups.block_rows)
    stride = size // GROUP**level
    first = block * (groups.block_rows // GROUP ** (level - 1)) + j
    members = first[:, :, None] + stride[:, :, None] * np.arange(GROUP)
    return members.reshape(len(chosen), -1)


def _best_rows(index: np.ndarray, weights: np.ndarray, candidates: np.ndarray,
               m: int) -> np.ndarray:
    """The ``m`` candidate rows of each query with the smallest scores, in no order."""
    scores = np.matmul(index.take(candidates, axis=0), weights.T[:, :, None])[:, :, 0]
    return np.take_along_axis(candidates, _smallest(scores, m), axis=1)


def _smallest(values: np.ndarray, m: int) -> np.ndarray:
    """Positions of the ``m`` smallest values in each row of ``values``, in no order."""
    if values.shape[1] == m:
        return np.broadcast_to(np.arange(m), values.shape)
    return np.argpartition(values, m - 1, axis=1)[:, :m]
