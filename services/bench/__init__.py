"""``raysvc bench``: the same work done different ways in one run, timed side by side, checked for equality.

The bench protocol — what a service offers in ``services/<name>/bench.py``
==========================================================================

One module-level name is required::

    WORKLOADS: dict[str, Workload]      # or a zero-argument function returning that dict

A *workload* is any object (a dataclass, a namespace, or a plain dict with the same keys) with:

* ``build`` (required) — ``build(size) -> inputs``; ``size`` is ``"tiny" | "small" | "medium" | "large"``.
  Builds data only (untimed); starts nothing.
* ``variants`` (required) — ``{"sequential": fn, "ray": fn, "peer": fn}``, each ``fn(inputs) -> result``:
  ``sequential`` the engine in this process (required: the reference); ``ray`` the service's Ray path on
  whatever Ray is connected (the harness connects it); ``peer`` the peer library doing the same work.
* ``same_result`` (required) — ``same_result(a, b) -> bool`` with ``a`` the sequential result; true when
  ``b`` agrees within the workload's stated tolerance.
* ``description`` — one line for the report.
* ``tolerance`` — a dict or a string stating ``same_result``'s tolerance (shown in the report; default:
  the first paragraph of ``same_result``'s docstring).
* ``units`` — ``units(inputs) -> int``: items of work in one run (texts, refits, backtests…); the report
  then gives throughput in units per second.
* ``unit`` — the name of those units (default: a per-service name, else ``"items"``).
* ``not_comparable`` — ``{variant: reason}`` for variants that do comparable work but cannot give the
  same answer (e.g. a different sentiment model on the same texts): timed, reported as not checked
  with the reason. Every other variant is checked.

More than one peer: name them ``peer:<name>`` (``peer:vader``, ``peer:textblob``); likewise ``ray:<name>``.

Optional module-level names: ``warm_up()`` — called (untimed) after every Ray start, e.g. to import the
engine in the workers; ``PeerUnavailable`` — an exception class the ``peer`` variant raises when its
library is not installed.

A peer whose library is missing is *skipped* with the message (absent from ``variants``, or raising
``ImportError`` / a class named ``PeerUnavailable``). Anything else a variant raises fails the workload.

What the harness does with it (:mod:`services.bench.harness`)
=============================================================

For each Ray session — a local Ray started with each CPU count of ``--cpus`` (shut down between counts),
or the cluster ``RAY_ADDRESS`` names — and each workload: one untimed warm-up call of every variant, then
``--repeat`` rounds that run the variants alternately (``sequential, ray, peer, sequential, ray, peer, …``).
The first sequential result is the reference; every other result (warm-up and timed, of every variant,
the sequential ones too) is checked against it with ``same_result``, outside the timing. Sequential and peer times
are pooled over the sessions; Ray times are kept per CPU count (variant labels ``ray@1``, ``ray@2``…).
Reported: min / median / max, the ratio of medians against ``sequential`` (> 1: faster), throughput, the
same-result check (a mismatch fails the run loudly: red banner, exit status 3), the machine, the
versions, the date.

Modules: :mod:`~services.bench.protocol` (loading the services' modules), :mod:`~services.bench.harness`
(the runs), :mod:`~services.bench.httpload` (``raysvc bench http``), :mod:`~services.bench.report`
(``results.json``, ``report.md``, PNG plots), :mod:`~services.bench.machine` (machine and versions),
:mod:`~services.bench.cli` (``raysvc bench``). Docs: ``docs/bench.md``.
"""

SIZES = ("tiny", "small", "medium", "large")
"""Workload sizes every service's ``build`` accepts."""

VARIANTS = ("sequential", "ray", "peer")
"""Variant kinds, in the order the harness alternates them."""
