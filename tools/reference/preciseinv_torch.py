"""PreciseInv and naive DDIM inversion in torch, an independent check of the TypeScript engine.

    tools/.venv/bin/python tools/reference/preciseinv_torch.py --x0 x0.safetensors --out xT.safetensors \
        --json result.json --steps 10 --method preciseinv --descent hybrid --eta 4e-5 --max-iters 200

Reads every float32 tensor of --x0 as one clean latent ([C, H, W] or [1, C, H, W]) and inverts
each on its own with the bundled tiny UNet (tools/tiny_model/model.py, weights read from the
committed models/tiny/unet/model.onnx, so it runs from a fresh clone). The DDIM plan comes from
models/tiny/scheduler/scheduler_config.json through diffusers' DDIMScheduler formulas,
recomputed here. J^T r comes from torch autograd.

The solver repeats the engine's decisions (INVERSION.md section 2 and the engine's PreciseInv
step): DDIM-inversion guess; with `--descent hybrid` (the engine's default) Anderson-mixed
fixed-point iteration of x <- (y - b m(x)) / a first (memory 8, least squares by ridged normal
equations in float64, stop after 5 iterations without halving the best residual or at the floor
1e-11 alpha_{i-1}^2), then L-BFGS (memory 16) from the best point; `lbfgs` alone (memory 8);
descent on eps with L-BFGS (pairs with s.y <= 1e-10 |s||y| skipped, H0 = s.y/y.y) or plain
gradient directions; first trial step gamma0 = n / (2 sigma^2 a^2) for gradient steps, 1 for
L-BFGS steps; Armijo constant 1e-4; up to 30 halvings, then one restart along the gradient with
the memory cleared, then the image stalls; plain descent doubles the accepted step for its next
trial; eta bounds mean(r^2) / alpha_{i-1}^2. Vectors are float32 and every elementwise update is
evaluated in float64 and rounded once, dot products and losses are float64, as the engine's
Float32Array / number arithmetic does, so both follow the same path up to the model's own
float32 rounding.

The model is evaluated as the engine evaluates it: a descent point's loss and gradient come from
one fused evaluation (here: forward with autograd, then the backward of r), a line-search trial
is fused or forward-only (no_grad) by the engine's rule, p > (R - 1) / R with R this side's own
measured cost ratio and p the running acceptance rate (first and later trials apart, Laplace
prior). The rule changes which evaluations run, not the iterates.

Writes x_T as `<name>` and x*_i as `<name>/x_<i>` to --out, and per image and step the
iterations, residuals and model evaluations, the wall and CPU time of the inversion (after one
untimed warm-up forward and VJP), the plan, the weight checks and a torch-vs-onnxruntime check of
the forward and gradient graphs to --json.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from safetensors.torch import load_file, save_file

REPO = Path(__file__).resolve().parents[2]
# tools/ is not an installed package: the model definition is imported from the checkout.
sys.path.insert(0, str(REPO))

from tools.tiny_model.model import TinyConfig, TinyUNet  # noqa: E402

ARMIJO = 1e-4
MAX_BACKTRACKS = 30
PAIR_CURVATURE = 1e-10


# ---------------------------------------------------------------- model


def tiny_config(unet_config: dict) -> TinyConfig:
    """TinyConfig from the diffusers-style unet/config.json the export writes."""
    channels = tuple(unet_config["block_out_channels"])
    pre = unet_config.get("preciseinv_preconditioning", {"enabled": False, "sigma_data": 0.5})
    return TinyConfig(
        in_channels=unet_config["in_channels"], out_channels=unet_config["out_channels"],
        block_out_channels=channels, layers_per_block=unet_config["layers_per_block"],
        norm_num_groups=unet_config["norm_num_groups"],
        attention_heads=channels[-1] // unet_config["attention_head_dim"],
        mid_attention=unet_config["add_attention"], flip_sin_to_cos=unet_config["flip_sin_to_cos"],
        freq_shift=unet_config["freq_shift"], sample_size=unet_config["sample_size"],
        preconditioning=pre["enabled"], sigma_data=pre["sigma_data"])


def onnx_parameters(proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Torch parameter name -> value, from the graph's initializers.

    The TorchScript exporter keeps parameter names where a parameter feeds an op directly, but
    GroupNorm's affine (Mul/Add on [C, 1, 1] after InstanceNormalization) and nn.Linear weights
    folded into MatMul ([in, out]) become anonymous `onnx::` initializers; their node names
    (`/<module path>/Mul|Add|MatMul`) say which module they belong to.
    """
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    params = {name: value for name, value in inits.items() if not name.startswith("onnx::")}
    for node in proto.graph.node:
        anonymous = [i for i in node.input if i.startswith("onnx::") and i in inits]
        if not anonymous:
            continue
        scope = node.name.rsplit("/", 1)[0].strip("/").replace("/", ".")
        kind = node.name.rsplit("/", 1)[1]
        value = inits[anonymous[0]]
        if kind == "Mul":
            params[f"{scope}.weight"] = value.reshape(-1)
        elif kind == "Add":
            params[f"{scope}.bias"] = value.reshape(-1)
        elif kind == "MatMul":
            params[f"{scope}.weight"] = value.T
        else:
            raise ValueError(f"initializer {anonymous[0]} feeds {node.op_type} node {node.name}: no rule maps it to a parameter")
    return params


def graph_tables(proto: onnx.ModelProto, length: int) -> list[np.ndarray]:
    """Constant tensors of shape [length] (the per-timestep preconditioning tables)."""
    out = []
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            value = numpy_helper.to_array(node.attribute[0].t)
            if value.shape == (length,):
                out.append(value)
    return out


def load_model(model_dir: Path) -> tuple[TinyUNet, dict]:
    """The torch module with every parameter taken from unet/model.onnx; fails on any gap."""
    cfg = tiny_config(json.loads((model_dir / "unet" / "config.json").read_text()))
    model = TinyUNet(cfg)
    proto = onnx.load(str(model_dir / "unet" / "model.onnx"))
    found = onnx_parameters(proto)
    names = [name for name, _ in model.named_parameters()]
    missing = [k for k in names if k not in found]
    if missing:
        raise SystemExit(f"model.onnx has no value for {len(missing)} parameter(s): {', '.join(missing[:8])}")
    unused = sorted(set(found) - set(names))
    if unused:
        raise SystemExit(f"model.onnx initializers map to no parameter of TinyUNet: {', '.join(unused[:8])}")
    for name, param in model.named_parameters():
        if tuple(found[name].shape) != tuple(param.shape):
            raise SystemExit(f"{name}: model.onnx holds shape {list(found[name].shape)}, the module wants {list(param.shape)}")
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.array(found[name], dtype=np.float32)))
    # The c_in / c_skip / c_out buffers are recomputed by the module; they must be the graph's constants.
    tables = graph_tables(proto, 1000) if cfg.preconditioning else []
    for name in ("c_in", "c_skip", "c_out") if cfg.preconditioning else ():
        mine = getattr(model, name).numpy()
        if not any(np.array_equal(mine, t) for t in tables):
            raise SystemExit(f"preconditioning table {name} differs from every [1000] constant of model.onnx")
    model.eval().requires_grad_(False)
    return model, {"parameters": len(found), "preconditioningTablesMatch": cfg.preconditioning}


def onnx_check(model: TinyUNet, model_dir: Path, x0: torch.Tensor, timesteps: list[int]) -> dict | None:
    """torch against onnxruntime (Python) at x0 for each plan timestep: the forward of model.onnx
    and, where the folder has one, J^T u of its gradient graph against autograd with a seeded u.
    Relative numbers are ||torch - ort|| / ||torch||; None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3

    def session(name: str):
        return ort.InferenceSession(str(model_dir / "unet" / name), options, providers=["CPUExecutionProvider"])

    forward = session("model.onnx")
    vjp = session("model_vjp.onnx") if (model_dir / "unet" / "model_vjp.onnx").exists() else None
    u = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    worst = {"forwardMaxAbs": 0.0, "forwardRel": 0.0, "vjpRel": 0.0 if vjp else None}
    for t in timesteps:
        tt = torch.full((x0.shape[0],), float(t))
        feeds = {"sample": x0.numpy(), "timestep": tt.numpy()}
        xs = x0.clone().requires_grad_(True)
        with torch.enable_grad():
            out = model(xs, tt)
            (grad,) = torch.autograd.grad(out, xs, u)
        (theirs,) = forward.run(None, feeds)
        diff = out.detach().double() - torch.from_numpy(theirs).double()
        worst["forwardMaxAbs"] = max(worst["forwardMaxAbs"], float(diff.abs().max()))
        worst["forwardRel"] = max(worst["forwardRel"], float(diff.norm() / out.detach().double().norm()))
        if vjp:
            # The gated graph's switch, and its step objective switched off (zero mix).
            zeros = np.zeros(x0.shape, dtype=np.float32)
            extra = {"with_gradient": np.array(True), "objective_latent": zeros, "objective_target": zeros,
                     "objective_a": np.array(0.0), "objective_b": np.array(0.0), "objective_sigma": np.array(0.0),
                     "objective_mix": np.zeros(1)}
            known = {i.name for i in vjp.get_inputs()}
            (g,) = vjp.run(["grad_sample"], {**feeds, "grad_out_sample": u.numpy(), **{k: v for k, v in extra.items() if k in known}})
            rel = float((grad.double() - torch.from_numpy(g).double()).norm() / grad.double().norm())
            worst["vjpRel"] = max(worst["vjpRel"], rel)
    return {**worst, "timesteps": timesteps, "onnxruntime": ort.__version__}


# ---------------------------------------------------------------- DDIM plan (diffusers' formulas)


@dataclass(frozen=True)
class Step:
    timestep: int
    a: float
    b: float
    alpha: float
    sigma: float


def ddim_plan(config: dict, steps: int) -> list[Step]:
    """DDIMScheduler (eta 0, epsilon) as affine steps x_prev = a x + b eps, in denoising order.

    diffusers builds betas and alphas_cumprod as float32 tensors; here they are float64 (the same
    formulas), which is what an exactly affine step needs.
    """
    n = config["num_train_timesteps"]
    if config.get("trained_betas"):
        betas = np.asarray(config["trained_betas"], dtype=np.float64)
    elif config["beta_schedule"] == "linear":
        betas = np.linspace(config["beta_start"], config["beta_end"], n, dtype=np.float64)
    elif config["beta_schedule"] == "scaled_linear":
        betas = np.linspace(config["beta_start"] ** 0.5, config["beta_end"] ** 0.5, n, dtype=np.float64) ** 2
    else:
        raise SystemExit(f"beta_schedule {config['beta_schedule']!r} is not implemented here")
    if config["prediction_type"] != "epsilon":
        raise SystemExit(f"prediction_type {config['prediction_type']!r} is not implemented here")
    abar = np.cumprod(1.0 - betas)
    final = 1.0 if config["set_alpha_to_one"] else float(abar[0])
    spacing = config["timestep_spacing"]
    if spacing == "trailing":
        ts = np.round(np.arange(n, 0, -n / steps)).astype(np.int64) - 1
    elif spacing == "leading":
        ts = (np.arange(0, steps) * (n // steps)).round()[::-1].astype(np.int64) + config["steps_offset"]
    elif spacing == "linspace":
        ts = np.linspace(0, n - 1, steps).round()[::-1].astype(np.int64)
    else:
        raise SystemExit(f"timestep_spacing {spacing!r} is not implemented here")
    plan = []
    for t in (int(v) for v in ts):
        prev = t - n // steps  # DDIMScheduler.step: always this, not the next grid entry
        at = float(abar[t])
        ap = float(abar[prev]) if prev >= 0 else final
        # pred_x0 = (x - sqrt(1-at) eps) / sqrt(at); x_prev = sqrt(ap) pred_x0 + sqrt(1-ap) eps.
        st, sp, ct, cp = math.sqrt(at), math.sqrt(ap), math.sqrt(1 - at), math.sqrt(1 - ap)
        plan.append(Step(t, sp / st, cp - sp * ct / st, st, ct))
    return plan


# ---------------------------------------------------------------- float32 vectors, float64 arithmetic


def f32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32)


def d64(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float64)


def dot(u: torch.Tensor, v: torch.Tensor) -> float:
    return float(torch.dot(d64(u), d64(v)))


def mean_square(r: torch.Tensor) -> float:
    return float((d64(r) ** 2).sum()) / r.numel()


class Lbfgs:
    """Two-loop L-BFGS over the last `capacity` (s, y) pairs."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = []

    def push(self, s: torch.Tensor, y: torch.Tensor) -> bool:
        sy = dot(s, y)
        # Without positive curvature H would stop being positive definite.
        if not sy > PAIR_CURVATURE * math.sqrt(dot(s, s) * dot(y, y)):
            return False
        self.pairs.append((s, y, 1.0 / sy))
        if len(self.pairs) > self.capacity:
            self.pairs.pop(0)
        return True

    def clear(self) -> None:
        self.pairs.clear()

    def apply(self, g: torch.Tensor, initial_scale: float) -> torch.Tensor:
        q = g.clone()
        alphas = [0.0] * len(self.pairs)
        for i in range(len(self.pairs) - 1, -1, -1):
            s, y, rho = self.pairs[i]
            alphas[i] = rho * dot(s, q)
            q = f32(d64(q) - alphas[i] * d64(y))
        if self.pairs:
            s, y, _ = self.pairs[-1]
            scale = dot(s, y) / dot(y, y)
        else:
            scale = initial_scale
        q = f32(d64(q) * scale)
        for i, (s, y, rho) in enumerate(self.pairs):
            beta = rho * dot(y, q)
            q = f32(d64(q) + (alphas[i] - beta) * d64(s))
        return q


# ---------------------------------------------------------------- inversion


class Denoiser:
    """m(x, t) and J_m(x)^T r for one image's flat float32 latent."""

    def __init__(self, model: TinyUNet, shape: tuple[int, ...], dtype: torch.dtype):
        self.model = model
        self.shape = (1, *shape)
        self.dtype = dtype
        self.forward_evals = 0
        self.vjp_evals = 0
        self.seconds = {"forward": 0.0, "vjp": 0.0}

    def _t(self, t: int) -> torch.Tensor:
        return torch.full((1,), float(t), dtype=self.dtype)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, t: int) -> torch.Tensor:
        self.forward_evals += 1
        t0 = time.perf_counter()
        out = f32(self.model(x.view(self.shape).to(self.dtype), self._t(t)).reshape(-1))
        self.seconds["forward"] += time.perf_counter() - t0
        return out

    def vjp(self, x: torch.Tensor, t: int, r: torch.Tensor) -> torch.Tensor:
        self.vjp_evals += 1
        t0 = time.perf_counter()
        xs = x.view(self.shape).to(self.dtype, copy=True).requires_grad_(True)
        with torch.enable_grad():
            out = self.model(xs, self._t(t))
            (g,) = torch.autograd.grad(out, xs, r.view(self.shape).to(self.dtype))
        g = f32(g.reshape(-1))
        self.seconds["vjp"] += time.perf_counter() - t0
        return g


PRIOR_RATIO = 2.5


class TrialPolicy:
    """The engine's choice of fused or forward-only trials (methods/trial-policy.ts)."""

    def __init__(self):
        self.seconds = {"forward": 0.0, "gradient": 0.0}
        self.images = {"forward": 0, "gradient": 0}
        self.outcomes = {False: [0, 0], True: [0, 0]}  # later trial? -> [accepted, trials]

    def book(self, with_gradient: bool, seconds: float) -> None:
        kind = "gradient" if with_gradient else "forward"
        self.seconds[kind] += seconds
        self.images[kind] += 1

    def cost_ratio(self) -> float:
        if self.images["forward"] == 0 or self.images["gradient"] == 0 or not self.seconds["forward"] > 0:
            return PRIOR_RATIO
        return (self.seconds["gradient"] / self.images["gradient"]) / (self.seconds["forward"] / self.images["forward"])

    def acceptance(self, later: bool) -> float:
        accepted, trials = self.outcomes[later]
        return (accepted + 1) / (trials + 2)

    def record(self, later: bool, accepted: bool) -> None:
        self.outcomes[later][1] += 1
        if accepted:
            self.outcomes[later][0] += 1

    def fuse(self, later: bool) -> bool:
        r = self.cost_ratio()
        return self.acceptance(later) > (r - 1) / r


EVALUATION = {"mode": "fused"}


def objective(den: "Denoiser", policy: TrialPolicy, step: "Step", y: torch.Tensor, x: torch.Tensor,
              with_gradient: bool) -> tuple[float, torch.Tensor | None]:
    """mean(r^2) at x, and with `with_gradient` d loss / d eps = sigma (2/n) (a r + b J^T r), from one
    fused evaluation (forward with autograd, then the backward of r) or one no_grad forward. With
    `--evaluation two-run` the gradient takes a no_grad forward for r and then a forward with
    autograd and its backward, as the engine did before its fused objective graph."""
    n = x.numel()
    t0 = time.perf_counter()
    if with_gradient and EVALUATION["mode"] == "two-run":
        m = den.predict(x, step.timestep)
        r = f32(step.a * d64(x) + step.b * d64(m) - d64(y))
        jtr = den.vjp(x, step.timestep, r)
        grad = f32((step.sigma * (2 / n)) * (step.a * d64(r) + step.b * d64(jtr)))
    elif with_gradient:
        den.vjp_evals += 1
        xs = x.view(den.shape).to(den.dtype, copy=True).requires_grad_(True)
        with torch.enable_grad():
            out = den.model(xs, den._t(step.timestep))
            m = f32(out.detach().reshape(-1))
            r = f32(step.a * d64(x) + step.b * d64(m) - d64(y))
            (g,) = torch.autograd.grad(out, xs, r.view(den.shape).to(den.dtype))
        jtr = f32(g.reshape(-1))
        grad = f32((step.sigma * (2 / n)) * (step.a * d64(r) + step.b * d64(jtr)))
        den.seconds["vjp"] += time.perf_counter() - t0
    else:
        m = den.predict(x, step.timestep)
        r = f32(step.a * d64(x) + step.b * d64(m) - d64(y))
        grad = None
    policy.book(with_gradient, time.perf_counter() - t0)
    return mean_square(r), grad


def anderson_least_squares(columns: list[np.ndarray], g: np.ndarray) -> list[float]:
    """gamma minimising |g - sum_i gamma_i columns_i| by ridged normal equations (the engine's)."""
    m = len(columns)
    if m == 0:
        return []
    A = np.zeros((m, m))
    rhs = np.zeros(m)
    for i in range(m):
        rhs[i] = float(np.dot(columns[i], g))
        for l in range(i + 1):
            A[i, l] = A[l, i] = float(np.dot(columns[i], columns[l]))
    ridge = 1e-12 * float(np.trace(A)) / m
    if not ridge > 0:
        return [0.0] * m
    L = A.copy()
    for i in range(m):
        L[i, i] += ridge
    for j in range(m):
        d = L[j, j] - sum(L[j, k] * L[j, k] for k in range(j))
        d = math.sqrt(max(d, ridge))
        L[j, j] = d
        for i in range(j + 1, m):
            L[i, j] = (L[i, j] - sum(L[i, k] * L[j, k] for k in range(j))) / d
    z = np.zeros(m)
    for i in range(m):
        z[i] = (rhs[i] - sum(L[i, k] * z[k] for k in range(i))) / L[i, i]
    gamma = [0.0] * m
    for i in range(m - 1, -1, -1):
        gamma[i] = (z[i] - sum(L[k, i] * gamma[k] for k in range(i + 1, m))) / L[i, i]
    return gamma


class Anderson:
    """Anderson mixing of a fixed-point map's iterates x and updates g = F(x) - x (float64 history)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.dx: list[np.ndarray] = []
        self.dg: list[np.ndarray] = []
        self.last: tuple[np.ndarray, np.ndarray] | None = None

    def next(self, x: torch.Tensor, g: np.ndarray) -> torch.Tensor:
        xd = x.numpy().astype(np.float64)
        if self.last is not None:
            self.dx.append(xd - self.last[0])
            self.dg.append(g - self.last[1])
            if len(self.dx) > self.capacity:
                self.dx.pop(0)
                self.dg.pop(0)
        self.last = (xd, g)
        gamma = anderson_least_squares(self.dg, g)
        v = xd + g
        for i, c in enumerate(gamma):
            v = v - c * (self.dx[i] + self.dg[i])
        return torch.from_numpy(v.astype(np.float32))


MIXING_MEMORY = 8
PATIENCE = 5
FLOOR = 1e-11


def mix(den: "Denoiser", policy: TrialPolicy, step: "Step", y: torch.Tensor, x: torch.Tensor, r: torch.Tensor,
        alpha_target: float, max_iters: int) -> tuple[torch.Tensor, float, int]:
    """Anderson-mixed x <- (y - b m(x)) / a while it gains; returns the best point, its loss, iterations."""
    floor_loss = FLOOR * alpha_target * alpha_target
    loss = mean_square(r)
    best = (x, loss)
    since_halving, iterations = 0, 0
    mixer = Anderson(MIXING_MEMORY)
    while best[1] >= floor_loss and iterations < max_iters:
        x = mixer.next(x, -d64(r).numpy() / step.a)
        t0 = time.perf_counter()
        m = den.predict(x, step.timestep)
        policy.book(False, time.perf_counter() - t0)
        r = f32(step.a * d64(x) + step.b * d64(m) - d64(y))
        loss = mean_square(r)
        iterations += 1
        since_halving = 0 if loss < best[1] / 2 else since_halving + 1
        if loss < best[1]:
            best = (x, loss)
        if since_halving >= PATIENCE or not math.isfinite(loss):
            break
    return best[0], best[1], iterations


@dataclass
class StepResult:
    x: torch.Tensor
    iterations: int
    residual: float | None
    converged: bool


def ddim_step(den: Denoiser, step: Step, y: torch.Tensor) -> StepResult:
    m = den.predict(y, step.timestep)
    return StepResult(f32((d64(y) - step.b * d64(m)) / step.a), 1, None, False)


def preciseinv_step(den: Denoiser, policy: TrialPolicy, step: Step, y: torch.Tensor, x0: torch.Tensor, alpha_target: float,
                    eta: float, max_iters: int, descent: str, memory_size: int) -> StepResult:
    n = y.numel()
    a, b, alpha, sigma, t = step.a, step.b, step.alpha, step.sigma, step.timestep
    threshold = eta * alpha_target * alpha_target

    def x_of(eps: torch.Tensor) -> torch.Tensor:
        return f32(alpha * d64(x0) + sigma * d64(eps))

    def timed_predict(x: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        m = den.predict(x, t)
        policy.book(False, time.perf_counter() - t0)
        return m

    guess = f32((d64(y) - b * d64(timed_predict(y))) / a)
    x, loss, iterations = guess, None, 0
    if descent == "hybrid":
        r = f32(a * d64(guess) + b * d64(timed_predict(guess)) - d64(y))
        x, loss, iterations = mix(den, policy, step, y, guess, r, alpha_target, max_iters)
    eps = f32((d64(x) - alpha * d64(x0)) / sigma)
    gamma0 = n / (2 * sigma * sigma * a * a)  # Newton step of the loss with J = 0
    gamma = gamma0
    memory = Lbfgs(memory_size) if descent != "gradient" else None
    grad: torch.Tensor | None = None
    pending: tuple[torch.Tensor, torch.Tensor] | None = None
    stalled = False

    def take_gradient(g: torch.Tensor) -> None:
        nonlocal grad, pending
        grad = g
        if pending is not None and memory is not None:
            memory.push(pending[0], f32(d64(grad) - d64(pending[1])))
        pending = None

    def descending() -> bool:
        return not (loss is not None and loss < threshold) and iterations < max_iters and not stalled

    while descending():
        if grad is None:
            # A point accepted from a forward-only trial (or the start) gets loss and gradient in one fused evaluation.
            loss, g = objective(den, policy, step, y, x, True)
            take_gradient(g)
            if not descending():
                break
        if memory is not None and memory.pairs:
            d = -memory.apply(grad, gamma0)
            trial = 1.0
            if not dot(grad, d) < 0:  # rounding can spoil a positive-definite H's descent direction
                memory.clear()
                d, trial = -grad, gamma0
        else:
            d = -grad
            trial = gamma0 if memory is not None else gamma
        slope = dot(grad, d)
        halvings, restarted = 0, False
        while True:
            eps_t = f32(d64(eps) + trial * d64(d))
            x_t = x_of(eps_t)
            later = halvings > 0 or restarted
            fused = policy.fuse(later)
            loss_t, grad_t = objective(den, policy, step, y, x_t, fused)
            accepted = loss_t <= loss + ARMIJO * trial * slope
            policy.record(later, accepted)
            if accepted:
                taken = f32(d64(eps_t) - d64(eps))
                pending = (taken, grad) if memory is not None else None
                eps, x, loss, grad = eps_t, x_t, loss_t, None
                if grad_t is not None:
                    take_gradient(grad_t)
                if memory is None:
                    gamma = trial * 2
                iterations += 1
                break
            if halvings < MAX_BACKTRACKS:
                trial /= 2
                halvings += 1
            elif memory is not None and memory.pairs and not restarted:
                # The curvature pairs misled the search: forget them, retry along the gradient.
                memory.clear()
                d, trial, halvings, restarted = -grad, gamma0, 0, True
                slope = dot(grad, d)
            else:
                stalled = True
                iterations += 1
                break
    if loss is None:  # never descended (max-iters 0): the residual of the answer still counts
        loss, _ = objective(den, policy, step, y, x, False)
    return StepResult(x, iterations, loss / (alpha_target * alpha_target), loss < threshold)


def invert(den: Denoiser, policy: TrialPolicy, x0: torch.Tensor, plan: list[Step], args: argparse.Namespace) -> tuple[list[torch.Tensor], list[dict]]:
    steps = len(plan)
    current = x0
    trajectory, records = [], []
    for i in range(1, steps + 1):
        step = plan[steps - i]
        # Step i's target is x*_{i-1}: x_0 itself at i = 1, else the point denoising step i-1 starts from.
        alpha_target = 1.0 if i == 1 else plan[steps - i + 1].alpha
        f0, v0 = den.forward_evals, den.vjp_evals
        if args.method == "ddim":
            res = ddim_step(den, step, current)
        else:
            memory = args.memory if args.memory is not None else (16 if args.descent == "hybrid" else 8)
            res = preciseinv_step(den, policy, step, current, x0, alpha_target, args.eta, args.max_iters, args.descent, memory)
        current = res.x
        trajectory.append(current)
        records.append({"step": i, "timestep": step.timestep, "iterations": res.iterations, "residual": res.residual,
                        "converged": res.converged, "forwardEvals": den.forward_evals - f0, "vjpEvals": den.vjp_evals - v0})
    return trajectory, records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--x0", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=REPO / "models" / "tiny")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--method", choices=("ddim", "preciseinv"), default="preciseinv")
    ap.add_argument("--descent", choices=("hybrid", "lbfgs", "gradient"), default="hybrid")
    ap.add_argument("--eta", type=float, default=1e-4)
    ap.add_argument("--max-iters", type=int, default=200)
    # L-BFGS pairs; the engine's default: 16 after the hybrid's mixing, 8 for lbfgs alone.
    ap.add_argument("--memory", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--evaluation", choices=("fused", "two-run"), default="fused")
    # A control, not the reference: float64 network evaluations (outputs still rounded to float32)
    # change only the model's rounding, which shows how far that alone moves the result.
    ap.add_argument("--model-dtype", choices=("float32", "float64"), default="float32")
    args = ap.parse_args()
    if not args.eta > 0 or args.max_iters < 0 or (args.memory is not None and args.memory < 1) or args.steps < 1:
        raise SystemExit("need eta > 0, max-iters >= 0, memory >= 1, steps >= 1")
    EVALUATION["mode"] = args.evaluation
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    started = time.perf_counter()
    model, weights = load_model(args.model)
    plan = ddim_plan(json.loads((args.model / "scheduler" / "scheduler_config.json").read_text()), args.steps)
    inputs = {k: v for k, v in load_file(str(args.x0)).items()}
    if not inputs or any(v.dtype != torch.float32 for v in inputs.values()):
        raise SystemExit(f"{args.x0}: expected one or more float32 tensors")
    first = next(iter(inputs.values()))
    check = onnx_check(model, args.model, first.reshape(1, *first.shape[-3:]), [s.timestep for s in plan])
    dtype = torch.float64 if args.model_dtype == "float64" else torch.float32
    model.to(dtype)
    setup_seconds = time.perf_counter() - started

    tensors: dict[str, torch.Tensor] = {}
    images = {}
    # One policy for the run, as the engine keeps one per solver across images and steps.
    policy = TrialPolicy()
    for name, value in inputs.items():
        shape = tuple(value.shape[-3:])
        x0 = value.reshape(-1).contiguous()
        den = Denoiser(model, shape, dtype)
        # One untimed forward and VJP: first-call allocations are not part of the inversion's cost.
        den.predict(x0, plan[0].timestep)
        den.vjp(x0, plan[0].timestep, x0)
        den = Denoiser(model, shape, dtype)  # fresh counters and timers
        t0, c0 = time.perf_counter(), time.process_time()
        trajectory, records = invert(den, policy, x0, plan, args)
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        tensors[name] = trajectory[-1].view(shape).clone()  # safetensors refuses shared storage
        for i, xi in enumerate(trajectory, start=1):
            tensors[f"{name}/x_{i}"] = xi.view(shape).contiguous()
        images[name] = {"seconds": seconds, "cpuSeconds": cpu_seconds, "modelSeconds": den.seconds, "steps": records}

    save_file(tensors, str(args.out))
    args.json.write_text(json.dumps({
        "method": args.method, "descent": args.descent if args.method == "preciseinv" else None,
        "steps": args.steps, "eta": args.eta, "maxIters": args.max_iters, "memory": args.memory, "modelDtype": args.model_dtype,
        "threads": {"intraOp": torch.get_num_threads(), "interOp": torch.get_num_interop_threads()},
        "torch": torch.__version__, "weights": weights, "onnxCheck": check, "setupSeconds": setup_seconds,
        "plan": [s.__dict__ for s in plan], "images": images,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
