r"""Partitions of a labelled data set among N clients, and how heterogeneous they are.

Four ways to split the training indices ``0..n-1`` among ``n_clients`` clients, each a pure
function of (labels, parameters, seed) that returns a :class:`Partition`:

* :func:`iid_partition` — a uniform random permutation cut into N parts whose sizes differ by at
  most one (McMahan et al. 2017, "IID").
* :func:`dirichlet_partition` — label skew: for every class c the proportions
  :math:`q_c \sim \mathrm{Dir}_N(\alpha)` decide which share of class c each client receives
  (Yurochkin et al. 2019; Hsu, Qi, Brown 2019, arXiv 1909.06335; the "NIID-Bench" scheme of Li,
  Diao, Chen, He 2022, arXiv 2102.02079). Small α: each class sits on few clients.
* :func:`shards_partition` — McMahan et al. 2017 (arXiv 1602.05629): sort by label, cut into
  ``N * shards_per_client`` equal shards, give each client ``shards_per_client`` random shards
  (so at most that many classes per client).
* :func:`powerlaw_partition` — quantity skew: sizes :math:`n_k \propto (k+1)^{-\beta}` (a power
  law, as in the unbalanced settings of FedProx, Li et al. 2020, arXiv 1812.06127), samples
  assigned uniformly at random (labels IID).

One syntax names a partition everywhere (CLI ``--partition``, run specs, experiments):
``"iid"``, ``"dirichlet:ALPHA"``, ``"shards:C"``, ``"powerlaw:BETA"``; :func:`parse_partition`
turns it into a frozen :class:`PartitionSpec` (kind + parameter) whose :meth:`PartitionSpec.make`
builds the partition.

A client with no samples is an error: the function raises ``ValueError`` naming the parameter to
change. Every partition reports its heterogeneity (:meth:`Partition.heterogeneity`): the total
variation distance of each client's label distribution to the global one, and the size
imbalance (Gini coefficient, max/mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fsnn_theory._validation import check_choice, check_int, check_positive

__all__ = [
    "PARTITION_KINDS",
    "Partition",
    "iid_partition",
    "dirichlet_partition",
    "shards_partition",
    "powerlaw_partition",
    "make_partition",
    "PartitionSpec",
    "parse_partition",
    "label_tv_distances",
    "gini_coefficient",
]

PARTITION_KINDS: tuple[str, ...] = ("iid", "dirichlet", "shards", "powerlaw")


def _check_labels(y) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"y must be a non-empty 1-d array of labels, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"y must hold integer class labels, got dtype {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(f"y must hold labels >= 0, got minimum {labels.min()}")
    return labels.astype(np.int64)


def label_tv_distances(client_label_counts: np.ndarray) -> np.ndarray:
    r"""Total variation distance of each client's label distribution to the global one.

    .. math:: \mathrm{TV}_k = \tfrac12 \sum_c \Big| \frac{n_{kc}}{n_k} - \frac{n_c}{n} \Big|
              \in [0, 1),

    with :math:`n_{kc}` the samples of class c on client k (rows of ``client_label_counts``),
    :math:`n_c = \sum_k n_{kc}`, :math:`n = \sum_c n_c`. 0 for a client whose labels follow the
    global distribution exactly. Every row must have a positive sum.
    """
    counts = np.asarray(client_label_counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(f"client_label_counts must be 2-d (clients, classes), got shape {counts.shape}")
    sizes = counts.sum(axis=1)
    if not (sizes > 0).all():
        raise ValueError("client_label_counts must have a positive row sum for every client")
    local = counts / sizes[:, None]
    glob = counts.sum(axis=0) / counts.sum()
    return 0.5 * np.abs(local - glob[None, :]).sum(axis=1)


def gini_coefficient(sizes) -> float:
    r"""Gini coefficient of client sizes: :math:`G = \frac{\sum_{i,j} |n_i - n_j|}{2 N^2 \bar n}`.

    0 for equal sizes; :math:`(N-1)/N` when one client holds everything. (Gini 1912; the mean
    absolute difference form.)
    """
    n = np.asarray(sizes, dtype=np.float64)
    if n.ndim != 1 or n.size == 0 or not (n >= 0).all() or n.sum() <= 0:
        raise ValueError("sizes must be a non-empty 1-d array of non-negative numbers with a positive sum")
    return float(np.abs(n[:, None] - n[None, :]).sum() / (2.0 * n.size**2 * n.mean()))


@dataclass(frozen=True, eq=False)
class Partition:
    """Which training samples each client holds.

    ``client_indices[k]``: sorted int64 indices (into the training split) of client k; together
    they partition ``range(n_samples)``. ``labels``: the training labels (read-only copy);
    ``n_classes``: number of classes; ``kind`` and ``params`` say how it was made.
    """

    client_indices: tuple[np.ndarray, ...]
    labels: np.ndarray
    n_classes: int
    kind: str
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        labels = _check_labels(self.labels)
        n_classes = check_int("n_classes", self.n_classes, low=int(labels.max()) + 1)
        parts = tuple(np.sort(np.asarray(p, dtype=np.int64)) for p in self.client_indices)
        if not parts:
            raise ValueError("client_indices must hold at least one client")
        for k, p in enumerate(parts):
            if p.size == 0:
                raise ValueError(f"client {k} has no samples (a client must hold at least one sample)")
        flat = np.concatenate(parts)
        if flat.size != labels.size or not np.array_equal(np.sort(flat), np.arange(labels.size)):
            raise ValueError("client_indices must partition range(len(labels)): every index exactly once")
        for p in parts:
            p.flags.writeable = False
        lab = labels.copy()
        lab.flags.writeable = False
        object.__setattr__(self, "client_indices", parts)
        object.__setattr__(self, "labels", lab)
        object.__setattr__(self, "n_classes", n_classes)

    @property
    def n_clients(self) -> int:
        return len(self.client_indices)

    @property
    def sizes(self) -> np.ndarray:
        """n_k, int64 (N,)."""
        return np.array([p.size for p in self.client_indices], dtype=np.int64)

    @property
    def weights(self) -> np.ndarray:
        """FedAvg weights :math:`p_k = n_k / n` (Li et al. 2020), float64 (N,), summing to 1."""
        s = self.sizes.astype(np.float64)
        return s / s.sum()

    @property
    def label_counts(self) -> np.ndarray:
        """:math:`n_{kc}`, int64 (N, n_classes)."""
        return np.stack([np.bincount(self.labels[p], minlength=self.n_classes) for p in self.client_indices])

    def heterogeneity(self) -> dict[str, float]:
        """Label skew and quantity skew of this partition.

        ``mean_label_tv`` / ``max_label_tv``: mean (unweighted over clients) and maximum of
        :func:`label_tv_distances`; ``size_gini``: :func:`gini_coefficient` of the sizes;
        ``size_max_over_mean``: largest client size / mean size; ``min_size``, ``max_size``.
        """
        tv = label_tv_distances(self.label_counts)
        s = self.sizes
        return {
            "mean_label_tv": float(tv.mean()),
            "max_label_tv": float(tv.max()),
            "size_gini": gini_coefficient(s),
            "size_max_over_mean": float(s.max() / s.mean()),
            "min_size": int(s.min()),
            "max_size": int(s.max()),
        }


def _split_counts(order: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [order[bounds[k] : bounds[k + 1]] for k in range(counts.size)]


def _equal_sizes(n: int, n_clients: int) -> np.ndarray:
    base, extra = divmod(n, n_clients)
    return np.array([base + (1 if k < extra else 0) for k in range(n_clients)], dtype=np.int64)


def _check_n_clients(n_clients: int, n: int) -> int:
    n_clients = check_int("n_clients", n_clients, low=1)
    if n_clients > n:
        raise ValueError(
            f"n_clients must be <= the number of samples {n} (else a client has no samples), got {n_clients}"
        )
    return n_clients


def iid_partition(y, n_clients: int, seed: int) -> Partition:
    """IID split: a random permutation (``default_rng(seed)``) cut into N near-equal parts.

    Sizes are :math:`\\lfloor n/N \\rfloor` or :math:`\\lceil n/N \\rceil` (the first
    ``n mod N`` clients get one more).
    """
    labels = _check_labels(y)
    n_clients = _check_n_clients(n_clients, labels.size)
    seed = check_int("seed", seed, low=0)
    order = np.random.default_rng(seed).permutation(labels.size)
    parts = _split_counts(order, _equal_sizes(labels.size, n_clients))
    return Partition(tuple(parts), labels, int(labels.max()) + 1, "iid")


def dirichlet_partition(
    y,
    n_clients: int,
    alpha: float,
    seed: int,
    *,
    min_size: int = 1,
    max_attempts: int = 200,
) -> Partition:
    r"""Label-skewed split: class c is shared among clients by :math:`q_c \sim \mathrm{Dir}_N(\alpha)`.

    For each class c (in increasing order): shuffle its :math:`n_c` samples, draw
    :math:`q_c \sim \mathrm{Dir}(\alpha, \dots, \alpha)` over the N clients, and give client k the
    samples between the cut points :math:`\lfloor n_c \sum_{j<k} q_{cj} \rceil` and
    :math:`\lfloor n_c \sum_{j\le k} q_{cj} \rceil` (rounded cumulative shares, so the counts sum
    to :math:`n_c` exactly). Smaller α -> more skew (α -> ∞ approaches the IID label mix).

    Small α can leave a client empty; as in NIID-Bench (Li et al. 2022, arXiv 2102.02079) the
    whole draw is repeated until every client holds at least ``min_size`` samples. Attempt ``a``
    uses ``default_rng([seed, a])``, so the result is a deterministic function of ``seed``. If
    ``max_attempts`` draws all leave a client below ``min_size``, ``ValueError`` names ``alpha``
    (raise it), ``n_clients`` (lower it) and ``min_size``.

    Source: Hsu, Qi, Brown 2019 (arXiv 1909.06335); Yurochkin et al. ICML 2019.
    """
    labels = _check_labels(y)
    n_clients = _check_n_clients(n_clients, labels.size)
    alpha = check_positive("alpha", alpha)
    seed = check_int("seed", seed, low=0)
    min_size = check_int("min_size", min_size, low=1)
    max_attempts = check_int("max_attempts", max_attempts, low=1)
    if n_clients * min_size > labels.size:
        raise ValueError(
            f"n_clients * min_size = {n_clients * min_size} exceeds the {labels.size} samples: "
            "lower n_clients or min_size"
        )
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == c) for c in classes]
    smallest = 0
    for attempt in range(max_attempts):
        rng = np.random.default_rng([seed, attempt])
        parts: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
        for idx in members:
            shuffled = rng.permutation(idx)
            q = rng.dirichlet(np.full(n_clients, alpha))
            cuts = np.rint(np.cumsum(q) * idx.size).astype(np.int64)
            cuts[-1] = idx.size  # the cumulative sum may fall short of 1 by rounding
            cuts = np.maximum.accumulate(np.clip(cuts, 0, idx.size))
            counts = np.diff(np.concatenate([[0], cuts]))
            for k, chunk in enumerate(_split_counts(shuffled, counts)):
                parts[k].append(chunk)
        sizes = np.array([sum(c.size for c in p) for p in parts])
        smallest = int(sizes.min())
        if smallest >= min_size:
            return Partition(
                tuple(np.concatenate(p) for p in parts),
                labels,
                int(labels.max()) + 1,
                "dirichlet",
                (("alpha", alpha), ("attempts", float(attempt + 1))),
            )
    raise ValueError(
        f"dirichlet_partition: alpha={alpha} with n_clients={n_clients} left a client with fewer than "
        f"min_size={min_size} samples in all {max_attempts} attempts (smallest client in the last draw: "
        f"{smallest}); raise alpha, lower n_clients or lower min_size"
    )


def shards_partition(y, n_clients: int, shards_per_client: int, seed: int) -> Partition:
    r"""McMahan et al. (2017) pathological non-IID split by label shards.

    Sort the samples by label (stable, ties in index order), cut them into
    :math:`S = N \cdot` ``shards_per_client`` contiguous shards of near-equal size (sizes differ
    by at most one), and give each client ``shards_per_client`` shards chosen by a random
    permutation of the shards (``default_rng(seed)``). A client then holds at most
    ``shards_per_client`` classes (more only where a shard straddles a class boundary).

    Source: McMahan, Moore, Ramage, Hampson, Agüera y Arcas, "Communication-Efficient Learning of
    Deep Networks from Decentralized Data", AISTATS 2017, arXiv 1602.05629, Sec. 3.
    """
    labels = _check_labels(y)
    n_clients = check_int("n_clients", n_clients, low=1)
    shards_per_client = check_int("shards_per_client", shards_per_client, low=1)
    seed = check_int("seed", seed, low=0)
    n_shards = n_clients * shards_per_client
    if n_shards > labels.size:
        raise ValueError(
            f"n_clients * shards_per_client = {n_shards} shards exceed the {labels.size} samples "
            "(a shard would be empty): lower n_clients or shards_per_client"
        )
    order = np.argsort(labels, kind="stable")
    shards = _split_counts(order, _equal_sizes(labels.size, n_shards))
    perm = np.random.default_rng(seed).permutation(n_shards).reshape(n_clients, shards_per_client)
    parts = tuple(np.concatenate([shards[s] for s in row]) for row in perm)
    return Partition(parts, labels, int(labels.max()) + 1, "shards",
                     (("shards_per_client", float(shards_per_client)),))


def powerlaw_partition(y, n_clients: int, exponent: float, seed: int) -> Partition:
    r"""Quantity-skewed split: client sizes follow a power law, labels IID.

    Target shares :math:`s_k = (k+1)^{-\beta} / \sum_j (j+1)^{-\beta}` (β = ``exponent`` > 0);
    sizes are the largest-remainder rounding of :math:`n s_k` (exact total n, Hamilton's method),
    samples assigned by a random permutation (``default_rng(seed)``). If a size rounds to 0,
    ``ValueError`` names ``exponent`` (lower it) and ``n_clients``.
    """
    labels = _check_labels(y)
    n_clients = _check_n_clients(n_clients, labels.size)
    exponent = check_positive("exponent", exponent)
    seed = check_int("seed", seed, low=0)
    shares = np.arange(1, n_clients + 1, dtype=np.float64) ** (-exponent)
    quota = labels.size * shares / shares.sum()
    sizes = np.floor(quota).astype(np.int64)
    remainder = labels.size - int(sizes.sum())
    # Largest remainders first; ties broken by client index (stable sort) for determinism.
    sizes[np.argsort(-(quota - sizes), kind="stable")[:remainder]] += 1
    if sizes.min() < 1:
        raise ValueError(
            f"powerlaw_partition: exponent={exponent} with n_clients={n_clients} and {labels.size} samples "
            f"gives client {int(np.argmin(sizes))} no samples: lower exponent or n_clients"
        )
    order = np.random.default_rng(seed).permutation(labels.size)
    return Partition(tuple(_split_counts(order, sizes)), labels, int(labels.max()) + 1, "powerlaw",
                     (("exponent", exponent),))


def make_partition(kind: str, y, n_clients: int, seed: int, *, alpha: float = 0.5,
                   shards_per_client: int = 2, exponent: float = 1.0) -> Partition:
    """Dispatch by name: ``kind`` in ``PARTITION_KINDS`` (the parameter of that kind is used).

    Prefer ``parse_partition("dirichlet:0.5").make(y, n_clients, seed)``; this keeps the keyword form.

    Examples
    --------
    Every sample goes to exactly one client; ``iid`` gives equal sizes, and ``shards`` with two
    shards per client gives each client exactly two classes when shards are single-class.

    >>> import numpy as np
    >>> from fsnn_theory.federated import make_partition
    >>> y = np.repeat([0, 1, 2, 3], 5)
    >>> p = make_partition("iid", y, n_clients=4, seed=0)
    >>> p.sizes.tolist(), p.weights.tolist()
    ([5, 5, 5, 5], [0.25, 0.25, 0.25, 0.25])
    >>> sorted(np.concatenate(p.client_indices).tolist()) == list(range(20))
    True
    >>> s = make_partition("shards", y, n_clients=2, seed=0, shards_per_client=2)
    >>> (s.label_counts > 0).sum(axis=1).tolist(), s.label_counts.sum(axis=1).tolist()
    ([2, 2], [10, 10])
    """
    check_choice("partition", kind, PARTITION_KINDS)
    param = {"iid": None, "dirichlet": alpha, "shards": shards_per_client, "powerlaw": exponent}[kind]
    return PartitionSpec(kind, param).make(y, n_clients, seed)


# Parameter of each kind in the spec syntax "kind:value": (name, type, default when omitted).
_SPEC_PARAMS: dict[str, tuple[str, type, float] | None] = {
    "iid": None,
    "dirichlet": ("alpha", float, 0.5),
    "shards": ("shards_per_client", int, 2),
    "powerlaw": ("exponent", float, 1.0),
}
_SPEC_SYNTAX = "iid, dirichlet:ALPHA (ALPHA > 0), shards:C (integer C >= 1), powerlaw:BETA (BETA > 0)"


@dataclass(frozen=True)
class PartitionSpec:
    """A partition by name: ``kind`` in ``PARTITION_KINDS`` and its one parameter (``None`` for iid).

    ``param_name`` is ``"alpha"`` (dirichlet), ``"shards_per_client"`` (shards) or ``"exponent"``
    (powerlaw). ``str(spec)`` is the canonical spec string (``"dirichlet:0.5"``), which
    :func:`parse_partition` reads back to an equal record. Validated on construction.
    """

    kind: str
    param: float | int | None = None

    def __post_init__(self) -> None:
        check_choice("partition", self.kind, PARTITION_KINDS)
        info = _SPEC_PARAMS[self.kind]
        if info is None:
            if self.param is not None:
                raise ValueError(f"partition 'iid' takes no parameter, got {self.param!r}")
            return
        name, kind_type, _ = info
        if kind_type is int:
            value = check_int(name, self.param, low=1)
        else:
            value = float(check_positive(name, self.param))
        object.__setattr__(self, "param", value)

    @property
    def param_name(self) -> str | None:
        info = _SPEC_PARAMS[self.kind]
        return None if info is None else info[0]

    def __str__(self) -> str:
        return self.kind if self.param is None else f"{self.kind}:{self.param!r}"

    def make(self, y, n_clients: int, seed: int) -> Partition:
        """The partition of labels ``y`` among ``n_clients`` clients with ``seed`` (see the kinds above)."""
        if self.kind == "iid":
            return iid_partition(y, n_clients, seed)
        if self.kind == "dirichlet":
            return dirichlet_partition(y, n_clients, self.param, seed)
        if self.kind == "shards":
            return shards_partition(y, n_clients, self.param, seed)
        return powerlaw_partition(y, n_clients, self.param, seed)


def parse_partition(spec) -> PartitionSpec:
    """Read a partition spec string (``"iid"``, ``"dirichlet:0.5"``, ``"shards:2"``, ``"powerlaw:1"``).

    A bare kind takes its default parameter (dirichlet alpha 0.5, shards 2 per client, powerlaw
    exponent 1). A :class:`PartitionSpec` is returned as is. Errors name the parameter and its
    allowed range (``ValueError``).
    """
    if isinstance(spec, PartitionSpec):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"partition must be a spec string ({_SPEC_SYNTAX}), got {spec!r}")
    kind, sep, raw = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in _SPEC_PARAMS:
        raise ValueError(f"unknown partition {spec!r}; allowed: {_SPEC_SYNTAX}")
    info = _SPEC_PARAMS[kind]
    if info is None:
        if sep:
            raise ValueError(f"partition 'iid' takes no parameter, got {spec!r}")
        return PartitionSpec("iid")
    name, kind_type, default = info
    if not sep:
        return PartitionSpec(kind, default)
    try:
        value = kind_type(raw.strip())
    except ValueError:
        allowed = "an integer >= 1" if kind_type is int else "a number > 0"
        raise ValueError(f"partition {spec!r}: {name} must be {allowed}, got {raw.strip()!r}") from None
    return PartitionSpec(kind, value)
