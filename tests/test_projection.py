"""The projection of a config's wall time on one GPU from measured epoch times."""

from __future__ import annotations

import pytest

from specbench.projection import Job, project


def test_projection_prefers_measurements_and_divides_by_the_packing_speedup():
    jobs = [
        Job("benchmark", "benchmark", "cnn2", "cnn2", 25000, 5000),
        Job("benchmark", "benchmark", "vgg", "vgg", 25000, 5000),
        Job("activation", "challenge", "cnn6", "cnn6", 1350, 270),
    ]
    table, hours = project(
        jobs,
        measured_epoch_s={("benchmark", "cnn2"): 2.0},
        measured_epochs={("benchmark", "cnn2"): 80},
        samples_per_s={"vgg": 10000.0, "cnn6": 1440.0},
        published_epochs={("benchmark", "vgg"): 110},
        packing_speedup=2.0,
    )
    rows = table.set_index("model")
    assert rows.loc["cnn2", "gpu_s"] == 160.0 and rows.loc["cnn2", "epochs_from"] == "measured"
    # vgg: (25000 + 5000 / 3) / 10000 s per epoch, 110 published epochs
    assert rows.loc["vgg", "epoch_s"] == pytest.approx((25000 + 5000 / 3) / 10000)
    assert rows.loc["vgg", "epochs_from"] == "published"
    assert rows.loc["cnn6", "epochs_from"] == "default" and rows.loc["cnn6", "epochs"] == 100
    assert hours == pytest.approx(table["gpu_s"].sum() / 2.0 / 3600)
    with pytest.raises(ValueError, match="no epoch time or throughput for inc6"):
        project([Job("b", "b", "inc6", "inc6", 1, 1)], {}, {}, {}, {})
    with pytest.raises(ValueError, match="packing_speedup=0"):
        project(jobs, {}, {}, {"cnn2": 1.0, "vgg": 1.0, "cnn6": 1.0}, {}, packing_speedup=0)
