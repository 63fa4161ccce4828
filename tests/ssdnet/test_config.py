import dataclasses

import pytest

from ssdnet.config import PRESETS, RUNTIME_FIELDS, Config, ConfigError, complete_record, field_names, resolve


def test_fused_is_the_default_preset():
    assert resolve() == Config()
    assert resolve().preset == "fused"


def test_paper_is_the_network_alone_and_fit_the_same_as_fused():
    paper, fused = resolve(preset="paper"), resolve()
    # No local median fills and no classical statistics in the paper's heatmap...
    assert paper.surface_window_list == []
    assert (paper.surface_level, paper.surface_grain, paper.surface_contrast, paper.surface_region) == (0, 0, 0, 0)
    assert fused.surface_window_list and fused.surface_grain > 0 and fused.surface_region > 0
    # ... and the fit is the same, so the two differ only in how the fitted network is read.
    differ = {f for f in field_names() if getattr(paper, f) != getattr(fused, f)}
    assert differ == {"preset", "surface_windows", "surface_level", "surface_grain", "surface_contrast",
                      "surface_region", "map_units", "surface_sigma"}
    # paper keeps the units and smoothing its figures were measured in; fused's were chosen under
    # leave-one-set-out (issue 26)
    assert (paper.map_units, fused.map_units) == ("mean", "sqrt-rms")
    assert (paper.surface_sigma, fused.surface_sigma) == (2.0, 1.0)


def test_a_record_from_before_map_units_counts_as_mean_units():
    recorded = {k: v for k, v in Config().to_dict().items() if k != "map_units"}
    assert complete_record(recorded)["map_units"] == "mean"
    assert complete_record({**recorded, "map_units": "rms"})["map_units"] == "rms"


def test_accurate_is_fused_with_a_two_fit_ensemble():
    accurate, fused = resolve(preset="accurate"), resolve()
    assert accurate.ensemble == 2 and fused.ensemble == 1
    assert accurate.replace(preset="fused", ensemble=1) == fused


def test_fast_preset_fills_fields_and_overrides_win():
    cfg = resolve(preset="fast", steps=7)
    assert cfg.steps == 7
    for k, v in PRESETS["fast"].items():
        if k != "steps":
            assert getattr(cfg, k) == v


def test_environment_overrides_the_preset_and_arguments_override_the_environment(monkeypatch):
    monkeypatch.setenv("SSDNET_STEPS", "33")
    monkeypatch.setenv("SSDNET_NOISE_SIGMA", "0.1")
    assert resolve(preset="fast").steps == 33
    assert resolve().noise_sigma == 0.1
    assert resolve(steps=5).steps == 5


def test_bad_environment_value_names_the_field(monkeypatch):
    monkeypatch.setenv("SSDNET_STEPS", "many")
    with pytest.raises(ConfigError, match="steps"):
        resolve()


@pytest.mark.parametrize("bad", [dict(size=4), dict(device="gpu"), dict(features="resnet"),
                                 dict(mask_ratio=1.5), dict(scales="2,x"), dict(steps=0), dict(threads=-1),
                                 dict(gate_low=0.5, gate_high=0.3), dict(surface_sigma=-1.0), dict(surface_level=-1.0),
                                 dict(surface_windows="2"), dict(surface_windows="36,x"),
                                 dict(border_floor=1.5), dict(border_floor=-0.1), dict(surface_grain=-1.0),
                                 dict(surface_contrast=-1.0), dict(surface_region=-1.0),
                                 dict(surface_weights="1,1,1"), dict(surface_weights="1,-1,1,1"),
                                 dict(surface_weights="a,1,1,1"), dict(surface_weights="1,1,1,inf"),
                                 dict(surface_weights="1,nan,1,1")])
def test_invalid_values_are_refused_with_the_field_name(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        resolve(**bad)


FLOAT_FIELDS = [f.name for f in dataclasses.fields(Config) if f.type == "float"]


@pytest.mark.parametrize("name", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_every_float_field_refuses_a_value_that_is_not_finite(name, value):
    # Once, naming the field: not also as out of its range (a NaN passes a range check).
    why = f"{name} must be a finite number (got {value})"
    with pytest.raises(ConfigError) as info:
        resolve(**{name: value})
    assert str(info.value) == why
    with pytest.raises(ConfigError) as info:
        Config(**{name: value})
    assert str(info.value) == why


def test_a_non_finite_environment_value_is_refused(monkeypatch):
    monkeypatch.setenv("SSDNET_PIXEL_WEIGHT", "inf")
    with pytest.raises(ConfigError, match=r"^SSDNET_PIXEL_WEIGHT: pixel_weight must be a finite number \(got inf\)$"):
        resolve()
    monkeypatch.setenv("SSDNET_PIXEL_WEIGHT", "NaN")
    with pytest.raises(ConfigError, match=r"^SSDNET_PIXEL_WEIGHT: pixel_weight must be a finite number \(got nan\)$"):
        resolve()


def test_unknown_option_is_refused():
    with pytest.raises(ConfigError, match="unknown option"):
        resolve(stepz=3)


def test_method_dict_excludes_runtime_fields_only():
    d = resolve().method_dict()
    assert set(d) == set(field_names()) - RUNTIME_FIELDS
    assert "seed" in d and "device" not in d


def test_config_round_trips_through_json():
    import json
    cfg = resolve(preset="fast", seed=3)
    assert Config(**json.loads(cfg.to_json())) == cfg
    assert dataclasses.is_dataclass(cfg)


def test_a_record_from_before_the_contrast_map_counts_as_without_it():
    # A store or saved fit written before the field existed made its maps without the contrast
    # map: its record completes to 0, which is not the default, so such a scan is refused.
    recorded = {k: v for k, v in resolve(preset="fused").to_dict().items() if k != "surface_contrast"}
    assert complete_record(recorded)["surface_contrast"] == 0.0
    assert resolve(preset="fused").surface_contrast == 1.0
    assert complete_record({**recorded, "surface_contrast": 2.0})["surface_contrast"] == 2.0


def test_a_record_from_before_the_region_map_counts_as_without_it():
    recorded = {k: v for k, v in resolve(preset="fused").to_dict().items() if k != "surface_region"}
    assert complete_record(recorded)["surface_region"] == 0.0
    assert resolve(preset="fused").surface_region == 8.0


def test_a_record_from_before_the_map_weights_counts_as_weight_one_each():
    recorded = {k: v for k, v in resolve().to_dict().items() if k != "surface_weights"}
    assert complete_record(recorded)["surface_weights"] == "1,1,1,1"
    assert resolve(surface_weights="2, 1,0.5,1").surface_weight_list == [2.0, 1.0, 0.5, 1.0]


def test_list_fields_take_sequences():
    cfg = resolve(scales=[2, 4], inpaint_blocks=(8,))
    assert (cfg.scales, cfg.scale_list, cfg.inpaint_block_list) == ("2,4", [2, 4], [8])
    with pytest.raises(ConfigError, match="scales must be integers"):
        resolve(scales=["two"])


def test_settings_from_the_environment_are_said(monkeypatch, caplog):
    monkeypatch.setenv("SSDNET_STEPS", "41")
    with caplog.at_level("WARNING", logger="ssdnet"):
        assert resolve().steps == 41
        resolve()  # said once per distinct environment, not on every call
    said = [r.getMessage() for r in caplog.records if "environment" in r.getMessage()]
    assert said == ["settings from the environment: SSDNET_STEPS=41"]


def test_one_type_check_with_the_source_named(monkeypatch):
    assert resolve(steps="100").steps == 100  # a script's own string flags, as ever
    with pytest.raises(ConfigError, match="steps must be int \\(got True\\)"):
        resolve(steps=True)
    with pytest.raises(ConfigError, match="^size must be int"):
        resolve(size=1.5)
    monkeypatch.setenv("SSDNET_LR", "fast")
    with pytest.raises(ConfigError, match="^SSDNET_LR=fast: lr must be float"):
        resolve()


def test_sources_name_where_each_value_came_from(monkeypatch):
    from ssdnet.config import resolve_sourced

    monkeypatch.setenv("SSDNET_WIDTH", "9")
    cfg, sources = resolve_sourced([("config file f.toml", {"preset": "fast", "seed": 3}), ("{flag}", {"seed": 4})])
    assert (cfg.width, cfg.seed, cfg.steps) == (9, 4, 60)
    assert sources["width"] == "SSDNET_WIDTH" and sources["seed"] == "--seed"
    assert sources["preset"] == "config file f.toml" and sources["steps"] == "preset fast"
    with pytest.raises(ConfigError, match="^--steps: steps must be positive"):
        resolve_sourced([("{flag}", {"steps": 0})])
