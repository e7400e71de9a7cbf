"""What serving a model costs: memory for weights and KV cache, GPUs needed, decode throughput, $/day, $/Mtok.

A back-of-envelope model with every step printed as its formula, so each assumption can be argued with:
decode is bounded by memory bandwidth (every step reads the active weights and the KV cache) and by
compute (2 FLOPs per active parameter per token), both at a utilisation of the peak.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from aslgate.errors import UserError

GPU_FILE = Path(__file__).parent / "gpus.yaml"
BYTES_PER_PARAM = {"bf16": 2.0, "fp8": 1.0, "int4": 0.5}
KV_BYTES = {"bf16": 2.0, "fp8": 1.0, "int4": 1.0}  # KV cache kept in fp8 when the weights are int4
MEMORY_HEADROOM = (
    0.9  # share of GPU memory for weights + KV; the rest: activations, CUDA context, fragmentation
)
NODE = 8  # GPUs per node (HGX/DGX): deployments above one node come in whole nodes
MAX_PARAMS = 1e15  # 1,000T parameters: beyond any model; treated as a typo
MAX_CONTEXT = 10_000_000
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


class CostError(UserError, ValueError):
    """A cost parameter that is missing, unparsable or absurd."""


class GPU(BaseModel):
    name: str
    memory_gb: float
    bandwidth_tbs: float
    bf16_tflops: float
    fp8_tflops: float | None = None
    spec_source: str
    datasheet: str
    usd_per_hour: float
    price_source: str
    price_note: str = ""


@lru_cache(maxsize=1)
def gpus() -> dict[str, GPU]:
    """The shipped GPU table (src/aslgate/report/gpus.yaml)."""
    raw = yaml.safe_load(GPU_FILE.read_text())
    return {k: GPU.model_validate(v) for k, v in raw["gpus"].items()}


def parse_count(value: str | float | int, what: str) -> float:
    """8e12, 8T, 70B, 400b, 1.5T, 70_000_000_000 -> a float count of parameters."""
    if isinstance(value, int | float):
        x = float(value)
    else:
        v = value.strip().replace(",", "").replace("_", "")
        m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmbgt]?)", v, re.I)
        if not m:
            raise CostError(f"{what} {value!r}: expected a number like 8e12, 8T, 70B or 400B")
        x = float(m[1]) * _SUFFIX.get(m[2].lower(), 1.0)
    if not math.isfinite(x) or x <= 0:
        raise CostError(f"{what} {value!r}: must be a positive number of parameters")
    if x < 1e6:
        raise CostError(
            f"{what} {value!r} = {x:g} parameters: too small for a language model (did you mean {value}B?)"
        )
    if x > MAX_PARAMS:
        raise CostError(f"{what} {value!r} = {x:.3g} parameters: absurd (more than 1,000T)")
    return x


@dataclass
class CostStep:
    """One line of the calculation: what, its formula with the numbers, the value and its unit."""

    name: str
    formula: str
    value: float
    unit: str


@dataclass
class CostResult:
    params: float
    active: float
    precision: str
    gpu: str
    context: int
    concurrency: int
    utilization: float
    usd_per_gpu_hour: float
    price_source: str
    spec_source: str
    gpus_needed: int
    gpus_deployed: int
    tokens_per_second: float
    usd_per_day: float
    usd_per_million_tokens: float
    bound: str  # "memory bandwidth" or "compute"
    steps: list[CostStep] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def count_text(x: float) -> str:
    """7e10 -> 70B, 8e12 -> 8T, 1.5e12 -> 1.5T."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if x >= scale:
            return f"{x / scale:.4g}{unit}"
    return f"{x:.3g}"


def _gb(x: float) -> str:
    return f"{x / 1e9:,.1f} GB"


def _deployed(n: int) -> int:
    """GPUs as deployed: a power of two within a node (tensor parallel), whole nodes beyond."""
    if n <= NODE:
        return 1 << (n - 1).bit_length()
    return math.ceil(n / NODE) * NODE


def _check_range(value: float | int | None, what: str, low: float, high: float) -> None:
    if value is None:
        return
    if not math.isfinite(float(value)) or value < low or value > high:
        raise CostError(f"{what} {value:g}: must be between {low:g} and {high:g}")


def serving_cost(
    params: str | float,
    active: str | float | None = None,
    *,
    precision: str = "bf16",
    gpu: str = "H100",
    context: int = 8192,
    concurrency: int = 16,
    layers: int | None = None,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    usd_per_gpu_hour: float | None = None,
    utilization: float = 0.5,
    max_context: int | None = None,
) -> CostResult:
    """The cost of serving a model; every step is returned with its formula."""
    P = parse_count(params, "--params")
    A = parse_count(active, "--active") if active is not None else P
    if A > P:
        raise CostError(f"--active {active}: {A:.3g} active parameters is more than the {P:.3g} in the model")
    prec = precision.lower()
    if prec not in BYTES_PER_PARAM:
        raise CostError(f"--precision {precision!r}: choose from {', '.join(BYTES_PER_PARAM)}")
    table = gpus()
    key = next((k for k in table if k.lower() == gpu.strip().lower()), None)
    if key is None:
        raise CostError(f"--gpu {gpu!r}: choose from {', '.join(table)}")
    g = table[key]
    _check_range(context, "--context", 1, MAX_CONTEXT)
    _check_range(concurrency, "--concurrency", 1, 1_000_000)
    _check_range(utilization, "--utilization", 0.01, 1.0)
    _check_range(usd_per_gpu_hour, "--usd-per-gpu-hour", 0.01, 1000)
    _check_range(max_context, "--max-context", 1, MAX_CONTEXT)
    arch = (layers, kv_heads, head_dim)
    if any(x is not None for x in arch) and not all(x is not None for x in arch):
        raise CostError("--layers, --kv-heads and --head-dim go together: give all three or none")
    _check_range(layers, "--layers", 1, 1000)
    _check_range(kv_heads, "--kv-heads", 1, 1024)
    _check_range(head_dim, "--head-dim", 1, 4096)
    price = usd_per_gpu_hour if usd_per_gpu_hour is not None else g.usd_per_hour
    price_source = "--usd-per-gpu-hour" if usd_per_gpu_hour is not None else g.price_source

    steps: list[CostStep] = []
    flags: list[str] = []
    b = BYTES_PER_PARAM[prec]
    weights = P * b
    steps.append(CostStep("weights", f"P × bytes/param = {count_text(P)} × {b:g}", weights, _gb(weights)))
    if layers is not None and kv_heads is not None and head_dim is not None:
        kvb = KV_BYTES[prec]
        per_token = 2 * layers * kv_heads * head_dim * kvb
        kv = per_token * context * concurrency
        steps.append(CostStep("KV cache", f"2 × layers × KV heads × head dim × context × sequences × bytes = 2 × {layers} × "
                              f"{kv_heads} × {head_dim} × {context} × {concurrency} × {kvb:g}", kv, _gb(kv)))  # fmt: skip
    else:
        kv = 0.0
        flags.append("KV cache not counted: give --layers, --kv-heads and --head-dim to include it")
    if max_context is not None and context > max_context:
        flags.append(
            f"--context {context} is larger than the model supports ({max_context}); computed anyway"
        )
    mem = weights + kv
    usable = g.memory_gb * 1e9 * MEMORY_HEADROOM
    steps.append(CostStep("memory", "weights + KV cache", mem, _gb(mem)))
    need = max(1, math.ceil(mem / usable))
    steps.append(CostStep("GPUs needed", f"⌈memory / ({g.memory_gb:g} GB × {MEMORY_HEADROOM:g} usable)⌉ = "
                          f"⌈{mem / 1e9:,.1f} / {usable / 1e9:,.1f}⌉", need, "GPUs"))  # fmt: skip
    deployed = _deployed(need)
    steps.append(
        CostStep(
            "GPUs deployed", f"power of two up to {NODE}, whole {NODE}-GPU nodes beyond", deployed, "GPUs"
        )
    )
    bw = deployed * g.bandwidth_tbs * 1e12 * utilization
    read = A * b + kv
    t_mem = read / bw
    steps.append(CostStep("decode step, bandwidth bound", f"(A × bytes/param + KV) / (GPUs × {g.bandwidth_tbs:g} TB/s × U) = "
                          f"{read / 1e9:,.1f} GB / {bw / 1e12:,.2f} TB/s", t_mem * 1e3, "ms"))  # fmt: skip
    peak = g.fp8_tflops if prec == "fp8" and g.fp8_tflops else g.bf16_tflops
    if prec == "fp8" and not g.fp8_tflops:
        flags.append(f"{key} has no FP8 tensor cores: FP8 weights computed at the BF16 rate")
    flops = deployed * peak * 1e12 * utilization
    t_cmp = 2 * A * concurrency / flops
    steps.append(CostStep("decode step, compute bound", f"2 × A × sequences / (GPUs × {peak:g} TFLOPS × U) = "
                          f"2 × {count_text(A)} × {concurrency}"
                          f" / {flops / 1e15:,.2f} PFLOPS", t_cmp * 1e3, "ms"))  # fmt: skip
    t = max(t_mem, t_cmp)
    tps = concurrency / t
    steps.append(CostStep("output tokens/s", "sequences / max(step times)", tps, "tokens/s"))
    per_day = deployed * price * 24
    steps.append(CostStep("$/day", f"GPUs × ${price:g}/GPU-hour × 24", per_day, "USD/day"))
    per_m = deployed * price / (tps * 3600) * 1e6
    steps.append(
        CostStep("$/million output tokens", "GPUs × $/GPU-hour / (tokens/s × 3600) × 10⁶", per_m, "USD")
    )
    assumptions = [
        f"utilisation U = {utilization:g} of peak bandwidth and compute (covers idle time and kernel efficiency)",
        f"{MEMORY_HEADROOM:.0%} of each GPU's memory holds weights and KV cache",
        "every sequence holds the full context in its KV cache; prefill (input tokens) not costed",
        "perfect parallelism across GPUs: interconnect and pipeline bubbles ignored",
    ]
    if A < P:
        assumptions.append("MoE: each decode step reads only the active parameters once (optimistic at large "
                           "batch, where different tokens route to different experts)")  # fmt: skip
    return CostResult(
        params=P, active=A, precision=prec, gpu=key, context=context, concurrency=concurrency,
        utilization=utilization, usd_per_gpu_hour=price, price_source=price_source, spec_source=g.spec_source,
        gpus_needed=need, gpus_deployed=deployed, tokens_per_second=tps, usd_per_day=per_day,
        usd_per_million_tokens=per_m, bound="memory bandwidth" if t_mem >= t_cmp else "compute",
        steps=steps, flags=flags, assumptions=assumptions,
    )  # fmt: skip


def format_value(s: CostStep) -> str:
    if s.unit.endswith("GB"):
        return s.unit
    if s.unit == "GPUs":
        return f"{s.value:,.0f} GPUs"
    if s.unit.startswith("USD"):
        return f"${s.value:,.2f}" + ("/day" if s.unit == "USD/day" else "")
    if s.unit == "ms":
        return f"{s.value:,.2f} ms"
    return f"{s.value:,.0f} {s.unit}"
