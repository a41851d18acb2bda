"""specbench.core.schema: defaults and checks read from the one schema Snakemake validates with."""

from __future__ import annotations

import pytest
import yaml

from specbench.core import schema


def test_defaults_follow_refs_and_nested_objects(tmp_path, monkeypatch):
    # A toy schema: the values here are the test's own, so the test checks the mechanism.
    toy = {
        "$defs": {
            "style": {
                "type": "object",
                "properties": {"dpi": {"type": "integer", "default": 72}, "palette": {}},
            },
            "proto": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"epochs": {"type": "integer", "minimum": 1}},
            },
        },
        "type": "object",
        "properties": {
            "figures": {
                "type": "object",
                "default": {},
                "properties": {"a": {"$ref": "#/$defs/style", "default": {}}},
            },
            "proto": {
                "$ref": "#/$defs/proto",
                "default": {},
                "properties": {
                    "epochs": {"default": 9},
                    "inner": {"type": "object", "default": {}, "properties": {"k": {"default": 1}}},
                },
            },
            "things": {"type": "object", "additionalProperties": {"$ref": "#/$defs/style"}},
        },
    }
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(toy))
    monkeypatch.setattr(schema, "SCHEMA_PATH", path)
    schema.load.cache_clear()
    try:
        assert schema.defaults("figures") == {"a": {"dpi": 72}}
        assert schema.defaults("proto") == {"epochs": 9, "inner": {"k": 1}}
        assert schema.defaults("things", "*") == {"dpi": 72}
        assert schema.defaults("$defs", "style", "dpi") == 72
        assert schema.fill({"inner": {}}, "proto") == {"epochs": 9, "inner": {"k": 1}}
        with pytest.raises(schema.SchemaError, match=r"proto\.epochs: 0 is less than"):
            schema.fill({"epochs": 0}, "proto")
        with pytest.raises(schema.SchemaError, match="no setting 'nope'"):
            schema.node("nope")
    finally:
        schema.load.cache_clear()


def test_fill_leaves_its_argument_unchanged():
    given = {"reduce_lr": {"factor": 0.5}}
    filled = schema.fill(given, "training")
    assert given == {"reduce_lr": {"factor": 0.5}}
    assert filled["reduce_lr"]["factor"] == 0.5
    assert filled["reduce_lr"]["patience"] == schema.defaults("training")["reduce_lr"]["patience"]


def test_snakemake_fills_the_same_defaults_as_the_package(tmp_path):
    """What the workflow's config gets (Snakemake's validate) is what the code reads."""
    from snakemake.utils import validate

    config = yaml.safe_load(open(schema.SCHEMA_PATH.parents[3] / "config" / "config.yaml"))
    validate(config, str(schema.SCHEMA_PATH))
    assert config["training"] == {**schema.defaults("training"), **config["training"]}
    assert config["figures"] == schema.defaults("figures")
    for ds in config["datasets"].values():
        assert ds["test"] == {**schema.defaults("datasets", "*", "test"), **ds["test"]}
