from __future__ import annotations

import pytest

from genodil.errors import InputError
from genodil.models.schedules import TowerGeometry, resolve_dilations


def test_resolve_dilations_exponential():
    assert resolve_dilations({"schedule": "exponential", "rate": 2, "blocks": 5}) == [
        1,
        2,
        4,
        8,
        16,
    ]
    assert resolve_dilations({"schedule": "exponential", "rate": 3, "blocks": 3, "start": 2}) == [
        2,
        6,
        18,
    ]


def test_resolve_dilations_default_is_exponential_rate2_14_blocks():
    assert resolve_dilations(None) == [2**i for i in range(14)]


def test_resolve_dilations_multiplier_follows_basenji_rounding():
    # Basenji: current = 1; each block uses int(np.round(current)); current *= 1.5
    # 1, 1.5, 2.25, 3.375, 5.06, 7.59, 11.39, 17.09, 25.63, 38.44, 57.67
    got = resolve_dilations({"schedule": "multiplier", "start": 1, "factor": 1.5, "blocks": 11})
    assert got == [1, 2, 2, 3, 5, 8, 11, 17, 26, 38, 58]


def test_resolve_dilations_hybrid_cycles_and_scale():
    spec = {"schedule": "hybrid", "cycle": [1, 2, 5], "repeats": 3}
    assert resolve_dilations(spec) == [1, 2, 5, 1, 2, 5, 1, 2, 5]
    spec = {"schedule": "hybrid", "cycle": [1, 2, 5], "repeats": 3, "scale": 8}
    assert resolve_dilations(spec) == [1, 2, 5, 8, 16, 40, 64, 128, 320]


def test_resolve_dilations_list_and_plain_list():
    assert resolve_dilations({"schedule": "list", "values": [1, 4, 16]}) == [1, 4, 16]
    assert resolve_dilations([8, 8, 8, 8]) == [8, 8, 8, 8]
    assert resolve_dilations([1.0, 2.0]) == [1, 2]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ([1, 0, 4], "model.dilations[1] (a dilation) must be an integer >= 1, got 0"),
        ([1, -2], "got -2"),
        ([1, 2.5], "got 2.5"),
        ([], "empty"),
        ({"schedule": "list", "values": [0]}, "values[0]"),
        ({"schedule": "expo", "blocks": 3}, "allowed schedules: exponential, multiplier, hybrid"),
        ({"schedule": "expo", "blocks": 3}, "did you mean 'exponential'"),
        ({"schedule": "exponential", "block": 3}, "unknown key 'block' (did you mean 'blocks'?)"),
        ({"schedule": "hybrid", "cycle": [1, 2, 5]}, "needs key 'repeats'"),
        ({"schedule": "exponential", "blocks": 0}, "blocks must be an integer >= 1"),
        ({"schedule": "exponential", "blocks": 3, "rate": 0}, "rate must be an integer >= 1"),
        ({"schedule": "multiplier", "blocks": 3, "factor": 0.5}, "factor must be a number >= 1"),
        ([True, 2], "got True"),
    ],
)
def test_resolve_dilations_bad_spec_raises(spec, needle):
    with pytest.raises(InputError) as err:
        resolve_dilations(spec)
    assert needle in str(err.value)


def test_tower_geometry_receptive_field_hand_count():
    geo = TowerGeometry.from_config(stem_kernel=15, kernel=3, dilations=[1, 2, 4, 8])
    assert geo.receptive_field == 1 + 14 + 2 * (1 + 2 + 4 + 8)
    geo = TowerGeometry.from_config(stem_kernel=1, kernel=5, dilations=[1, 3], aspp=[2, 6])
    assert geo.receptive_field == 1 + 4 * (1 + 3 + 6)
    geo = TowerGeometry.from_config(stem_kernel=1, kernel=3, dilations=[1], bin_size=4)
    assert (geo.receptive_field, geo.receptive_field_bin) == (3, 6)


def test_tower_geometry_default_is_about_32kb():
    geo = TowerGeometry.from_config()
    assert geo.receptive_field == 1 + 14 + 2 * (2**14 - 1) == 32781


def test_tower_geometry_ignores_non_geometric_model_args():
    geo = TowerGeometry.from_config(channels=128, head="profile_count", dilations=[1, 2], crop=7)
    assert geo.dilations == (1, 2) and geo.crop == 7


def test_tower_geometry_output_length_and_check():
    geo = TowerGeometry.from_config(crop=100, bin_size=8)
    assert geo.output_length(1000) == (1000 - 200) // 8 == 100
    geo.check_input_length(208)  # exactly one bin
    with pytest.raises(InputError, match="crop = 100 bp on each side leaves 7 bp"):
        geo.check_input_length(207)


def test_tower_geometry_rc_requires_whole_bins():
    geo = TowerGeometry.from_config(bin_size=4, rc_equivariant=True)
    geo.check_input_length(16)
    with pytest.raises(InputError, match="multiple of bin_size 4"):
        geo.check_input_length(18)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"kernel": 4}, "model.kernel is 4; it must be odd"),
        ({"stem_kernel": 14}, "model.stem_kernel is 14; it must be odd"),
        ({"kernel": 0}, "model.kernel must be an integer >= 1"),
        ({"crop": -1}, "model.crop must be an integer >= 0"),
        ({"bin_size": 0}, "model.bin_size must be an integer >= 1"),
        ({"aspp": [6, 0]}, "model.aspp[1] (a rate)"),
        ({"aspp": []}, "model.aspp must be null or a list"),
    ],
)
def test_tower_geometry_bad_args_raise(kwargs, needle):
    with pytest.raises(InputError) as err:
        TowerGeometry.from_config(**kwargs)
    assert needle in str(err.value)
