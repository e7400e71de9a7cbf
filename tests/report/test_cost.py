"""Serving cost: parameter counts, memory, GPUs, bandwidth/compute bounds and prices computed from the
formulas (checked here by hand), the shipped GPU file, and one-line errors (exit 2) for absurd input."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.report.cost import CostError, count_text, gpus, parse_count, serving_cost

runner = CliRunner()


@pytest.mark.parametrize("text,want", [("8e12", 8e12), ("8T", 8e12), ("70B", 70e9), ("400b", 400e9),
                                       ("1.5T", 1.5e12), ("70,000,000,000", 70e9), ("7M", 7e6)])  # fmt: skip
def test_parameter_counts(text: str, want: float) -> None:
    assert parse_count(text, "--params") == pytest.approx(want)


def test_count_text() -> None:
    assert (count_text(70e9), count_text(8e12), count_text(1.5e12)) == ("70B", "8T", "1.5T")


def test_gpu_file_has_sources_for_every_number() -> None:
    table = gpus()
    assert set(table) == {"H100", "H200", "B200", "A100"}
    for g in table.values():
        assert g.memory_gb > 0 and g.bandwidth_tbs > 0 and g.bf16_tflops > 0 and g.usd_per_hour > 0
        assert g.spec_source.startswith("https://") and g.price_source.startswith("https://")
    assert table["A100"].fp8_tflops is None and table["H100"].fp8_tflops == pytest.approx(1978.9)


def test_dense_70b_by_hand() -> None:
    r = serving_cost("70B", "70B", precision="bf16", gpu="H100", context=8192, concurrency=16,
                     layers=80, kv_heads=8, head_dim=128, utilization=0.5)  # fmt: skip
    weights = 70e9 * 2
    kv = 2 * 80 * 8 * 128 * 8192 * 16 * 2
    steps = {s.name: s.value for s in r.steps}
    assert steps["weights"] == pytest.approx(weights) and steps["KV cache"] == pytest.approx(kv)
    assert r.gpus_needed == math.ceil((weights + kv) / (80e9 * 0.9)) == 3
    assert r.gpus_deployed == 4  # tensor parallel in powers of two
    t_mem = (weights + kv) / (4 * 3.35e12 * 0.5)
    assert r.bound == "memory bandwidth"
    assert r.tokens_per_second == pytest.approx(16 / t_mem)
    assert r.usd_per_day == pytest.approx(4 * 2.69 * 24)
    assert r.usd_per_million_tokens == pytest.approx(4 * 2.69 / (16 / t_mem * 3600) * 1e6)
    assert all(s.formula for s in r.steps) and not r.flags


def test_8t_moe_is_about_a_hundred_h100s_in_fp8() -> None:
    fp8 = serving_cost("8T", "400B", precision="fp8", gpu="H100")
    assert fp8.gpus_needed == math.ceil(8e12 / 72e9) == 112 and fp8.gpus_deployed == 112
    assert fp8.usd_per_day == pytest.approx(112 * 2.69 * 24)
    bf16 = serving_cost("8T", "400B", precision="bf16", gpu="H100")
    assert bf16.gpus_needed == 223 and bf16.usd_per_day > 2 * fp8.usd_per_day * 0.95
    assert any("MoE" in a for a in fp8.assumptions)
    assert any("KV cache not counted" in f for f in fp8.flags)
    b200 = serving_cost("8T", "400B", precision="fp8", gpu="b200")
    assert (
        b200.gpus_needed == math.ceil(8e12 / 162e9) == 50 and b200.gpus_deployed == 56 and b200.gpu == "B200"
    )


def test_compute_bound_at_large_batch_and_price_override() -> None:
    r = serving_cost(
        "8B", concurrency=4096, context=128, usd_per_gpu_hour=1.0, layers=32, kv_heads=8, head_dim=128
    )
    assert r.bound == "compute" and r.usd_per_day == pytest.approx(r.gpus_deployed * 24)
    assert r.price_source == "--usd-per-gpu-hour"


def test_context_beyond_the_model_is_flagged_not_refused() -> None:
    r = serving_cost(
        "70B", context=1_000_000, max_context=131072, layers=80, kv_heads=8, head_dim=128, concurrency=1
    )
    assert any("larger than the model supports" in f for f in r.flags)
    assert r.gpus_needed > 5


def test_cli_prints_formulas_and_json() -> None:
    res = runner.invoke(app, ["cost", "--params", "70B", "--active", "70B", "--layers", "80", "--kv-heads", "8",
                              "--head-dim", "128"], env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "2 × layers × KV heads" in res.output and "per million output tokens" in res.output
    res = runner.invoke(app, ["cost", "--params", "8T", "--active", "400B", "--precision", "fp8", "--json"])
    body = json.loads(res.output)
    assert body["gpus_deployed"] == 112 and body["steps"][0]["name"] == "weights"


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--params", "-70B"], "--params"),
        (["--params", "seventy"], "expected a number"),
        (["--params", "70"], "too small"),
        (["--params", "5e18"], "absurd"),
        (["--params", "70B", "--active", "400B"], "more than the"),
        (["--params", "70B", "--precision", "fp4"], "--precision"),
        (["--params", "70B", "--gpu", "TPUv5"], "--gpu"),
        (["--params", "70B", "--context", "0"], "--context"),
        (["--params", "70B", "--context", "100000000"], "--context"),
        (["--params", "70B", "--concurrency", "0"], "--concurrency"),
        (["--params", "70B", "--utilization", "1.5"], "--utilization"),
        (["--params", "70B", "--usd-per-gpu-hour", "-2"], "--usd-per-gpu-hour"),
        (["--params", "70B", "--layers", "80"], "go together"),
        (["--params", "70B", "--layers", "80", "--kv-heads", "8", "--head-dim", "100000"], "--head-dim"),
    ],
)
def test_bad_cost_parameters_are_one_line_exit_2(args: list[str], fragment: str) -> None:
    res = runner.invoke(app, ["cost", *args])
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1 and fragment in text, text


def test_library_raises_cost_error() -> None:
    with pytest.raises(CostError):
        serving_cost("70B", utilization=0)
