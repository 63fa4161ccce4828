"""The one configuration object.

Its fields are the CLI flags (``--steps`` for ``steps``), the keyword arguments of
:func:`ssdnet.detect` and the provenance written next to every result. Presets fill the
fields first, ``SSDNET_<FIELD>`` environment variables override the preset, explicit
arguments override both.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import math
import os
from dataclasses import dataclass, field, fields
from types import SimpleNamespace
from typing import Any

# Fields that never change a heatmap: where and how fast it ran, and what input is accepted.
# A store is bound to the others (see Config.method_dict).
RUNTIME_FIELDS = frozenset({"device", "threads", "max_pixels", "vgg19_weights"})


# ``map_units``: the power of the network's mean squared intensity inpainting error that the map,
# in multiples of its image's typical error, is multiplied by (0.5: its root, grey levels).
MAP_UNITS_POWER: dict[str, float] = {"sqrt-rms": 0.25, "rms": 0.5, "mean": 0.0}


def _opt(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class Config:
    preset: str = _opt("fused", "Preset that fills every field not given: fused (default: the network's maps fused "
                       "with classical surface statistics where the image's structure is unpredictable; chosen "
                       "on held-out sets, docs/RESULTS.md), paper (the network's reconstruction and inpainting "
                       "errors alone), accurate (fused with two fits per image, maps averaged: steadier, twice "
                       "the cost) or fast (fused, a smaller, shorter fit).",
                       choices=("fused", "paper", "accurate", "fast"))
    size: int = _opt(256, "Working resolution: the image's shorter side is resized to this many pixels.")
    tile_above: int = _opt(0, "Images whose shorter side is more than this many pixels are analysed at their own "
                           "resolution in overlapping size x size tiles, one fit per tile, the tiles' maps blended "
                           "into one: small defects on large images stay visible, at the cost of one fit per "
                           "tile (0 = never: every image is resized to size).")
    features: str = _opt("patchncc", "Feature extractor for the perceptual loss and error map: "
                         "patchncc (weight-free, default), randconv (weight-free) or vgg19.",
                         choices=("patchncc", "randconv", "vgg19"))
    vgg19_weights: str = _opt("", "Path of torchvision-format VGG19 ImageNet weights (.pth); "
                              "empty: torch hub's checkpoint cache.")
    max_pixels: int = _opt(50_000_000, "Refuse images with more pixels than this (decompression-bomb guard).")
    seed: int = _opt(0, "Random seed of the fit (initialisation, patch sampling, corruptions).")
    device: str = _opt("auto", "auto, cpu, cuda or cuda:N.")
    threads: int = _opt(0, "Torch threads for the fit; 0 keeps torch's default.")
    precision: str = _opt("float32", "Arithmetic of the network: float32, or bfloat16 (autocast; pays on GPUs "
                          "with bf16 units, losses and error maps stay float32).", choices=("float32", "bfloat16"))
    # --- the fit
    steps: int = _opt(260, "Optimisation steps of the per-image fit.")
    lr: float = _opt(2e-3, "Peak learning rate of the one-cycle schedule.")
    batch: int = _opt(1, "Patches per step at the largest scale (more at smaller scales, same pixel count).")
    width: int = _opt(12, "Channels of the U-Net's first level (doubled per level).")
    scales: str = _opt("2,4,8", "Patch sizes as divisions of the shorter image side (2 = half the side).")
    mask_ratio: float = _opt(0.5, "Fraction of mask blocks blanked in each training patch.")
    mask_grid: int = _opt(8, "Mask blocks per patch side.")
    shuffle_grid: int = _opt(4, "Sub-tiles per patch side permuted by patch shuffling (0 or 1 = off).")
    shuffle_prob: float = _opt(0.5, "Probability that a training patch is shuffled.")
    noise_sigma: float = _opt(0.03, "Standard deviation of the Gaussian noise added to the input.")
    pixel_weight: float = _opt(100.0, "Weight of the pixel L2 loss.")
    perceptual_weight: float = _opt(1.0, "Weight of the cosine perceptual loss (0 = pixel loss only).")
    trim: float = _opt(0.0, "Fraction of each training patch's worst-reconstructed pixels left out of the loss, "
                       "so a defect the fit has not learned yet is never learned (0 = off).")
    average: float = _opt(0.0, "Share of the fit's last steps whose weights are averaged into the fitted network "
                          "(0 = the last step's weights).")
    ensemble: int = _opt(1, "Networks fitted per image, with seeds seed, seed+1, ...; their maps are averaged: "
                         "less seed-to-seed spread for n times the work (packed together on a GPU, one by one "
                         "on a CPU).")
    # --- the heatmap
    infer_scales: str = _opt("1", "Downscale factors at which the clean-input error is measured.")
    inpaint_blocks: str = _opt("4,8", "Block sizes (working pixels) of the checkerboard inpainting error.")
    aggregation: str = _opt("meanmax", "How the pixel and perceptual error maps combine: meanmax (maximum of "
                            "each map over its image mean), medianmax (over its median), zmax (of robust z-scores), "
                            "zmean or product.", choices=("meanmax", "medianmax", "zmax", "zmean", "product"))
    smooth_sigma: float = _opt(6.0, "Gaussian smoothing of the texture map, in working pixels.")
    surface_sigma: float = _opt(1.0, "Gaussian smoothing of the surface map (intensity inpainting error), "
                                "in working pixels (2 before 2026-12-06).")
    surface_windows: str = _opt("48,96", "Windows (working pixels) of the surface map's local fills: each adds "
                                "the inpainting error with hidden blocks filled by the median of their "
                                "surroundings in such a window, averaged with the image-mean fill's (0 = the "
                                "image-mean fill only).")
    surface_level: float = _opt(5.0, "Gaussian sigma (working pixels) of the surface map's level map: the local "
                                "fills' inpainting residual, signed, smoothed by this, then squared, so a region "
                                "shifted in brightness by less than the surface's own grain (a stain) shows; "
                                "averaged over the fills, one more map in the surface map's mean (0 = none).")
    surface_grain: float = _opt(4.0, "Gaussian sigma (working pixels) of the surface map's grain map: how far "
                                "the local grain (structure tensor: direction and strength of the gradients) "
                                "differs from the image's typical grain, one more map in the surface map's mean, "
                                "weighted by how strong that typical grain is (none on an isotropic surface; "
                                "0 = no grain map).")
    surface_contrast: float = _opt(1.0, "Gaussian sigma (working pixels) of the surface map's contrast map: how "
                                   "far the local contrast (the energy of the image's finest detail, smoothed by "
                                   "this) departs from the image's typical contrast, as a squared log ratio, one "
                                   "more map in the surface map's mean (0 = no contrast map).")
    surface_region: float = _opt(8.0, "Gaussian sigma (working pixels) of the surface map's region map: how far "
                                 "each neighbourhood's roughness and grain, taken together, depart "
                                 "from the image's typical neighbourhood (a robust Mahalanobis distance), one more "
                                 "map in the surface map's mean (0 = no region map).")
    surface_weights: str = _opt("1,1,1,1", "Weights of the level, grain, contrast and region maps in the surface "
                                "map's mean, where each inpainting error (image-mean fill, each local fill) "
                                "weighs 1; the grain map's is also scaled by how strong the image's grain is.")
    gate_low: float = _opt(0.3, "Predictability of the image's local structure (median correlation of the "
                           "inpainted image with the image, -1..1, both blurred by gate_sigma) at or below which "
                           "the heatmap is the surface map alone; linear blend up to gate_high.")
    gate_high: float = _opt(0.45, "Predictability at or above which the heatmap is the texture map alone "
                            "(gate_low = gate_high = -1: the texture map for every image).")
    gate_sigma: float = _opt(1.0, "Gaussian blur (working pixels) of the image and its inpainted composite "
                             "before the gate's correlation is measured, so sensor noise and dead pixels do not "
                             "make a regular texture look unpredictable (0 = none).")
    border_width: int = _opt(16, "Edge band (working pixels) whose errors are brought down, line by line, "
                             "to the interior's level: no false alarms along the image edge (0 = off).")
    border_floor: float = _opt(0.0, "Least factor by which the edge band scales a line down (0..1; 0 = no "
                               "limit): a line many times noisier than the interior is the image's content "
                               "(a bevel, a rim), not the network's edge effect.")
    map_units: str = _opt("sqrt-rms", "Units of the heatmap: mean (multiples of the image's typical error), rms "
                          "(the same times the root mean squared error of the network's inpainting of the image: "
                          "an image the network cannot rebuild anywhere scores higher than a well-rebuilt one) or "
                          "sqrt-rms (times the square root of that rms error: halfway between the two).",
                          choices=tuple(MAP_UNITS_POWER))

    def __post_init__(self) -> None:
        problems = validate(self)
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def method_dict(self) -> dict[str, Any]:
        """The fields that determine a map: what a store is bound to."""
        return {k: v for k, v in self.to_dict().items() if k not in RUNTIME_FIELDS}

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)

    @property
    def scale_list(self) -> list[int]:
        return _int_list(self.scales)

    @property
    def infer_scale_list(self) -> list[int]:
        return _int_list(self.infer_scales)

    @property
    def inpaint_block_list(self) -> list[int]:
        return _int_list(self.inpaint_blocks)

    @property
    def surface_window_list(self) -> list[int]:
        return [v for v in _int_list(self.surface_windows) if v > 0]

    @property
    def surface_weight_list(self) -> list[float]:
        """The level, grain, contrast and region maps' weights (``surface_weights``)."""
        return _float_list(self.surface_weights)


class ConfigError(ValueError):
    """A configuration value that cannot run."""


DEFAULT_PRESET = "fused"

# The surface map's parts that are not the network: local median fills and the level, grain,
# contrast and region statistics. Without them the heatmap is the paper's principle alone: the
# fitted network's reconstruction and inpainting errors (the gate still picks the texture map or
# the network's intensity inpainting error per image).
CLASSICAL_OFF: dict[str, Any] = {"surface_windows": "0", "surface_level": 0.0, "surface_grain": 0.0,
                                 "surface_contrast": 0.0, "surface_region": 0.0}

PRESETS: dict[str, dict[str, Any]] = {
    # The default because the leave-one-set-out protocol adopts it (`surface-sharp-sqrt-rms` there:
    # bench/leave_one_set_out.py, docs/RESULTS.md); named apart from `paper` because its surface
    # map fuses classical statistics with the network's errors (issue 26).
    "fused": {},
    # Kept in the units and smoothing its figures were measured in: those were chosen for `fused` alone.
    "paper": {**CLASSICAL_OFF, "map_units": "mean", "surface_sigma": 2.0},
    # Two seeds per image, averaged: the seed-to-seed spread of one fit is the largest error left
    # (docs/METHOD.md, "Reproducibility"); twice the work of fused.
    "accurate": {"ensemble": 2},
    # A few seconds per 256x256 image on a 2-core CPU; see docs/METHOD.md for what it costs in accuracy.
    "fast": {"steps": 60, "batch": 1, "width": 8},
}


# Fields added after stores and saved fits were first made, each with the value that gives the
# maps made before the field existed (its default, unless the new default changed the maps). A
# record written before then lacks them and counts as that value: an upgrade does not refuse a
# store whose maps it would make the same, and one whose maps it would change is refused naming
# the field and the value that continues it. Fields added before this list existed (the gate's,
# the surface fills') are not listed: those stores are refused as made by an earlier method.
ADDED_KEEPING_MAPS: dict[str, Any] = {"tile_above": 0, "average": 0.0, "surface_level": 0.0, "border_floor": 0.0,
                                      "surface_grain": 0.0, "surface_contrast": 0.0,
                                      "surface_region": 0.0, "map_units": "mean",
                                      "surface_weights": "1,1,1,1"}


def complete_record(recorded: dict[str, Any]) -> dict[str, Any]:
    """A config recorded by an earlier version, with the fields of :data:`ADDED_KEEPING_MAPS`
    it predates filled in at the values that gave its maps."""
    return {**ADDED_KEEPING_MAPS, **recorded}


def _int_list(text: str) -> list[int]:
    return [int(t) for t in str(text).replace(" ", "").split(",") if t]


def _float_list(text: str) -> list[float]:
    return [float(t) for t in str(text).replace(" ", "").split(",") if t]


def field_names() -> list[str]:
    return [f.name for f in fields(Config)]


def _not_finite(value: Any) -> bool:
    """A number that is NaN or infinite (a non-number is the type check's to refuse)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value)


def finite_problems(cfg: Any, names: Any) -> tuple[list[str], set[str]]:
    """``<name> must be a finite number (got nan)`` for each of the float settings ``names`` of
    ``cfg`` that is NaN or infinite, and those names (their other checks would only repeat it).

    No float setting means anything by NaN or infinity (where one has an "off" or "no limit", it
    is 0), and NaN compares false: a range check alone would let it through."""
    bad = {name for name in names if _not_finite(getattr(cfg, name))}
    return [f"{name} must be a finite number (got {getattr(cfg, name)})" for name in names if name in bad], bad


def validate(cfg: Config) -> list[str]:
    floats = [f.name for f in fields(Config) if f.type == "float"]
    out, bad = finite_problems(cfg, floats)  # refused once: the range checks below skip those
    choice = {f.name: f.metadata.get("choices") for f in fields(Config)}
    for name, options in choice.items():
        if options and getattr(cfg, name) not in options:
            out.append(f"{name} must be one of {', '.join(options)} (got {getattr(cfg, name)!r})")
    if cfg.size < 16:
        out.append(f"size must be at least 16 (got {cfg.size})")
    if cfg.tile_above and cfg.tile_above < cfg.size:
        out.append(f"tile_above must be 0 (off) or at least size, {cfg.size} (got {cfg.tile_above})")
    if cfg.border_width < 0:
        out.append(f"border_width must not be negative (got {cfg.border_width})")
    if "border_floor" not in bad and not 0.0 <= cfg.border_floor <= 1.0:
        out.append(f"border_floor must be in [0, 1] (got {cfg.border_floor})")
    for name in ("steps", "batch", "width", "max_pixels", "mask_grid", "ensemble"):
        if getattr(cfg, name) < 1:
            out.append(f"{name} must be positive (got {getattr(cfg, name)})")
    if cfg.threads < 0:
        out.append(f"threads must be 0 (torch default) or positive (got {cfg.threads})")
    if "mask_ratio" not in bad and not 0.0 <= cfg.mask_ratio < 1.0:
        out.append(f"mask_ratio must be in [0, 1) (got {cfg.mask_ratio})")
    if "average" not in bad and not 0.0 <= cfg.average <= 1.0:
        out.append(f"average must be in [0, 1] (got {cfg.average})")
    if "trim" not in bad and not 0.0 <= cfg.trim < 1.0:
        out.append(f"trim must be in [0, 1) (got {cfg.trim})")
    if "shuffle_prob" not in bad and not 0.0 <= cfg.shuffle_prob <= 1.0:
        out.append(f"shuffle_prob must be in [0, 1] (got {cfg.shuffle_prob})")
    if not bad & {"gate_low", "gate_high"} and not -1.0 <= cfg.gate_low <= cfg.gate_high <= 1.0:
        out.append(f"gate_low and gate_high must satisfy -1 <= gate_low <= gate_high <= 1 "
                   f"(got {cfg.gate_low}, {cfg.gate_high})")
    for name in ("lr", "noise_sigma", "pixel_weight", "perceptual_weight", "smooth_sigma", "surface_sigma",
                 "surface_level", "surface_grain", "surface_contrast", "surface_region", "gate_sigma"):
        if name not in bad and getattr(cfg, name) < 0:
            out.append(f"{name} must not be negative (got {getattr(cfg, name)})")
    for name, least, what in (("scales", 1, "positive integers"), ("infer_scales", 1, "positive integers"),
                              ("inpaint_blocks", 1, "positive integers"),
                              ("surface_windows", 4, "window sizes of at least 4 working pixels, or be 0")):
        try:
            values = _int_list(getattr(cfg, name))
        except ValueError:
            out.append(f"{name} must be comma-separated integers (got {getattr(cfg, name)!r})")
            continue
        if (not values or min(values) < least) and not (name == "surface_windows" and values == [0]):
            out.append(f"{name} must list {what} (got {getattr(cfg, name)!r})")
    try:
        weights = _float_list(cfg.surface_weights)
    except ValueError:
        weights = []
    if len(weights) != 4 or min(weights) < 0 or not all(w < float("inf") for w in weights):
        out.append(f"surface_weights must be four non-negative numbers: the level, grain, contrast and region "
                   f"maps' weights (got {cfg.surface_weights!r})")
    dev = cfg.device
    if not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        out.append(f"device must be auto, cpu, cuda or cuda:N (got {dev!r})")
    return out


log = logging.getLogger("ssdnet")
_ENV_SAID: set[tuple[tuple[str, str], ...]] = set()
ENV_PREFIX = "SSDNET_"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_KIND_WORDS = {"tuple[str, ...]": "a list of strings"}


def coerce(name: str, value: Any, kind: str, text: bool = False) -> Any:
    """``value`` of the setting ``name`` as its declared ``kind`` (the annotation: ``int``,
    ``float``, ``str``, ``bool`` or ``tuple[str, ...]``), or ConfigError saying why not.

    The one type check of every option (Config fields and the pipeline's scan options alike).
    A value must have the type (an int passes as a float, a bool never as a number); with
    ``text`` a string is parsed (environment variables, and :func:`resolve`'s arguments as
    ever: ``steps="100"``; the pipeline's TOML and keywords are strict). A comma list field
    (``scales``...) also takes a sequence of integers, stored as its text ``"2,4"``.
    """
    if text and isinstance(value, str):
        try:
            if kind == "bool" and value.strip().lower() in _TRUE + _FALSE:
                return value.strip().lower() in _TRUE
            if kind in ("int", "float"):
                return {"int": int, "float": float}[kind](value)
            if kind == "tuple[str, ...]":
                return tuple(v for v in value.split(",") if v)
        except ValueError:
            pass
    if kind == "str" and isinstance(value, (list, tuple)):
        try:
            return ",".join(str(int(v)) for v in value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be integers (got {list(value)!r})") from None
    ok = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
          "tuple[str, ...]": (list, tuple)}[kind]
    if isinstance(value, bool) and kind != "bool" or not isinstance(value, ok):
        raise ConfigError(f"{name} must be {_KIND_WORDS.get(kind, kind)} (got {value!r})")
    if kind == "tuple[str, ...]":
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name} must be a list of strings (got {value!r})")
        return tuple(value)
    return float(value) if kind == "float" else value


def unknown_option(name: str, known: list[str]) -> str:
    """``unknown option 'stepz' (did you mean steps?)``."""
    close = difflib.get_close_matches(name, known, n=1)
    return f"unknown option {name!r}" + (f" (did you mean {close[0]}?)" if close else "")


def environment() -> dict[str, str]:
    """The ``SSDNET_<FIELD>`` settings of this process (documented: README, "Presets"), said
    once as a warning per distinct set, never silently."""
    env = {n: os.environ[f"{ENV_PREFIX}{n.upper()}"] for n in field_names()
           if f"{ENV_PREFIX}{n.upper()}" in os.environ}
    said = tuple(sorted(env.items()))
    if said and said not in _ENV_SAID:
        _ENV_SAID.add(said)
        log.warning("settings from the environment: %s",
                    ", ".join(f"{ENV_PREFIX}{k.upper()}={v}" for k, v in said))
    # A misspelt one (SSDNET_STEP) acts on nothing: say so rather than let it pass for a setting.
    for var in sorted(os.environ):
        name = var[len(ENV_PREFIX):].lower()
        if var.startswith(ENV_PREFIX) and name not in env:
            close = difflib.get_close_matches(name, field_names(), n=1, cutoff=0.8)
            if close and ((var, "near"),) not in _ENV_SAID:
                _ENV_SAID.add(((var, "near"),))
                log.warning("%s is not a setting and changes nothing (did you mean %s%s?)",
                            var, ENV_PREFIX, close[0].upper())
    return env


def _label(label: str, name: str) -> str:
    return label.format(name=name, flag="--" + name.replace("_", "-"))


def resolve_sourced(layers: list[tuple[str, dict[str, Any]]],
                    under_env: dict[str, Any] | None = None) -> tuple[Config, dict[str, str]]:
    """The Config of ``layers`` and where each field came from: preset < ``under_env`` (a
    caller's defaults) < environment (``SSDNET_<FIELD>``) < each layer in turn.

    A layer is ``(label, values)``; the label names the source in errors and provenance and
    may hold ``{name}`` or ``{flag}`` (``--steps``). A bad value raises ConfigError as
    ``<source>: <why>`` (no source for an empty label). ``None`` values mean "not given".
    """
    env = environment()
    names = field_names()
    kinds = {f.name: f.type for f in fields(Config)}
    given: dict[str, tuple[str, Any]] = {}
    for label, values in layers:
        for key, value in values.items():
            if value is None:
                continue
            if key not in kinds:
                where = _label(label, key)
                raise ConfigError(f"{where + ': ' if where else ''}{unknown_option(key, names)}")
            given[key] = (label, value)

    def checked(name: str, label: str, value: Any, text: bool = False) -> Any:
        try:
            return coerce(name, value, kinds[name], text)
        except ConfigError as exc:
            where = _label(label, name)
            raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None

    if "preset" in given:
        preset = checked("preset", *given["preset"])
        preset_source = given["preset"][0]
    else:
        preset, preset_source = env.get("preset", DEFAULT_PRESET), f"{ENV_PREFIX}PRESET" if "preset" in env else ""
    if preset not in PRESETS:
        where = _label(preset_source, "preset")
        raise ConfigError(f"{where + ': ' if where else ''}preset must be one of {', '.join(PRESETS)} "
                          f"(got {preset!r})")
    values: dict[str, Any] = dict(PRESETS[preset])
    sources = {n: f"preset {preset}" if n in PRESETS[preset] else "default" for n in names}
    for name, value in (under_env or {}).items():
        values[name], sources[name] = value, "default"
    for name, value in env.items():
        values[name] = checked(name, f"{ENV_PREFIX}{name.upper()}={value}", value, text=True)
        sources[name] = f"{ENV_PREFIX}{name.upper()}"
    for name, (label, value) in given.items():
        values[name] = checked(name, label, value, text=True)  # "100" from a script's own flags, as before
        sources[name] = _label(label, name) or "argument"
    values["preset"] = preset
    sources["preset"] = _label(preset_source, "preset") or ("argument" if "preset" in given else "default")
    problems = validate(SimpleNamespace(**{**{f.name: f.default for f in fields(Config)}, **values}))
    if problems:
        # Each problem starts with the field it is about: name that field's source.
        said = []
        for problem in problems:
            name = problem.split(" ", 1)[0]
            where = sources.get(name, "")
            said.append(f"{where}: {problem}" if where not in ("", "default", "argument")
                        and not where.startswith("preset ") else problem)
        raise ConfigError("; ".join(said))
    return Config(**values), sources


def resolve(config: Config | dict | None = None, **overrides: Any) -> Config:
    """Preset < environment (``SSDNET_<FIELD>``) < ``config`` < ``overrides``.

    ``config`` may be a Config (all its fields count as given) or a dict of given fields.
    ``None`` values in overrides mean "not given".
    """
    given: dict[str, Any] = {}
    if isinstance(config, Config):
        given.update(config.to_dict())
    elif config:
        given.update(config)
    given.update({k: v for k, v in overrides.items() if v is not None})
    return resolve_sourced([("", given)])[0]
