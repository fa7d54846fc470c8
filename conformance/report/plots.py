"""Static pictures for the matrix pages: error plots drawn by matplotlib, and badges.

The plots are PNG files beside the case page (no script, no network): the
error |actual - expected| per timestep and batch sample as a heatmap with a
colour scale, and expected against actual over time for the unit where the
error is largest. A badge is a small SVG with a target's pass rate and the
catalog version, to put in a README.
"""

import html

import numpy as np

from conformance.arrays import Observed


def _sequence_pair(expected, actual):
    """(expected, actual) float64 arrays of the first output, when both are arrays of one shape."""
    e, a = expected.get("ok") if expected else None, actual.get("ok") if actual else None
    if isinstance(e, list) and isinstance(a, list) and e and a:
        e, a = e[0], a[0]
    if not (isinstance(e, Observed) and isinstance(a, Observed)):
        return None
    if e.array.shape != a.array.shape or e.array.ndim not in (2, 3) or e.array.size == 0:
        return None
    return e.array.astype(np.float64), a.array.astype(np.float64)


def error_plots(expected, actual, stem):
    """Write stem-heatmap.png (and stem-unit.png for a sequence); return [(file name, caption)]."""
    pair = _sequence_pair(expected, actual)
    if pair is None:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e, a = pair
    with np.errstate(invalid="ignore"):
        err = np.abs(a - e)
    err = np.where(np.isnan(a) != np.isnan(e), np.inf, np.nan_to_num(err, nan=0.0))  # a NaN on one side only
    finite = err[np.isfinite(err)]
    top = float(finite.max()) if finite.size else 1.0
    shown = np.where(np.isfinite(err), err, top)
    written = []
    sequence = e.ndim == 3
    grid = shown.max(axis=2) if sequence else shown  # (sample, timestep) or (sample, unit)
    fig, ax = plt.subplots(figsize=(7.5, 2.2 + 0.18 * grid.shape[0]), dpi=80)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.22, top=0.86)
    image = ax.imshow(grid, aspect="auto", cmap="magma_r", interpolation="nearest", vmin=0, vmax=top or 1.0)
    ax.set_xlabel("timestep (processing order)" if sequence else "unit")
    ax.set_ylabel("batch sample")
    ax.set_yticks(range(grid.shape[0]))
    ax.set_title("max |actual - expected| over the units" if sequence else "|actual - expected|")
    fig.colorbar(image, ax=ax, label="absolute error")
    fig.savefig(f"{stem}-heatmap.png")
    plt.close(fig)
    written.append((f"{stem.name}-heatmap.png", "Error per timestep and batch sample" if sequence
                    else "Error per batch sample and unit"))
    if sequence and e.shape[1] > 1:
        sample, _, unit = np.unravel_index(int(np.argmax(shown)), shown.shape)
        fig, ax = plt.subplots(figsize=(7.5, 2.8), dpi=80)
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.18, top=0.88)
        steps = np.arange(e.shape[1])
        ax.plot(steps, e[sample, :, unit], "o-", label="expected (reference)", color="#1f77b4")
        ax.plot(steps, a[sample, :, unit], "s--", label="actual", color="#d62728")
        ax.set_xlabel("timestep (processing order)")
        ax.set_ylabel("output")
        ax.set_title(f"sample {sample}, unit {unit} (the largest error)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.savefig(f"{stem}-unit.png")
        plt.close(fig)
        written.append((f"{stem.name}-unit.png", f"Expected and actual over time, sample {sample}, unit {unit}"))
    return written


def badge(label, value, colour):
    """A flat badge (shields.io style) as SVG text; widths from the text length."""
    def width(text):
        return 6.5 * len(text) + 12

    lw, vw = width(label), width(value)
    label, value = html.escape(label), html.escape(value)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + vw:.0f}" height="20" role="img" '
            f'aria-label="{label}: {value}"><title>{label}: {value}</title>'
            f'<rect width="{lw:.0f}" height="20" fill="#555"/>'
            f'<rect x="{lw:.0f}" width="{vw:.0f}" height="20" fill="{colour}"/>'
            f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
            f'<text x="{lw / 2:.0f}" y="14">{label}</text><text x="{lw + vw / 2:.0f}" y="14">{value}</text></g></svg>\n')


def pass_badge(name, counts, catalog_version=None):
    """The badge of one target: pass rate over the cases it supports, and the catalog version."""
    judged = sum(counts.values()) - counts.get("unsupported", 0)
    rate = counts.get("pass", 0) / judged if judged else 0.0
    colour = "#4c1" if rate >= 0.99 else "#a4a61d" if rate >= 0.9 else "#dfb317" if rate >= 0.75 else "#e05d44"
    value = f"{100 * rate:.1f}% pass" + (f" · catalog {catalog_version}" if catalog_version else "")
    return badge(f"SimpleRNN {name}", value, colour)
