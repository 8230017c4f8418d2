"""A seeded random walk with random access.

:class:`Walk` is a Brownian motion on the integer steps ``0 .. 2**32`` built by midpoint
displacement: every node's value is the mean of its segment's ends plus an independent displacement
(variance = a quarter of the segment length) drawn from a hash of ``(key, node)``. Any single step
costs 32 hashes, a run of ``n`` consecutive grid points costs ``O(n + 64)``, and the same key always
gives the same path — whatever order it is read in. A walk keeps the nodes of its last descent:
reading the step next to the last one read (as a market does each second) resumes from their
common ancestor, a couple of hashes instead of 32, with the very same arithmetic.
"""

from __future__ import annotations

import math

__all__ = ["LEVELS", "SPAN", "Walk", "mix64", "unit"]

LEVELS = 32
SPAN = 1 << LEVELS
_M = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_SQRT3 = math.sqrt(3.0)
_HALF_SQRT = [math.sqrt(1 << j) / 2.0 for j in range(LEVELS + 1)]


def mix64(x: int) -> int:
    """splitmix64's finaliser: a well-mixed 64-bit hash of ``x``."""
    x = (x + _GOLDEN) & _M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M
    return x ^ (x >> 31)


def unit(key: int, n: int) -> float:
    """A uniform number in [0, 1) from ``(key, n)``."""
    return (mix64(key ^ ((n * _GOLDEN) & _M)) >> 11) * (1.0 / (1 << 53))


class Walk:
    def __init__(self, key: int) -> None:
        self._key = mix64(key & _M)
        self._top = math.sqrt(SPAN) * self._z(SPAN)
        # The last descents of at() and node(): per depth, (lo, hi, v(lo), v(hi)).
        self._path: list[tuple[int, int, float, float]] = [(0, SPAN, 0.0, self._top)]
        self._nodes: list[tuple[int, int, float, float]] = [(0, SPAN, 0.0, self._top)]

    def _z(self, node: int) -> float:
        """Unit-variance displacement (uniform on [-√3, √3])."""
        return (2.0 * unit(self._key, node) - 1.0) * _SQRT3

    def at(self, k: int) -> float:
        if k <= 0:
            return 0.0
        if k >= SPAN:
            return self._top
        key, m, golden, half = self._key, _M, _GOLDEN, _HALF_SQRT
        scale = _SQRT3 * 2.0 / (1 << 53)
        path = self._path
        depth = len(path) - 1
        while True:  # the deepest node of the last descent whose segment holds k (the root does)
            lo, hi, vlo, vhi = path[depth]
            if lo < k < hi:
                break
            depth -= 1
        del path[depth + 1 :]
        level = LEVELS - depth
        while True:
            mid = (lo + hi) >> 1
            # _z(mid), inlined: this loop is the simulator's hottest path.
            x = ((key ^ ((mid * golden) & m)) + golden) & m
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
            z = ((x ^ (x >> 31)) >> 11) * scale - _SQRT3
            vmid = (vlo + vhi) / 2.0 + half[level] * z
            level -= 1
            if k == mid:
                return vmid
            if k < mid:
                hi, vhi = mid, vmid
            else:
                lo, vlo = mid, vmid
            path.append((lo, hi, vlo, vhi))

    def node(self, k: int) -> float:
        """``B(k)`` exactly as :meth:`grid` computes it (:meth:`at` rounds differently, by a
        few ulps), for ``0 < k < SPAN``; resumes from the last call's descent like :meth:`at`."""
        path = self._nodes
        depth = len(path) - 1
        while True:
            lo, hi, vlo, vhi = path[depth]
            if lo < k < hi:
                break
            depth -= 1
        del path[depth + 1 :]
        level = LEVELS - depth
        while True:
            mid = (lo + hi) >> 1
            vmid = (vlo + vhi) / 2.0 + _HALF_SQRT[level] * self._z(mid)
            level -= 1
            if k == mid:
                return vmid
            if k < mid:
                hi, vhi = mid, vmid
            else:
                lo, vlo = mid, vmid
            path.append((lo, hi, vlo, vhi))

    def grid(self, a: int, b: int, stride: int) -> list[tuple[int, float]]:
        """``(k, B(k))`` for every multiple ``k`` of ``stride`` (a power of two) in ``[a, b]``."""
        if stride <= 0 or stride & (stride - 1):
            raise ValueError("stride must be a power of two")
        a, b = max(a, 1), min(b, SPAN - 1)
        out: list[tuple[int, float]] = []
        if a > b:
            return out
        self._fill(0, SPAN, 0.0, self._top, LEVELS, a, b, stride, out)
        return out

    def _fill(
        self,
        lo: int,
        hi: int,
        vlo: float,
        vhi: float,
        level: int,
        a: int,
        b: int,
        stride: int,
        out: list[tuple[int, float]],
    ) -> None:
        if hi - lo <= stride or hi <= a or lo >= b:
            return
        mid = (lo + hi) >> 1
        vmid = (vlo + vhi) / 2.0 + _HALF_SQRT[level] * self._z(mid)
        self._fill(lo, mid, vlo, vmid, level - 1, a, b, stride, out)
        if a <= mid <= b:
            out.append((mid, vmid))
        self._fill(mid, hi, vmid, vhi, level - 1, a, b, stride, out)
