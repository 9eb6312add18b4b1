"""The `augmentation:` config: errors that list the valid choices, YAML loading, the curriculum."""

from __future__ import annotations

import pytest

from vlmdata.augment import AugmentationConfig, AugmentPipeline, load_augmentation_config
from vlmdata.augment.ops import OPS
from vlmdata.errors import VlmdataError


def err(cfg) -> VlmdataError:
    with pytest.raises(VlmdataError) as info:
        AugmentPipeline.from_config(cfg)
    return info.value


def test_unknown_op_lists_valid_ops():
    e = err({"ops": [{"name": "rotat"}]})
    assert e.code_str == "VD650"
    assert all(name in str(e) for name in OPS)


def test_unknown_param_lists_valid_params_and_all_problems_reported_together():
    e = err(
        {"ops": [{"name": "rotate", "params": {"angle": 5}}, {"name": "hflip", "params": {"p": 2}}], "fil": 1}
    )
    text = str(e)
    assert e.code_str == "VD651"
    assert "angle_range, p" in text  # the valid params of rotate
    assert "augmentation.ops[1]: op 'hflip': p:" in text and "less than or equal to 1" in text
    assert "unknown key 'fil'" in text and "fill" in text
    assert len(e.details) == 3


def test_bad_ranges_and_settings():
    assert "low <= high" in str(err({"ops": [{"name": "rotate", "params": {"angle_range": [5, -5]}}]}))
    assert err({"bbox_rotation": "rotate"}).code_str == "VD652"
    assert err({"ops": [{"name": "crop", "params": {"size_range": [0.5, 1.5]}}]}).code_str == "VD651"


def test_yaml_section_or_whole_train_config(tmp_path):
    f = tmp_path / "train.yaml"
    f.write_text(
        "plugin: sft\naugmentation:\n  seed: 3\n  ops:\n    - {name: hflip, params: {p: 0.5}}\n",
        encoding="utf-8",
    )
    cfg = load_augmentation_config(f)
    assert isinstance(cfg, AugmentationConfig) and cfg.seed == 3 and cfg.ops[0].name == "hflip"
    bad = tmp_path / "bad.yaml"
    bad.write_text("ops: [\n", encoding="utf-8")
    with pytest.raises(VlmdataError, match="VD600"):  # the shared YAML loader's parse error, with file:line
        load_augmentation_config(bad)
    not_section = tmp_path / "not_section.yaml"
    not_section.write_text("augmentation: [hflip]\n", encoding="utf-8")
    with pytest.raises(VlmdataError, match="VD655"):
        load_augmentation_config(not_section)
    typo = tmp_path / "typo.yaml"
    typo.write_text("ops:\n  - {name: flip}\n", encoding="utf-8")
    with pytest.raises(VlmdataError) as info:
        load_augmentation_config(typo)
    assert str(typo) in str(info.value) and "VD650" in str(info.value)


CURRICULUM = {
    "bypass_prob": 0.8,
    "ops": [{"name": "rotate", "params": {"p": 0.2, "angle_range": [-2.0, 2.0]}}, {"name": "hflip"}],
    "curriculum": {
        "phases": [
            {
                "until_step": 100,
                "bypass_prob": 0.4,
                "ops": {"rotate": {"angle_range": [-10.0, 10.0], "p": 0.6}},
            },
            {"until_step": 300, "bypass_prob": 0.0},
        ]
    },
}


def test_curriculum_interpolates_as_a_pure_function_of_step():
    p = AugmentPipeline.from_config(CURRICULUM)
    r0, r50, r100, r200, r999 = (p.params_at(s) for s in (0, 50, 100, 200, 999))
    assert r0.bypass_prob == 0.8 and r0.params[0].angle_range == (-2.0, 2.0)
    assert r50.bypass_prob == pytest.approx(0.6) and r50.params[0].angle_range == pytest.approx((-6.0, 6.0))
    assert r50.params[0].p == pytest.approx(0.4)
    assert r100.params[0].angle_range == pytest.approx((-10.0, 10.0))
    assert r200.bypass_prob == pytest.approx(0.2) and r200.params[0].angle_range == pytest.approx(
        (-10.0, 10.0)
    )
    assert r999.bypass_prob == 0.0
    assert AugmentPipeline.from_config(CURRICULUM).params_at(50) == r50  # no hidden state
    assert p.params_at(None).bypass_prob == 0.8


def test_curriculum_fractions_need_total_steps():
    cfg = {
        "ops": [{"name": "rotate"}],
        "curriculum": {"phases": [{"until_fraction": 0.5, "ops": {"rotate": {"angle_range": [-20, 20]}}}]},
    }
    with pytest.raises(VlmdataError, match="VD654"):
        AugmentPipeline.from_config(cfg).params_at(10)
    p = AugmentPipeline.from_config(cfg, total_steps=1000)
    assert p.params_at(250).params[0].angle_range == pytest.approx((-15.0, 15.0))
    assert p.params_at(500).params[0].angle_range == pytest.approx((-20.0, 20.0))


@pytest.mark.parametrize(
    "phases,needle",
    [
        ([{"until_step": 10, "until_fraction": 0.5}], "exactly one of"),
        ([{"until_step": 10}, {"until_step": 5}], "increase"),
        ([{"until_fraction": 1.5}], "less than or equal to 1"),
        ([{"until_step": 10, "ops": {"vflip": {"p": 1.0}}}], "exactly once"),
        ([{"until_step": 10, "ops": {"rotate": {"angle": 3}}}], "numeric params"),
        ([{"until_step": 10, "speed": 3}], "unknown key 'speed'"),
    ],
)
def test_curriculum_errors(phases, needle):
    e = err({"ops": [{"name": "rotate"}], "curriculum": {"phases": phases}})
    assert e.code_str == "VD653"
    assert needle in str(e)
