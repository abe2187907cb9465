"""All pairs of 64-bit hashes within a Hamming radius, fast enough for a million photos.

Method: multi-index hashing with block combinations (the pigeonhole principle). The 64 bits are
split into ``m`` contiguous blocks. Two hashes at distance ``d <= R`` differ in at most ``R`` blocks,
so they agree *exactly* on at least ``m - R`` blocks — hence on every block of at least one
``k``-subset of blocks whenever ``k <= m - R``. For each of the ``C(m, k)`` subsets we mask the hash
down to those blocks, sort, and take pairs with an identical masked key as candidates; candidates are
verified with a vectorised XOR + popcount (``np.bitwise_count``). ``k = 1, m = R + 1`` is the classic
"``m > R`` bands, probe radius 0" scheme; larger ``k`` gives longer keys (fewer random collisions) at
the price of more passes, and :func:`choose_blocks` picks ``(m, k)`` from ``N`` and ``R`` with a
simple cost model.

Identical hashes are collapsed first (a thousand copies of a blank frame would otherwise produce a
million candidates in every pass) and expanded again at the end, so the result is *exactly* the pair
set of :func:`brute_force_pairs`.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

__all__ = ["brute_force_pairs", "choose_blocks", "pairs_within", "hamming_distance"]

_BITS = 64


def hamming_distance(a: int | np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance of uint64 values (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)))


def brute_force_pairs(hashes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference implementation, O(N²) (row by row, vectorised): all ``i < j`` with distance ``<= radius``.

    Returns:
        ``(i, j, d)`` int64 arrays sorted by ``(i, j)``.
    """
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    ii, jj, dd = [], [], []
    for i in range(len(h) - 1):
        d = np.bitwise_count(h[i + 1:] ^ h[i])
        (hit,) = np.nonzero(d <= radius)
        if hit.size:
            ii.append(np.full(hit.size, i, dtype=np.int64))
            jj.append(hit.astype(np.int64) + i + 1)
            dd.append(d[hit].astype(np.int64))
    if not ii:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    return np.concatenate(ii), np.concatenate(jj), np.concatenate(dd)


def _block_masks(m: int) -> list[int]:
    """``m`` contiguous bit blocks covering 64 bits (sizes differ by at most one)."""
    edges = [round(i * _BITS / m) for i in range(m + 1)]
    return [((1 << (hi - lo)) - 1) << lo for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def choose_blocks(n: int, radius: int) -> tuple[int, int]:
    """Pick ``(m, k)``: ``m`` blocks, keys made of ``k`` blocks, with ``k <= m - radius``.

    Cost model (relative units, measured on a 2-core x86 box): one pass (mask + sort + scan) costs
    ~``n`` and each candidate pair ~0.5; expected random candidates per pass are ``n² / 2^(bits+1)``.
    """
    if radius < 0:
        raise ValueError("radius must be >= 0")
    if radius >= _BITS:
        return 1, 1  # everything matches; degenerate, handled by the caller
    best: tuple[float, int, int] | None = None
    for m in range(radius + 1, min(_BITS, radius + 16) + 1):
        for k in range(1, m - radius + 1):
            passes = math.comb(m, k)
            if passes > 5000:
                break
            bits = _BITS * k / m
            cands = passes * n * n / 2.0 ** (bits + 1)
            cost = passes * max(n, 1) + 0.5 * cands
            if best is None or cost < best[0]:
                best = (cost, m, k)
    assert best is not None
    return best[1], best[2]


def _pairs_equal_sorted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(p, q)``, ``p < q``, of every pair of equal values in a *sorted* array."""
    n = keys.size
    ps, qs = [], []
    active = np.arange(n - 1, dtype=np.int64)
    d = 1
    # In a sorted array, keys[i] == keys[i + d] implies keys[i] == keys[i + d - 1]: the active set only
    # shrinks, so the total work is the number of pairs (plus one pass).
    while active.size:
        active = active[active + d < n]
        eq = keys[active] == keys[active + d]
        active = active[eq]
        if active.size:
            ps.append(active)
            qs.append(active + d)
        d += 1
    if not ps:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy()
    return np.concatenate(ps), np.concatenate(qs)


def _pairs_unique(u: np.ndarray, radius: int, m: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MIH over distinct hashes ``u``; returns index pairs into ``u`` (``a < b``) and distances."""
    n = u.size
    if n < 2:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    masks = _block_masks(m)
    idx_bits = max(1, int(n - 1).bit_length())
    found_a, found_b, found_d = [], [], []
    for combo in combinations(range(m), k):
        mask = 0
        for c in combo:
            mask |= masks[c]
        key = u & np.uint64(mask)
        key_bits = bin(mask).count("1")
        if key_bits + idx_bits <= _BITS:
            # Pack (compressed key, index) into one uint64 and sort values: much faster than argsort.
            packed = _compress(key, mask) << np.uint64(idx_bits) | np.arange(n, dtype=np.uint64)
            packed.sort()
            order = (packed & np.uint64((1 << idx_bits) - 1)).astype(np.int64)
            skey = packed >> np.uint64(idx_bits)
        else:
            order = np.argsort(key, kind="stable")
            skey = key[order]
        p, q = _pairs_equal_sorted(skey)
        if not p.size:
            continue
        a, b = order[p], order[q]
        dist = np.bitwise_count(u[a] ^ u[b])
        ok = dist <= radius
        a, b, dist = a[ok], b[ok], dist[ok]
        found_a.append(np.minimum(a, b))
        found_b.append(np.maximum(a, b))
        found_d.append(dist.astype(np.int64))
    if not found_a:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    a = np.concatenate(found_a)
    b = np.concatenate(found_b)
    d = np.concatenate(found_d)
    # The same pair is found by every subset of blocks it agrees on: keep one copy.
    code, first = np.unique(a * n + b, return_index=True)
    return code // n, code % n, d[first]


def _compress(key: np.ndarray, mask: int) -> np.ndarray:
    """Move the set bits of ``mask`` (contiguous runs) down next to each other (a software PEXT)."""
    out = np.zeros_like(key)
    shift_out = 0
    bit = 0
    while bit < _BITS:
        if not (mask >> bit) & 1:
            bit += 1
            continue
        start = bit
        while bit < _BITS and (mask >> bit) & 1:
            bit += 1
        width = bit - start
        run = (key >> np.uint64(start)) & np.uint64((1 << width) - 1)
        out |= run << np.uint64(shift_out)
        shift_out += width
    return out


def pairs_within(hashes: np.ndarray, radius: int, *, blocks: tuple[int, int] | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All index pairs ``i < j`` with ``popcount(h[i] ^ h[j]) <= radius``.

    Args:
        hashes: ``(N,)`` uint64 (64-bit perceptual hashes).
        radius: Hamming radius ``R >= 0``.
        blocks: force ``(m, k)`` (tests); default :func:`choose_blocks`.

    Returns:
        ``(i, j, d)`` int64 arrays sorted by ``(i, j)`` — identical to :func:`brute_force_pairs`.
    """
    h = np.ascontiguousarray(hashes, dtype=np.uint64).ravel()
    n = h.size
    if radius < 0:
        raise ValueError("radius must be >= 0")
    if n < 2:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    if radius >= _BITS:
        i, j = np.triu_indices(n, 1)
        return i.astype(np.int64), j.astype(np.int64), np.bitwise_count(h[i] ^ h[j]).astype(np.int64)
    u, inv = np.unique(h, return_inverse=True)
    m, k = blocks or choose_blocks(u.size, radius)
    if k > m - radius:
        raise ValueError(f"blocks (m={m}, k={k}) cannot guarantee radius {radius}: need k <= m - radius")
    ua, ub, ud = _pairs_unique(u, radius, m, k)

    # Expand distinct-value pairs back to original indices (members of each group of equal hashes).
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=u.size)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ii, jj, dd = [], [], []
    # (a) identical hashes: all pairs inside a group, distance 0.
    multi = np.nonzero(counts > 1)[0]
    if multi.size:
        gi, gj = _group_pairs(order, starts[multi], counts[multi])
        ii.append(gi)
        jj.append(gj)
        dd.append(np.zeros(gi.size, dtype=np.int64))
    # (b) distinct values: cartesian product of the two groups (size 1 × 1 in the common case).
    if ua.size:
        single = (counts[ua] == 1) & (counts[ub] == 1)
        ii.append(order[starts[ua[single]]])
        jj.append(order[starts[ub[single]]])
        dd.append(ud[single])
        for a, b, d in zip(ua[~single], ub[~single], ud[~single], strict=True):
            ga = order[starts[a]:starts[a] + counts[a]]
            gb = order[starts[b]:starts[b] + counts[b]]
            x, y = np.meshgrid(ga, gb, indexing="ij")
            ii.append(x.ravel())
            jj.append(y.ravel())
            dd.append(np.full(x.size, d, dtype=np.int64))
    if not ii:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), e.copy()
    i = np.concatenate(ii).astype(np.int64)
    j = np.concatenate(jj).astype(np.int64)
    d = np.concatenate(dd).astype(np.int64)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    srt = np.lexsort((hi, lo))
    return lo[srt], hi[srt], d[srt]


def _group_pairs(order: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs inside each group ``order[s:s+c]``."""
    ii, jj = [], []
    for s, c in zip(starts.tolist(), counts.tolist(), strict=True):
        g = order[s:s + c]
        a, b = np.triu_indices(c, 1)
        ii.append(g[a])
        jj.append(g[b])
    return np.concatenate(ii), np.concatenate(jj)
