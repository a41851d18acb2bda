"""Tests of specbench.models: registry, the eight published architectures and count_macs."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from specbench.workflow import config as sbconfig  # noqa: E402
from specbench.models import blocks, registry  # noqa: E402
from specbench.models import build, check, names, source_files  # noqa: E402
from specbench.models.macs import count_macs  # noqa: E402

# Keras' TensorFlow backend warns about NumPy 2's __array__ copy keyword; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

VGG_K20_RELU = {
    "kernel_size": 20,
    "conv_dropout": 0.0,
    "dense_units": [2000, 500],
    "dense_activation": "relu",
    "dropout_rate": 0.3,
}
RESNET_NOBN_RELU = {
    "batch_norm": False,
    "stem_activation": "relu",
    "dense_units": [3100, 1200],
    "dense_activation": "relu",
    "dropout_rate": 0.5,
}

# (config model name, architecture, n_classes, overrides, exact parameter count at 5000 points):
# the published counts (Schuetzke et al. 2023) of the benchmark (500 classes) and of the
# modifications (27 challenge classes).
PUBLISHED = [
    ("cnn2", "cnn2", 500, {}, 19_150_728),
    ("cnn3", "cnn3", 500, {}, 25_347_872),
    ("cnn6", "cnn6", 500, {}, 20_212_224),
    ("vgg", "vgg", 500, {}, 2_556_174),
    ("resnet", "resnet", 500, {}, 5_204_540),
    ("cnn_bn", "cnn_bn", 500, {}, 82_963_316),
    ("inc3", "inc3", 500, {}, 78_870_534),
    ("inc6", "inc6", 500, {}, 186_817_238),
    (
        "cnn_bn_nobn_relu",
        "cnn_bn",
        27,
        {"batch_norm": False, "dense_activation": "relu"},
        81_993_691,
    ),
    ("cnn6_convdrop", "cnn6", 27, {"conv_dropout": 0.2, "dropout_rate": 0.0}, 19_644_151),
    ("cnn6_bn", "cnn6", 27, {"batch_norm": True}, 19_645_687),
    ("vgg_k20_relu", "vgg", 27, VGG_K20_RELU, 41_113_017),
    ("resnet_nobn_relu", "resnet", 27, RESNET_NOBN_RELU, 29_488_511),
    ("cnn2", "cnn2", 27, {}, 18_913_755),
]


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def _spectra(n: int, points: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, points), dtype=np.float32)


# ---------------------------------------------------------------- exact parameter counts


@pytest.mark.parametrize(
    "model, arch, n_classes, overrides, expected",
    PUBLISHED,
    ids=[f"{m}-{k}" for m, _, k, _, _ in PUBLISHED],
)
def test_published_parameter_counts(model, arch, n_classes, overrides, expected):
    net = build(arch, 5000, n_classes, **overrides)
    assert net.count_params() == expected
    assert net.name == arch
    del net


@pytest.mark.parametrize("config_file", ["config.yaml", "paper.yaml"])
def test_config_models_use_the_published_overrides(config_file):
    config = yaml.safe_load((REPO / "config" / config_file).read_text())
    table = {(model, arch, n_classes): hp for model, arch, n_classes, hp, _ in PUBLISHED}
    seen = set()
    for exp in config["experiments"].values():
        n_classes = 500 if exp["dataset"] == "benchmark" else 27
        for model in exp["models"]:
            spec = sbconfig.resolve_model(config, exp, model)
            check(spec["architecture"], spec["hyperparameters"])  # every entry is valid
            key = (model, spec["architecture"], n_classes)
            if key in table:
                assert spec["hyperparameters"] == table[key], key
                seen.add(key)
    # Every published count except the 27-class originals appears in the config as named.
    assert {k for k in table if not (k[2] == 27 and k[0] == k[1])} <= seen


def test_dense_activation_does_not_change_the_parameter_count():
    linear = build("cnn3", 600, 27, dense_activation="linear").count_params()
    relu = build("cnn3", 600, 27, dense_activation="relu").count_params()
    assert linear == relu


# ---------------------------------------------------------------- structure


def test_cnn2_layers_are_the_published_ones():
    net = build("cnn2", 5000, 500)
    assert [layer.name for layer in net.layers] == [
        "spectrum",
        "channel",
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "flatten",
        "dropout_dense1",
        "dense1",
        "dropout_dense2",
        "dense2",
        "dropout_predictions",
        "predictions",
    ]
    conv1, pool1, conv2 = net.get_layer("conv1"), net.get_layer("pool1"), net.get_layer("conv2")
    assert (conv1.filters, conv1.kernel_size, conv1.strides, conv1.padding) == (
        64,
        (50,),
        (2,),
        "same",
    )
    assert (pool1.pool_size, pool1.strides, pool1.padding) == ((3,), (2,), "valid")
    assert (conv2.filters, conv2.kernel_size, conv2.strides) == (64, (25,), (3,))
    assert net.get_layer("pool2").output.shape == (None, 139, 64)
    assert net.get_layer("dense1").activation.__name__ == "linear"
    assert net.get_layer("dropout_dense1").rate == pytest.approx(0.3)
    assert net.get_layer("predictions").activation.__name__ == "softmax"


def test_paddings_and_output_layer_of_every_architecture():
    for name in names():
        net = build(name, 256, 5)
        for layer in net.layers:
            if isinstance(layer, keras.layers.Conv1D):
                assert layer.padding == "same", layer.name
            if isinstance(layer, keras.layers.MaxPooling1D):
                assert layer.padding == "valid", layer.name
        out = net.get_layer("predictions")
        assert out.units == 5 and out.dtype_policy.name == "float32"
        assert net.layers[-1] is out
        keras.backend.clear_session()


def test_every_layer_is_named():
    # Auto-named layers would get a "_1" suffix the second time in the same Keras session.
    for name in names():
        first = [layer.name for layer in build(name, 128, 3).layers]
        second = [layer.name for layer in build(name, 128, 3).layers]
        assert first == second, name
        assert len(set(first)) == len(first)


def test_variants_change_the_structure_as_documented():
    convdrop = build("cnn6", 1000, 27, conv_dropout=0.2, dropout_rate=0.0)
    names_ = [layer.name for layer in convdrop.layers]
    assert [n for n in names_ if n.startswith("dropout")] == [
        f"dropout_conv{i}" for i in range(1, 7)
    ]
    bn = build("cnn6", 1000, 27, batch_norm=True)
    kinds = [type(layer).__name__ for layer in bn.layers]
    assert kinds.count("BatchNormalization") == 6
    assert kinds[2:5] == ["Conv1D", "BatchNormalization", "Activation"]
    nobn = build("resnet", 1000, 27, **RESNET_NOBN_RELU)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in nobn.layers)
    assert nobn.get_layer("conv1").activation.__name__ == "relu"
    assert nobn.get_layer("dense2").activation.__name__ == "relu"
    vgg = build("vgg", 1000, 27, **VGG_K20_RELU)
    assert {
        layer.kernel_size for layer in vgg.layers if isinstance(layer, keras.layers.Conv1D)
    } == {(20,)}
    per_stage = build("cnn2", 1000, 5, kernel_size=[9, 7])
    assert per_stage.get_layer("conv1").kernel_size == (9,)
    assert per_stage.get_layer("conv2").kernel_size == (7,)


def test_inception_blocks_follow_the_cnn3_stem():
    net = build("inc3", 5000, 500)
    assert net.get_layer("inception3_concat").output.shape == (None, 139, 147)
    assert [type(net.get_layer(f"conv{i}")).__name__ for i in (1, 2, 3)] == ["Conv1D"] * 3
    cnn3 = build("cnn3", 5000, 500)
    for i in (1, 2, 3):  # the stem is cnn3's stages
        assert net.get_layer(f"pool{i}").output.shape == cnn3.get_layer(f"pool{i}").output.shape


def test_builders_restate_no_default():
    """The published values live in the registry only: every builder argument is required."""
    import importlib

    for name in names():
        arch = registry.architecture(name)
        builder = getattr(importlib.import_module(f"specbench.models.{arch.module}"), arch.builder)
        params = inspect.signature(builder).parameters
        assert all(p.default is inspect.Parameter.empty for p in params.values()), name
        keyword = {k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
        assert keyword == {"name", *arch.defaults, *arch.layout}, name
        assert arch.reference


# ---------------------------------------------------------------- forward pass and saving


@pytest.mark.parametrize("name", names())
def test_forward_pass_gives_probabilities(name):
    net = build(name, 256, 5)
    x = _spectra(4, 256)
    for training in (False, True):
        y = keras.ops.convert_to_numpy(net(x, training=training))
        assert y.shape == (4, 5) and y.dtype == np.float32
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
        assert (y >= 0).all()


@pytest.mark.parametrize("name", names())
def test_keras_save_load_round_trip(name, tmp_path):
    net = build(name, 256, 5)
    x = _spectra(3, 256, seed=1)
    before = net.predict(x, verbose=0)
    path = tmp_path / f"{name}.keras"
    net.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.name == name
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in net.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)


def test_output_stays_float32_under_mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        net = build("cnn_bn", 256, 5)
        assert net.get_layer("conv1").compute_dtype == "bfloat16"
        y = net(_spectra(2, 256), training=False)
        assert keras.backend.standardize_dtype(y.dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_too_few_points_is_a_value_error_naming_the_layer():
    with pytest.raises(ValueError, match="pool"):
        build("cnn2", 8, 5)


# ---------------------------------------------------------------- registry


def test_names_and_architectures():
    assert names() == ["cnn2", "cnn3", "cnn6", "vgg", "resnet", "cnn_bn", "inc3", "inc6"]
    assert registry.architecture("inc6").module == "inception"


def test_unknown_architecture():
    with pytest.raises(ValueError, match=r"unknown architecture 'lenet'.*cnn2.*inc6"):
        check("lenet", {})
    with pytest.raises(ValueError, match="'lenet'"):
        build("lenet", 100, 2)
    with pytest.raises(ValueError, match="'lenet'"):
        source_files("lenet")


def test_unknown_hyperparameter_lists_the_accepted_ones():
    with pytest.raises(ValueError, match=r"'dense_unit'.*accepted:.*dense_units") as err:
        check("cnn2", {"dense_unit": [10]})
    assert "stem_activation" not in str(err.value)
    with pytest.raises(ValueError, match="stem_activation"):
        check("cnn6", {"stem_activation": "relu"})
    assert check("resnet", {"stem_activation": "relu"})["stem_activation"] == "relu"


@pytest.mark.parametrize(
    "name, key, value",
    [
        ("cnn2", "dense_units", 2000),
        ("cnn2", "dense_units", [2000, 0]),
        ("cnn2", "dense_units", [2000, 5.5]),
        ("cnn2", "dense_units", [True]),
        ("cnn3", "dropout_rate", 1.0),
        ("cnn3", "dropout_rate", -0.1),
        ("cnn3", "dropout_rate", "0.3"),
        ("cnn6", "conv_dropout", 1.5),
        ("cnn6", "dense_activation", "relux"),
        ("resnet", "stem_activation", "softplusplus"),
        ("cnn_bn", "batch_norm", "yes"),
        ("cnn_bn", "batch_norm", 1),
        ("vgg", "kernel_size", 0),
        ("vgg", "kernel_size", [5, 5, 5, 5]),
        ("cnn2", "kernel_size", [50, 25, 10]),
        ("cnn2", "kernel_size", 5.0),
    ],
)
def test_bad_values_are_named(name, key, value):
    with pytest.raises(ValueError, match=re.escape(f"{key}={value!r}")):
        check(name, {key: value})
    with pytest.raises(ValueError, match=key):
        build(name, 256, 5, **{key: value})


def test_build_checks_its_arguments():
    with pytest.raises(ValueError, match=r"dropout_rate=2"):
        build("cnn2", 256, 5, dropout_rate=2)
    with pytest.raises(ValueError, match=r"n_classes=1\b"):
        build("cnn2", 256, 1)
    with pytest.raises(ValueError, match=r"n_points=0"):
        build("vgg", 0, 5)
    with pytest.raises(ValueError, match=r"n_points=True"):
        registry.construct("vgg", True, 5, check("vgg"))


def test_check_returns_merged_defaults_without_aliasing():
    merged = check("cnn2", {"dropout_rate": 0.5})
    assert merged["dropout_rate"] == 0.5 and merged["dense_units"] == [2000, 500]
    merged["dense_units"].append(1)
    assert registry.architecture("cnn2").defaults["dense_units"] == [2000, 500]


def test_registry_imports_without_keras():
    code = (
        "import sys; import specbench.models as m; from specbench.models import registry; "
        "m.check('cnn2', {'dense_units': [10]}); m.source_files('vgg'); m.names(); "
        "assert 'keras' not in sys.modules, 'keras imported'; "
        "assert not any(k.startswith(('tensorflow', 'jax', 'torch')) for k in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_source_files():
    paths = {name: source_files(name) for name in names()}
    for name, files in paths.items():
        assert files, name
        for f in files:
            assert Path(f).is_absolute() and Path(f).is_file(), f
            assert Path(f).name not in ("registry.py", "blocks.py")
    assert paths["cnn2"] != paths["vgg"]
    assert paths["inc3"] == paths["inc6"] == [str(SRC / "specbench" / "models" / "inception.py")]
    cnn = [str(SRC / "specbench" / "models" / "cnn.py")]
    assert paths["cnn2"] == paths["cnn3"] == paths["cnn6"] == paths["cnn_bn"] == cnn
    assert len({tuple(p) for p in paths.values()}) == 4  # cnn, vgg, resnet, inception


# ---------------------------------------------------------------- count_macs


def test_count_macs_hand_computed():
    inputs = keras.Input((10, 4))
    x = keras.layers.Conv1D(6, 3, padding="same")(inputs)  # 10 * 3 * 4 * 6 = 720
    x = keras.layers.Conv1D(4, 5, strides=2, padding="same", groups=2)(x)  # 5*5*3*4 = 300
    x = keras.layers.BatchNormalization()(x)  # not counted
    x = keras.layers.MaxPooling1D(2)(x)  # (2, 4), not counted
    x = keras.layers.Dense(3)(x)  # applied per position: 2 * 4 * 3 = 24
    x = keras.layers.Flatten()(x)  # 6
    outputs = keras.layers.Dense(2)(x)  # 6 * 2 = 12
    net = keras.Model(inputs, outputs)
    assert count_macs(net) == 720 + 300 + 24 + 12
    outer_in = keras.Input((10, 4))
    outer = keras.Model(outer_in, keras.layers.Dense(5)(net(outer_in)))  # nested + 2 * 5
    assert count_macs(outer) == 720 + 300 + 24 + 12 + 10


def test_count_macs_of_cnn2():
    expected = 2500 * 50 * 1 * 64 + 417 * 25 * 64 * 64 + 8896 * 2000 + 2000 * 500 + 500 * 500
    assert count_macs(build("cnn2", 5000, 500)) == expected == 69_742_800


def test_count_macs_of_a_loaded_model(tmp_path):
    net = build("inc3", 256, 5)
    net.save(tmp_path / "m.keras")
    assert count_macs(keras.models.load_model(tmp_path / "m.keras")) == count_macs(net) > 0


def test_blocks_module_is_shared_not_an_architecture():
    assert not any(a.module == "blocks" for a in registry.ARCHITECTURES.values())
    assert blocks.stage_kernels(7, 3) == [7, 7, 7]


# ------------------------------------------------------------------ geometry scaling

# The kernels architecture_scale: auto makes (registry.scale_kernels), by hand from the stated
# rule k' = max(min(k, 3), floor(k * n_points / 5000 + 0.5)).
SCALED_KERNELS = {
    500: {
        "cnn2": [5, 3],
        "cnn3": [3, 3, 3],
        "cnn6": [4, 3, 3, 3, 3, 3],
        "vgg": 3,
        "resnet": 3,
        "cnn_bn": [3, 3, 3],
        "inc3": [3, 3, 3],
        "inc6": [3, 3, 3],
    },
    1000: {
        "cnn2": [10, 5],
        "cnn3": [4, 3, 3],
        "cnn6": [7, 6, 5, 4, 3, 3],
        "vgg": 3,
        "resnet": 3,
        "cnn_bn": [4, 3, 3],
        "inc3": [4, 3, 3],
        "inc6": [4, 3, 3],
    },
    2500: {  # 12.5 rounds half up to 13
        "cnn2": [25, 13],
        "cnn6": [18, 15, 13, 10, 8, 5],
        "cnn_bn": [11, 6, 3],
        "vgg": 3,
    },
}


@pytest.mark.parametrize("n_points", sorted(SCALED_KERNELS))
def test_auto_scale_gives_the_stated_kernels(n_points):
    for name, expected in SCALED_KERNELS[n_points].items():
        hp = registry.scale_kernels(name, check(name), n_points, "auto")
        assert hp["kernel_size"] == expected, (name, n_points)
        net = build(name, n_points, 7, **hp)
        kernels = [
            layer.kernel_size[0]
            for layer in net.layers
            if isinstance(layer, keras.layers.Conv1D) and layer.name.startswith("conv")
        ]
        flat = expected if isinstance(expected, list) else [expected]
        assert set(kernels) == set(flat), (name, kernels)


def test_scaling_is_the_identity_at_5000_points_and_when_published():
    for name in names():
        hp = check(name)
        assert registry.scale_kernels(name, hp, 5000, "auto") == hp
        assert registry.scale_kernels(name, hp, 500, "published") == hp
        assert registry.scale_kernels(name, hp, 500, 1) == hp
    for model, arch, n_classes, overrides, expected in PUBLISHED:
        hp = registry.scale_kernels(arch, check(arch, overrides), 5000, "auto")
        assert build(arch, 5000, n_classes, **hp).count_params() == expected, model


def test_scaling_scales_overrides_and_explicit_factors():
    hp = check("vgg", {"kernel_size": 20})
    assert registry.scale_kernels("vgg", hp, 1000, "auto")["kernel_size"] == 4
    assert registry.scale_kernels("vgg", hp, 500, "auto")["kernel_size"] == 3  # the floor
    assert registry.scale_kernels("cnn2", check("cnn2"), 500, 0.5)["kernel_size"] == [25, 13]
    assert (
        registry.scale_kernels("cnn2", check("cnn2", {"kernel_size": 2}), 500, "auto")[
            "kernel_size"
        ]
        == 2
    )  # a kernel below the floor is kept
    assert registry.scale_kernels("cnn2", check("cnn2"), 10000, "auto")["kernel_size"] == [100, 50]


def test_scaling_rounds_exact_halves_up():
    # 50 * 1450 / 5000 = 14.5 and 25 * 2900 / 5000 = 14.5: round half up gives 15, as documented
    # (floating point has 1450 / 5000 a little below 0.29: 50 * it + 0.5 fell short of 15)
    assert registry.scale_kernels("cnn2", check("cnn2"), 1450, "auto")["kernel_size"] == [15, 7]
    assert registry.scale_kernels("cnn2", check("cnn2"), 2900, "auto")["kernel_size"] == [29, 15]
    assert registry.scale_kernels("cnn2", check("cnn2"), 500, 0.29)["kernel_size"] == [15, 7]


@pytest.mark.parametrize("value", ["big", 0, -0.5, True, None, [0.1]])
def test_bad_architecture_scale_is_refused_naming_the_value(value):
    with pytest.raises(ValueError, match=re.escape(f"architecture_scale={value!r}")):
        registry.scale_kernels("cnn2", check("cnn2"), 500, value)
