"""Dejavu: the analog (k-nearest-neighbour) forecaster over a database of past patterns.

Kang, Spiliotis, Petropoulos et al., "Déjà vu: A data-centric forecasting approach through time
series cross-similarity" (J. Business Research, 2021): align every pattern to its last value,
find the k most similar histories, aggregate what happened next, add the last value.

Search is exact and vectorised. The database is one padded float32 matrix ``[x, ||x||²]``
(a row per pattern) and a chunk of queries is ``[-2q, 1]``: one matrix product gives ``||x||² - 2x·q``, the squared distance less the
query's own constant ``||q||²``. Selection never sorts a whole column. Rows are scored one
block at a time (the block's scores stay in cache) and fall into groups of ``GROUP`` strided
rows, whose minima fall again into groups of ``GROUP``. The ``m`` smallest scores lie in the
``m`` groups with the smallest minima (a row of any other group is beaten by ``m`` distinct
group minima), so after the scan ``np.argpartition`` picks ``m`` top-level groups, then ``m`` of
their ``m * GROUP`` child groups, then ``m`` of their ``m * GROUP`` rows. No Python loop runs
over patterns. Neighbour distances are then recomputed exactly from their patterns and sorted
(ties by database position).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast.artifacts import field, read_json, require_fitted, write_atomic, write_json
from nbalife.forecast.patterns import (
    LAST,
    PATTERN_LENGTH,
    check_dates,
    check_labels,
    check_patterns,
    check_values,
)

AGGREGATIONS = ("median", "weighted")
DISTANCES = ("euclidean",)
NPZ_FILE = "dejavu.npz"
JSON_FILE = "dejavu.json"
FORMAT = "nbalife.dejavu"
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
_ARRAYS = ("patterns", "levels", "moves", "game_ids", "dates", "home", "away")


@dataclass(frozen=True)
class Analog:
    """One past game that resembles the query, and what happened next in it."""

    game_id: str
    date: str
    home: str
    away: str
    distance: float
    future_move: float
    halftime_diff: float


class Dejavu:
    """Analog forecaster: ``d18`` plus the aggregated future moves of the ``k`` nearest patterns.

    Parameters
    ----------
    k:
        Number of analogs. Default 200. Score changes are close to a random walk, so the analogs'
        moves are mostly noise and averaging many of them is what pays. Measured on two
        10,000-game simulated seasons (``nbalife.simulate`` seeds 2 and 3) against a
        50,000-game database (seed 1), test MAE with the median: 4.723 and 4.725 at k=25, 4.655
        at k=50 (seed 2), 4.623 and 4.632 at k=100, 4.607 and 4.617 at k=200, 4.588 and 4.602 at
        k=1600; persistence 4.601 and 4.613, the simulator's oracle 4.550 (seed 2). With a
        5,000-game database k=200 gives 4.607 and 4.608. So k=200 is within 0.02 of the best k
        tried, 0.05 better than k=50, and the search stays fast at 1,000,000 patterns.
    aggregation:
        ``"median"`` (default) of the analogs' moves, robust to the odd big scoring run (the
        Déjà vu paper's choice), or ``"weighted"``: mean weighted by ``1 / (1 + distance)``, the
        ``+1`` (one point) keeping exact matches from taking all the weight. Measured as above
        the two agree within 0.01 MAE for every k >= 100.
    distance:
        ``"euclidean"`` (the only one) between aligned patterns.
    """

    def __init__(self, k: int = 200, aggregation: str = "median",
                 distance: str = "euclidean") -> None:
        self.k = k
        self.aggregation = aggregation
        self.distance = distance

    def get_params(self) -> dict[str, Any]:
        return {"k": self.k, "aggregation": self.aggregation, "distance": self.distance}

    def _check_params(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise BadInput(f"Dejavu: k={self.k!r} must be a whole number >= 1")
        if self.aggregation not in AGGREGATIONS:
            raise BadInput(f"Dejavu: aggregation={self.aggregation!r}; allowed values are "
                           f"{', '.join(AGGREGATIONS)}")
        if self.distance not in DISTANCES:
            raise BadInput(f"Dejavu: distance={self.distance!r}; allowed values are "
                           f"{', '.join(DISTANCES)}")

    def fit(self, X: object, future_moves: object, game_ids: object, dates: object,
            home: object, away: object) -> Dejavu:
        """Store patterns ``X`` (raw ``d0..d18``) with their moves ``d24 - d18`` and identities."""
        self._check_params()
        database = _Database.checked(X, future_moves, game_ids, dates, home, away)
        if len(database) < self.k:
            raise BadInput(f"Dejavu needs at least k={self.k} patterns, got {len(database)}")
        self._store(database)
        return self

    def update(self, X: object, future_moves: object, game_ids: object, dates: object,
               home: object, away: object, max_size: int) -> Dejavu:
        """Add new games and keep the ``max_size`` most recent by date; returns self.

        A game already stored (same id) is replaced by its new version. Ties in date keep the
        later-added game.
        """
        require_fitted(self, "patterns_")
        if isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer)) \
                or max_size < self.k:
            raise BadInput(f"Dejavu update: max_size={max_size!r} must be a whole number "
                           f">= k={self.k}")
        new = _Database.checked(X, future_moves, game_ids, dates, home, away)
        old = self._database().without(new.game_ids)
        merged = _Database(*(np.concatenate([a, b]) for a, b in zip(old, new, strict=True)))
        self._store(merged.take(np.argsort(merged.dates, kind="stable")[-max_size:]))
        return self

    def _store(self, database: _Database) -> None:
        self.patterns_ = database.patterns
        self.levels_ = database.levels
        self.moves_ = database.moves
        self.game_ids_ = database.game_ids
        self.dates_ = database.dates
        self.home_ = database.home
        self.away_ = database.away
        self.n_patterns_ = len(database)
        self.index_ = _index_matrix(database.patterns)
        small = len(self.index_) * WIDTH < BLAS_MIN_PRODUCT
        self.columns_ = np.ascontiguousarray(self.index_.T) if small else None

    def _database(self) -> _Database:
        return _Database(self.patterns_, self.levels_, self.moves_, self.game_ids_,
                         self.dates_, self.home_, self.away_)

    def kneighbors(self, X: object,
                   n_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Euclidean distances (points, float32) and database indices of the nearest aligned
        patterns, each ``(n, n_neighbors)``, nearest first (ties by database position)."""
        require_fitted(self, "patterns_")
        m = self.k if n_neighbors is None else n_neighbors
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) \
                or not 1 <= m <= self.n_patterns_:
            raise BadInput(f"n_neighbors={m!r} must be from 1 to {self.n_patterns_} "
                           "(the database size)")
        queries = check_patterns(X)
        return self._search(queries - queries[:, LAST:], int(m))

    def predict(self, X: object) -> np.ndarray:
        """``d18`` plus the aggregate of the ``k`` analogs' future moves (float64, one per row)."""
        require_fitted(self, "patterns_")
        queries = check_patterns(X)
        distances, indices = self._search(queries - queries[:, LAST:], self.k)
        moves = self.moves_[indices].astype(np.float64)
        if self.aggregation == "median":
            move = np.median(moves, axis=1)
        else:
            weights = 1.0 / (1.0 + distances.astype(np.float64))
            move = (weights * moves).sum(axis=1) / weights.sum(axis=1)
        return queries[:, LAST].astype(np.float64) + move

    def explain(self, x: object, n: int | None = None) -> list[Analog]:
        """The ``n`` (default k) analog games of one pattern, nearest first."""
        query = check_patterns(x)
        if len(query) != 1:
            raise BadInput(f"explain takes one pattern, got {len(query)}")
        distances, indices = self.kneighbors(query, n)
        return [
            Analog(
                game_id=str(self.game_ids_[i]),
                date=str(self.dates_[i]),
                home=str(self.home_[i]),
                away=str(self.away_[i]),
                distance=float(d),
                future_move=float(self.moves_[i]),
                halftime_diff=float(self.levels_[i]) + float(self.moves_[i]),
            )
            for d, i in zip(distances[0], indices[0], strict=True)
        ]

    def _search(self, queries: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(queries)
        rows = len(self.index_)
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
                candidates = _top_rows(_group_minima(self.index_, self.columns_, block, levels), m)
            else:  # a small database: every row is a candidate
                candidates = np.broadcast_to(np.arange(rows), (stop - start, rows))
            found = _best_rows(self.index_, block, candidates, m)
            distances[start:stop], indices[start:stop] = self._exact(queries[start:stop], found)
        return distances, indices

    def _exact(self, queries: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact distances of the found neighbours, sorted by (distance, index)."""
        diff = self.patterns_[found] - queries[:, None, :]
        squared = np.einsum("qkd,qkd->qk", diff, diff)
        order = np.lexsort((found, squared), axis=-1)
        return (np.sqrt(np.take_along_axis(squared, order, axis=1)),
                np.take_along_axis(found, order, axis=1))

    def save(self, directory: Path) -> list[Path]:
        """Write ``dejavu.npz`` (arrays, no pickle) and ``dejavu.json`` (parameters)."""
        require_fitted(self, "patterns_")
        directory = Path(directory)
        arrays = dict(zip(_ARRAYS, self._database(), strict=True))

        def write_npz(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        npz = write_atomic(directory / NPZ_FILE, write_npz)
        meta = write_json(directory / JSON_FILE, {
            "format": FORMAT,
            "params": self.get_params(),
            "n_patterns": int(self.n_patterns_),
            "dates": [str(self.dates_.min()), str(self.dates_.max())],
        })
        return [npz, meta]

    @classmethod
    def load(cls, directory: Path) -> Dejavu:
        """Read a saved Dejavu; a missing, corrupt or truncated file is BadInput naming it."""
        directory = Path(directory)
        json_path, npz_path = directory / JSON_FILE, directory / NPZ_FILE
        meta = read_json(json_path, FORMAT)
        params = field(meta, "params", json_path)
        try:
            model = cls(**params)
        except TypeError:
            raise BadInput(f"{json_path}: corrupt model file: bad params {params!r}") from None
        model._check_params()
        database = _Database.read(npz_path)
        if len(database) != field(meta, "n_patterns", json_path) or len(database) < model.k:
            raise BadInput(f"{npz_path}: holds {len(database)} patterns; {json_path.name} "
                           f"expects {meta['n_patterns']} (k={model.k})")
        model._store(database)
        return model


@dataclass(frozen=True)
class _Database:
    """Aligned patterns and what belongs to each, as parallel arrays."""

    patterns: np.ndarray  # float32 (n, 19), x - x[18]
    levels: np.ndarray  # float32 (n,), d18
    moves: np.ndarray  # float32 (n,), d24 - d18
    game_ids: np.ndarray
    dates: np.ndarray  # datetime64[D]
    home: np.ndarray
    away: np.ndarray

    def __len__(self) -> int:
        return len(self.patterns)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (getattr(self, item.name) for item in fields(self))

    @classmethod
    def checked(cls, X: object, moves: object, game_ids: object, dates: object,
                home: object, away: object) -> _Database:
        patterns = check_patterns(X, np.asarray(game_ids).astype(str))
        n = len(patterns)
        ids = check_labels("game_ids", game_ids, n)
        unique, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise BadInput(f"game {unique[counts > 1][0]} appears more than once")
        return cls(
            patterns=np.ascontiguousarray(patterns - patterns[:, LAST:]),
            levels=patterns[:, LAST].copy(),
            moves=check_values("future moves", moves, n, ids).astype(np.float32),
            game_ids=ids,
            dates=check_dates(dates, n),
            home=check_labels("home", home, n),
            away=check_labels("away", away, n),
        )

    def without(self, game_ids: np.ndarray) -> _Database:
        return self.take(np.flatnonzero(~np.isin(self.game_ids, game_ids)))

    def take(self, rows: np.ndarray) -> _Database:
        return _Database(*(np.ascontiguousarray(a[rows]) for a in self))

    @classmethod
    def read(cls, path: Path) -> _Database:
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in _ARRAYS}
        except FileNotFoundError:
            raise BadInput(f"{path}: missing model file") from None
        except KeyError as exc:
            raise BadInput(f"{path}: corrupt model file: missing array {exc}") from None
        except Exception as exc:  # zipfile, zlib and numpy raise many types for damaged files
            raise BadInput(f"{path}: corrupt or truncated ({type(exc).__name__}: {exc})") from None
        n = len(arrays["patterns"])
        shapes_ok = arrays["patterns"].shape == (n, PATTERN_LENGTH) and all(
            arrays[name].shape == (n,) for name in _ARRAYS[1:])
        kinds_ok = (arrays["patterns"].dtype == np.float32 and arrays["dates"].dtype.kind == "M"
                    and all(arrays[name].dtype.kind == "U"
                            for name in ("game_ids", "home", "away")))
        if not (shapes_ok and kinds_ok):
            raise BadInput(f"{path}: corrupt model file: arrays have unexpected shapes or types")
        if not (np.isfinite(arrays["patterns"]).all() and np.isfinite(arrays["moves"]).all()):
            raise BadInput(f"{path}: corrupt model file: non-finite values")
        return cls(**{name: np.ascontiguousarray(arrays[name]) for name in _ARRAYS})


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
