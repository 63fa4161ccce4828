"""Archive-level flags: which ok images stand out from the rest of their archive.

Zero-shot means no calibration set, so "anomalous" can only mean "unusual for this archive".
Each ok image gets ``anomaly_z``, a robust z-score of its ``score_p99`` (:data:`FLAG_SCORE`)
against every ok image of the store (median and MAD, so a few defective images do not move the
reference), and ``is_anomalous``: ``anomaly_z >= z_cut``, or ``score_p99 >= threshold`` when a
threshold is given.
Failed and unfinished rows get NaN / False. Flags are recomputed over the whole store at the end
of every scan; the fit results (maps, scores) are never touched.

Why the 99th percentile and not the maximum: chosen under the leave-one-set-out protocol
(bench/leave_one_set_out.py, docs/RESULTS.md) by all sets together and in six of seven folds; a single
hot pixel moves the maximum, not the percentile.

The z-score is taken on log(score): the default aggregation multiplies two error maps, so
scores of normal images spread over decades and a linear MAD would flag the ordinary right tail.
When some score is not positive the linear scale is used instead (the store records which).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import zarr

from pipeline.layout import STATUS, VAR_ATTRS, index_chunk, quiet_zarr

Z_VAR = "anomaly_z"
FLAG_VAR = "is_anomalous"
FLAG_VARS = (Z_VAR, FLAG_VAR)
ATTR = "flags"
# The image score flags and rankings use (an index variable of every store).
FLAG_SCORE = "score_p99"
DEFAULT_Z = 3.5
# 1 / Phi^-1(3/4): makes the MAD a standard deviation for normal data.
MAD_TO_SD = 1.4826
# sqrt(pi / 2): the same for the mean absolute deviation, the fallback when over half the scores tie.
MEANAD_TO_SD = 1.2533


@dataclass(frozen=True)
class Rule:
    z_cut: float = DEFAULT_Z
    threshold: float = 0.0   # absolute cut-off of `score`; 0: use z_cut
    scale: str = "log"
    centre: float = float("nan")
    spread: float = float("nan")
    # A rule recorded before flags moved to FLAG_SCORE was measured on score_max.
    score: str = "score_max"

    def cut_score(self) -> float:
        """The value of ``score`` at which an image becomes flagged (for histograms and outlines)."""
        if self.threshold > 0:
            return self.threshold
        if not np.isfinite(self.centre) or not np.isfinite(self.spread) or self.spread <= 0:
            return float("inf")
        value = self.centre + self.z_cut * self.spread
        return float(np.exp(value)) if self.scale == "log" else float(value)

    def describe(self) -> str:
        if self.threshold > 0:
            return f"{self.score} >= {self.threshold:g}"
        return f"robust z of {'log ' if self.scale == 'log' else ''}{self.score} >= {self.z_cut:g}"


def robust_z(scores: np.ndarray, z_cut: float = DEFAULT_Z, threshold: float = 0.0) -> tuple[np.ndarray, Rule]:
    """z-scores of ``scores`` (finite values of ok images) and the rule they were measured with."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores, Rule(z_cut, threshold, score=FLAG_SCORE)
    scale = "log" if np.all(scores > 0) else "linear"
    x = np.log(scores) if scale == "log" else scores
    centre = float(np.median(x))
    dev = np.abs(x - centre)
    spread = MAD_TO_SD * float(np.median(dev))
    if spread == 0:
        spread = MEANAD_TO_SD * float(np.mean(dev))
    if spread == 0:
        # Every score equal: nothing stands out.
        z = np.zeros_like(x)
    else:
        z = (x - centre) / spread
    return z, Rule(z_cut, threshold, scale, centre, spread, FLAG_SCORE)


def _group_array(group: zarr.Group, name: str, n: int) -> zarr.Array:
    if name in group:
        arr = group[name]
        if arr.shape[0] != n:
            arr.resize((n,))
        return arr
    kind = {"dtype": "float64", "fill_value": float("nan")} if name == Z_VAR else {"dtype": "bool", "fill_value": False}
    return group.create_array(name, shape=(n,), chunks=(index_chunk(name),), dimension_names=["image"],
                              attributes=VAR_ATTRS[name], **kind)


def flag_store(store: str | os.PathLike, z_cut: float = DEFAULT_Z, threshold: float = 0.0) -> dict[str, Any]:
    """Recompute every group's flags from all ok rows of ``store``.

    The caller holds the store lock and no writer has it open. Returns ``flagged`` (count),
    ``flagged_ids`` (sorted) and ``flag_rule`` for the scan summary.
    """
    with quiet_zarr():
        root = zarr.open_group(os.fspath(store), mode="a", zarr_format=3, use_consolidated=False)
        result = _flag_groups(root, z_cut, threshold)
        zarr.consolidate_metadata(os.fspath(store))
    return result


def _flag_groups(root: zarr.Group, z_cut: float, threshold: float) -> dict[str, Any]:
    groups = {name: root[name] for name in sorted(root.group_keys())}
    parts = {}
    for name, g in groups.items():
        ids = np.asarray(g["image"][:]).astype(object)
        ok = np.asarray(g[STATUS][:]).astype(object) == "ok"
        score = np.asarray(g[FLAG_SCORE][:], dtype=np.float64)
        parts[name] = (ids, ok & np.isfinite(score), score)
    pooled = np.concatenate([s[m] for _, m, s in parts.values()]) if parts else np.array([])
    z_ok, rule = robust_z(pooled, z_cut, threshold)
    flagged: list[str] = []
    at = 0
    for name, (ids, mask, score) in parts.items():
        z = np.full(ids.shape, np.nan)
        z[mask] = z_ok[at: at + int(mask.sum())]
        at += int(mask.sum())
        flag = mask & ((score >= threshold) if threshold > 0 else (z >= z_cut))
        # Written whole: flags are cheap (two values a row) next to the maps.
        _group_array(groups[name], Z_VAR, ids.size)[:] = z
        _group_array(groups[name], FLAG_VAR, ids.size)[:] = flag
        flagged.extend(str(i) for i in ids[flag])
    # Nested attributes, not a JSON string: data a reader gets as it is (NaN, which JSON lacks, as null).
    root.attrs[ATTR] = {**{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                           for k, v in asdict(rule).items()}, "ok": int(pooled.size), "flagged": len(flagged)}
    return {"flagged": len(flagged), "flagged_ids": sorted(flagged), "flag_rule": rule.describe()}


def stored_rule(attrs: dict[str, Any]) -> tuple[Rule, dict[str, Any]]:
    """The rule the store's flags were last computed with (defaults when never flagged)."""
    raw = attrs.get(ATTR, {})
    raw = json.loads(raw) if isinstance(raw, str) else dict(raw)  # a string in stores before 2026-12-04
    fields = {k: (float("nan") if raw[k] is None else raw[k]) for k in Rule.__dataclass_fields__ if k in raw}
    return Rule(**fields), raw


def flag_line(summary: dict[str, Any]) -> str:
    """The human summary's line about flags."""
    line = f"  flagged {summary.get('flagged', 0)} ({summary.get('flag_rule', '')})"
    ids = summary.get("flagged_ids", [])
    shown = ", ".join(ids[:10]) + (f", ... (+{len(ids) - 10})" if len(ids) > 10 else "")
    return line + (f": {shown}" if ids else "")
